"""``python -m streamkit.demo [--host H] [--port P] [--data-dir D] [--fast]``:
serve the gallery with uvicorn."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m streamkit.demo", description="Serve the streamkit demo gallery."
    )
    parser.add_argument("--host", default="127.0.0.1", help="default: 127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="default: 8000")
    parser.add_argument("--data-dir", type=Path, default=None, help="for the generated files")
    parser.add_argument("--fast", action="store_true", help="small data, short delays")
    args = parser.parse_args(argv)

    import uvicorn

    from streamkit.demo import create_app

    print(f"streamkit demo gallery: http://{args.host}:{args.port}/", flush=True)
    uvicorn.run(
        create_app(args.data_dir, fast=args.fast),
        host=args.host,
        port=args.port,
        # Open streams (the ticker, the log tail) are cancelled after 2 s
        # on Ctrl-C, and end with their closing frame.
        timeout_graceful_shutdown=2,
    )


if __name__ == "__main__":
    main()
