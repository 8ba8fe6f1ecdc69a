"""Servers run as subprocesses by the tests: a free port, and waiting for
the server to listen on it (bounded)."""

from __future__ import annotations

import socket
import subprocess
import time


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_listening(
    port: int, process: subprocess.Popen[bytes], name: str, timeout: float = 15.0
) -> None:
    """Return once ``port`` accepts connections; fail the test if ``process``
    exits first or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            assert process.poll() is None, f"{name} exited with {process.returncode}"
            assert time.monotonic() < deadline, f"{name} did not start within {timeout} s"
            time.sleep(0.05)
