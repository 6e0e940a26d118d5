"""Shared benchmark helpers: timing (median of repeats), result rows, the printed table, JSON output.

Every figure is a :class:`Row` holding the measured value beside a baseline measured in the same run
(the machines are noisy, so only same-run ratios are comparable) and, where DESIGN.md A10 sets one,
the target.
"""

from __future__ import annotations

import gc
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"

SCALE = {"s": 1.0, "ms": 1e3, "µs": 1e6, "ns": 1e9}


@dataclass
class Row:
    """One measured figure."""

    figure: str
    n: int | None
    value: float
    unit: str
    baseline: float | None = None
    baseline_name: str = ""
    target: float | None = None
    target_text: str = ""
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        return self.value / self.baseline

    @property
    def meets_target(self) -> bool | None:
        if self.target is None:
            return None
        return self.value <= self.target

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ratio"] = self.ratio
        d["meets_target"] = self.meets_target
        return d


def median_time(
    fn: Callable[[Any], object],
    *,
    setup: Callable[[], Any] | None = None,
    repeats: int = 5,
    number: int = 1,
) -> float:
    """Return the median over ``repeats`` of the seconds one call of ``fn`` takes.

    ``setup()`` runs before each repeat, outside the timing; its result is passed to ``fn``. Each
    repeat times ``number`` back-to-back calls (for calls too short to time alone) and the garbage
    collector is run before it, so garbage from one repeat is not collected inside the next.
    """
    times = []
    for _ in range(repeats):
        arg = setup() if setup is not None else None
        gc.collect()
        t0 = time.perf_counter()
        for _ in range(number):
            fn(arg)
        times.append((time.perf_counter() - t0) / number)
    return statistics.median(times)


def calls_per_repeat(fn: Callable[[], object], budget: float = 0.02) -> int:
    """How many calls of ``fn`` fill about ``budget`` seconds (at least 1)."""
    t0 = time.perf_counter()
    fn()
    one = max(time.perf_counter() - t0, 1e-7)
    return max(1, int(budget / one))


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "B":
        return f"{value:,.0f} B"
    if value >= 100:
        return f"{value:,.0f} {unit}"
    if value >= 10:
        return f"{value:.1f} {unit}"
    return f"{value:.2f} {unit}"


def format_table(rows: Iterable[Row]) -> str:
    """Return the rows as one aligned text table."""
    header = ["figure", "N", "value", "baseline", "x baseline", "target", "ok"]
    lines = []
    for r in rows:
        ratio = r.ratio
        ok = r.meets_target
        lines.append(
            [
                r.figure,
                "-" if r.n is None else f"{r.n:,}",
                _fmt(r.value, r.unit),
                f"{_fmt(r.baseline, r.unit)} ({r.baseline_name})" if r.baseline is not None else "-",
                "-" if ratio is None else f"{ratio:.2f}",
                r.target_text or ("-" if r.target is None else _fmt(r.target, r.unit)),
                "" if ok is None else ("yes" if ok else "NO"),
            ]
        )
    widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h) for i, h in enumerate(header)]
    right = {1, 2, 4}

    def render(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))
        ).rstrip()

    out = [render(header), render(["-" * w for w in widths])]
    out.extend(render(line) for line in lines)
    return "\n".join(out)


def environment() -> dict[str, Any]:
    """What the figures were measured on."""
    import pydantic

    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "machine": platform.machine(),
        "platform": platform.platform(),
        "pydantic": pydantic.VERSION,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def write_json(name: str, rows: list[Row], meta: dict[str, Any]) -> Path:
    """Write ``results/<name>.json`` and return its path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {"name": name, **meta, "environment": environment(), "rows": [r.as_dict() for r in rows]}
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
    return path
