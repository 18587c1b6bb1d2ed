"""`python -m gateway.export_schema [--check]`: write (or check) `gateway/schema.graphql` from the code."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gateway.schema import build_schema

SDL_PATH = Path(__file__).with_name("schema.graphql")


def sdl() -> str:
    return build_schema().as_str().rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the file differs from the code")
    parser.add_argument("--output", type=Path, default=SDL_PATH)
    args = parser.parse_args(argv)
    text = sdl()
    if args.check:
        if not args.output.exists() or args.output.read_text() != text:
            sys.stderr.write(f"{args.output} is out of date: run python -m gateway.export_schema\n")
            return 1
        return 0
    args.output.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
