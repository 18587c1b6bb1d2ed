"""`python -m bench` — measure the platform beside its floors; `--smoke` for the tiny sizes CI runs.

Prints a table and writes the results as JSON (default: bench/results/<UTC time>.json for a full run,
bench/results/smoke.json.tmp for a smoke run, which git ignores).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from bench.run import ALL, execute, say
from bench.sizes import FULL, SMOKE

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: every scenario in about a minute")
    parser.add_argument("--out", type=Path, help="where to write the results JSON")
    parser.add_argument("--only", help=f"comma-separated scenarios (default all: {','.join(ALL)})")
    parser.add_argument("--keep-data", action="store_true", help="keep the temporary data and logs")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="change one size of bench/sizes.py, e.g. --set scale_large=20000 (the mode is then marked *)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="sample the processes with py-spy during each scenario (figures then include its overhead)",
    )
    args = parser.parse_args(argv)
    sizes = (SMOKE if args.smoke else FULL).with_overrides(args.set)
    only = set(args.only.split(",")) if args.only else set(ALL)
    unknown = only - set(ALL)
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.out or (RESULTS / "smoke.json.tmp" if args.smoke else RESULTS / f"{stamp}.json")
    profile_dir = out.parent / "profiles" / out.stem if args.profile else None
    doc = execute(sizes, out, only, keep_data=args.keep_data, profile_dir=profile_dir, say=say)
    return 1 if doc["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
