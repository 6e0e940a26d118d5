"""Run every ``benchmarks/bench_*.py`` module, print one table, write ``results/<name>.json``.

    python benchmarks/run.py            # full run (medians of 7 repeats)
    python benchmarks/run.py --quick    # fewer repeats, well under a minute
    python benchmarks/run.py core       # only bench_core.py

Each module exposes ``run(quick: bool) -> list[Row]``. Results go to ``results/<name>.json`` (``<name>``
is the module name without ``bench_``; ``-quick`` is appended for quick runs). Figures are printed,
never asserted: the tests do not depend on timings.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def discover(only: list[str]) -> list[str]:
    names = sorted(p.stem for p in HERE.glob("bench_*.py"))
    if only:
        wanted = {o.removeprefix("bench_") for o in only}
        names = [n for n in names if n.removeprefix("bench_") in wanted]
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("modules", nargs="*", help="bench modules to run (default: all), e.g. core")
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(HERE))
    from _common import Row, format_table, write_json

    modules = discover(args.modules)
    if not modules:
        print(f"no benchmark modules match {args.modules}", file=sys.stderr)
        return 2
    all_rows: list[Row] = []
    started = time.perf_counter()
    for name in modules:
        t0 = time.perf_counter()
        module = importlib.import_module(name)
        rows = module.run(quick=args.quick)
        seconds = time.perf_counter() - t0
        short = name.removeprefix("bench_")
        path = write_json(
            f"{short}-quick" if args.quick else short, rows, {"quick": args.quick, "seconds": round(seconds, 2)}
        )
        print(f"{name}: {len(rows)} figures in {seconds:.1f} s -> {path.relative_to(HERE.parent)}", file=sys.stderr)
        all_rows += rows
    print(format_table(all_rows))
    print(f"\n{len(all_rows)} figures in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
