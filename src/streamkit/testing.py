"""Test streaming endpoints for real: a uvicorn server in a thread, and clients
that read N items of an endless stream and hang up.

Needs the ``testing`` extra (``pip install "streamkit[testing]"``: uvicorn and
httpx). In-process test clients read a whole response body before returning,
which never happens for an endless stream; these helpers use a real server on
127.0.0.1 and a real HTTP client instead.

Example::

    from streamkit.testing import read_sse, run_server

    def test_ticks_resume_after_the_last_event_id():
        with run_server(app) as base_url:
            events = read_sse(f"{base_url}/ticks", 3, headers={"Last-Event-ID": "41"})
        assert [e.id for e in events] == ["42", "43", "44"]

Running a server
----------------

:func:`run_server` starts uvicorn in a background thread (with its own asyncio
event loop) on a socket it binds itself to ``127.0.0.1:0``, so the kernel picks
a free port and nothing can take it between choosing and listening. It yields
the base URL once the server accepts connections and stops the server when the
block exits, with a bounded wait at every step: a broken app or a stuck
connection makes the test fail with a clear message rather than hang.

Errors are not lost in the background thread: an exception escaping uvicorn
(e.g. the app cannot be loaded) is re-raised in the test, and by default an
exception escaping the ASGI app, which uvicorn only logs, fails the test when
the block exits (pass ``fail_on_app_error=False`` to tests that provoke one).

Example::

    with run_server(app) as base_url, httpx.Client(base_url=base_url, timeout=10) as client:
        assert client.get("/").status_code == 200
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

import uvicorn
from starlette.types import ASGIApp

from streamkit._formats.jsonl import JSONLDecoder
from streamkit._formats.sse import ServerSentEvent
from streamkit._formats.sse_decoder import SSEDecoder

__all__ = ["ServerError", "read_jsonl", "read_sse", "run_server"]

#: Seconds to wait for the server to accept connections.
STARTUP_TIMEOUT: Final = 10.0
#: Seconds open responses get to finish once shutdown starts; after that
#: uvicorn cancels the tasks still running them.
GRACEFUL_SHUTDOWN_TIMEOUT: Final = 5
#: Seconds to wait for the server thread to end after asking it to stop
#: (covers the graceful period above); a second wait of the same length
#: follows a forced exit.
SHUTDOWN_TIMEOUT: Final = 15.0

_HOST: Final = "127.0.0.1"


class ServerError(RuntimeError):
    """The test server failed to start, failed while running or did not stop."""


class _Server(uvicorn.Server):
    """A uvicorn server that signals when it is ready or has given up."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()
        self.error: BaseException | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self.ready.set()

    def run_in_thread(self, sock: socket.socket) -> None:
        try:
            self.run(sockets=[sock])
        except BaseException as exc:  # incl. the SystemExit uvicorn uses for startup failures
            self.error = exc
        finally:
            self.ready.set()  # unblock the starting thread whatever happened


class _ErrorCollector(logging.Handler):
    """Collects the ERROR records that one server thread logs to ``uvicorn.error``."""

    def __init__(self, thread_name: str) -> None:
        super().__init__(level=logging.ERROR)
        self.thread_name = thread_name
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.threadName == self.thread_name:
            self.messages.append(self.format(record))


@contextlib.contextmanager
def run_server(
    app: ASGIApp,
    *,
    startup_timeout: float = STARTUP_TIMEOUT,
    shutdown_timeout: float = SHUTDOWN_TIMEOUT,
    fail_on_app_error: bool = True,
    **config: Any,
) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port; yield its base URL.

    Args:
        app: the ASGI application.
        startup_timeout: seconds to wait for the server to start.
        shutdown_timeout: seconds to wait for it to stop (twice, the second
            time after forcing it).
        fail_on_app_error: raise :class:`ServerError` on exit if uvicorn logged
            an error (an exception from the app, a response left incomplete,
            a task cancelled at shutdown) while the block ran without failing.
        config: further :class:`uvicorn.Config` arguments, overriding the
            defaults here (e.g. ``http="h11"``).

    Raises:
        ServerError: the server did not start in time, raised an exception,
            did not stop in time, or (see ``fail_on_app_error``) logged an error.
    """
    options: dict[str, Any] = {
        "log_level": "warning",
        # Do not let uvicorn run logging.dictConfig on every start: its records
        # then propagate to the root logger, where pytest captures and reports
        # them, and no handler is left holding a stream pytest has closed.
        "log_config": None,
        # As uvicorn's command line: the app's lifespan runs (its startup
        # work, background tasks), and is skipped if the app has none.
        "lifespan": "auto",
        # The tests need no websockets; "auto" would import whichever
        # websockets library is installed, and some versions warn on import.
        "ws": "none",
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_TIMEOUT,
    }
    options.update(config)
    server = _Server(uvicorn.Config(app, **options))
    uvicorn_logger = logging.getLogger("uvicorn.error")
    collector: _ErrorCollector | None = None

    # IPPROTO_TCP, not the default 0: asyncio sets TCP_NODELAY only on accepted
    # sockets whose proto is IPPROTO_TCP (what getaddrinfo gives when uvicorn
    # binds itself). Without it, Nagle's algorithm meets the client's delayed
    # ACK and each small write after the first waits about 40 ms.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    thread: threading.Thread | None = None
    try:
        sock.bind((_HOST, 0))
        sock.listen()  # connections queue from now on, even before uvicorn serves
        port: int = sock.getsockname()[1]
        name = f"uvicorn-test-server-{port}"
        collector = _ErrorCollector(name)
        uvicorn_logger.addHandler(collector)
        thread = threading.Thread(
            target=server.run_in_thread,
            args=(sock,),
            name=name,
            daemon=True,  # a server that never stops must not keep pytest alive
        )
        thread.start()

        if not server.ready.wait(startup_timeout):
            raise ServerError(f"uvicorn did not start within {startup_timeout} s")
        if not server.started:
            raise ServerError(
                "uvicorn failed to start"
                + (f": {server.error!r}" if server.error is not None else "")
                + "".join(f"\n{message}" for message in collector.messages)
            ) from server.error

        body_failed = False
        try:
            yield f"http://{_HOST}:{port}"
        except BaseException:
            body_failed = True
            raise
        finally:
            running, thread = thread, None
            _stop(server, running, shutdown_timeout)
        if server.error is not None:
            raise ServerError(f"uvicorn failed: {server.error!r}") from server.error
        if fail_on_app_error and collector.messages and not body_failed:
            raise ServerError(
                "uvicorn logged errors while serving the test:\n" + "\n".join(collector.messages)
            )
    finally:
        try:
            if thread is not None:  # startup failed or timed out
                _stop(server, thread, shutdown_timeout)
        finally:
            if collector is not None:
                uvicorn_logger.removeHandler(collector)
            sock.close()  # uvicorn closes it on a clean shutdown; closing twice is harmless


def _stop(server: _Server, thread: threading.Thread, timeout: float) -> None:
    server.should_exit = True
    thread.join(timeout)
    if thread.is_alive():
        # Stop waiting for open connections and background tasks.
        server.force_exit = True
        thread.join(timeout)
        if thread.is_alive():
            raise ServerError(f"uvicorn did not stop within {2 * timeout} s")


def _read(
    url: str,
    count: int,
    feed: Callable[[bytes], list[Any]],
    *,
    method: str,
    headers: Mapping[str, str] | None,
    timeout: float,
) -> list[Any]:
    import httpx

    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    items: list[Any] = []
    deadline = time.monotonic() + timeout
    with httpx.stream(method, url, headers=headers, timeout=timeout) as response:
        response.raise_for_status()
        for chunk in response.iter_bytes():
            items.extend(feed(chunk))
            if len(items) >= count:
                break  # hang up, as a browser tab closing would
            if time.monotonic() > deadline:
                raise TimeoutError(f"read {len(items)} of {count} items in {timeout} s")
    if len(items) < count:
        raise AssertionError(f"the stream ended after {len(items)} of {count} items")
    return items[:count]


def read_sse(
    url: str,
    count: int,
    *,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    timeout: float = 10.0,
) -> list[ServerSentEvent]:
    """Read the first ``count`` Server-Sent Events from ``url``, then hang up.

    Heartbeats and comments are not events. Raises ``httpx.HTTPStatusError``
    for an error status, ``TimeoutError`` if ``count`` events take longer than
    ``timeout`` seconds, and ``AssertionError`` if the stream ends first.
    """
    return _read(url, count, SSEDecoder().feed, method=method, headers=headers, timeout=timeout)


def read_jsonl(
    url: str,
    count: int,
    *,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    timeout: float = 10.0,
) -> list[Any]:
    """Read the first ``count`` JSON Lines values from ``url``, then hang up
    (blank heartbeat lines are skipped). Raises as :func:`read_sse` does."""
    return _read(url, count, JSONLDecoder().feed, method=method, headers=headers, timeout=timeout)
