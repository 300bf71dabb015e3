"""`python -m minibase.sandbox --host 127.0.0.1 --port 9000`: serve a standalone sandbox."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from minibase.sandbox.app import serve_sandbox


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m minibase.sandbox", description="Serve the fake mini-program platforms."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=9000, help="port (default 9000)")
    args = parser.parse_args(argv)
    serve_sandbox(args.host, args.port)


if __name__ == "__main__":
    main()
