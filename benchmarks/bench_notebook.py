"""Notebook figures: the per-cell overhead of ``%%ecs_exec`` over the same cell run plainly.

Both run through ``InteractiveShell.run_cell`` in one in-process IPython session with the extension
loaded and its default SQLite store (``.ecs_notebook/lineage.db`` under a temp working directory).
Each measured cell is a new cell (its own name and source: registration and compilation included),
timed alone; the plain twin of each cell runs right before it, so both see the same machine noise.
The overhead at a point of the session is the median ``%%ecs_exec`` time minus the median plain
time over a window of cells, measured at the session's first cells and again after 500 cells (it
must not grow). Displays are captured (as a kernel would publish them), not printed.

    python benchmarks/run.py notebook [--quick]
    python benchmarks/bench_notebook.py [--quick]     # same, this module alone
"""

from __future__ import annotations

import atexit
import gc
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Row, format_table, write_json  # noqa: E402

from ecs_notebook import CallableRegistry, EntityRegistry  # noqa: E402
from ecs_notebook.testing import fresh_state  # noqa: E402

#: The issue's target: %%ecs_exec adds at most 2 ms to a small cell.
TARGET_MS = 2.0
LATE_CELL = 500
PLAIN = "plain run_cell"

SETUP = """
from ecs_notebook import Entity

class Sample(Entity):
    name: str
    value: float = 0.0

class Summary(Entity):
    label: str
    total: float = 0.0

s = Sample(name="s", value=1.0)
s.promote_to_root()
x = 2
"""


def _body(k: int) -> str:
    """A small cell: reads an entity and a plain value, makes a plain value and a new entity."""
    return f"total = x + {k}\nreport = Summary(label=s.name, total=s.value + x + {k})\n"


@contextmanager
def _session() -> Iterator[Any]:
    """An IPython session with the extension loaded, in a temp cwd, on fresh ecs_notebook state."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output
    from traitlets.config import Config

    old_cwd, old_env = os.getcwd(), {k: os.environ.get(k) for k in ("ECS_NOTEBOOK_STORE", "IPYTHONDIR")}
    main = sys.modules["__main__"]
    with tempfile.TemporaryDirectory(prefix="ecs-bench-notebook-") as tmp, fresh_state():
        os.environ.pop("ECS_NOTEBOOK_STORE", None)
        os.environ["IPYTHONDIR"] = str(Path(tmp) / "ipython")
        os.chdir(tmp)
        cfg = Config()
        cfg.HistoryManager.enabled = False
        InteractiveShell.clear_instance()
        shell = InteractiveShell.instance(config=cfg)
        try:
            with capture_output():
                shell.run_line_magic("load_ext", "ecs_notebook")
                result = shell.run_cell(SETUP)
                if not result.success:
                    raise RuntimeError(f"setup cell failed: {result.error_in_exec!r}")
                yield shell
        finally:
            shell.run_line_magic("unload_ext", "ecs_notebook")
            atexit.unregister(shell.atexit_operations)
            InteractiveShell.clear_instance()
            sys.modules["__main__"] = main
            os.chdir(old_cwd)
            for k, v in old_env.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def _timed(shell: Any, source: str) -> float:
    t0 = time.perf_counter()
    result = shell.run_cell(source)
    elapsed = time.perf_counter() - t0
    if not result.success:
        raise RuntimeError(f"cell failed: {result.error_in_exec!r}\n{source}")
    return elapsed


class _Cells:
    """Runs new cells in order, numbering the %%ecs_exec ones as the session goes on."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.count = 0  # %%ecs_exec cells run so far

    def pair(self) -> tuple[float, float]:
        """One new cell, plainly and as %%ecs_exec; returns (ecs seconds, plain seconds)."""
        self.count += 1
        k = self.count
        plain_s = _timed(self.shell, _body(k))
        ecs_s = _timed(self.shell, f"%%ecs_exec step_{k}\n{_body(k)}")
        return ecs_s, plain_s

    def window(self, n: int) -> tuple[float, float, int]:
        """Medians over ``n`` new cells: (ecs seconds, plain seconds, number of the first cell)."""
        first = self.count + 1
        gc.collect()
        pairs = [self.pair() for _ in range(n)]
        return statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs), first

    def rerun(self, n: int) -> tuple[float, float]:
        """Medians over ``n`` re-runs of one unchanged cell (its function is already registered)."""
        k = self.count
        source = f"%%ecs_exec step_{k}\n{_body(k)}"
        gc.collect()
        ecs = [_timed(self.shell, source) for _ in range(n)]
        plain = [_timed(self.shell, _body(k)) for _ in range(n)]
        return statistics.median(ecs), statistics.median(plain)


def _overhead_row(figure: str, n: int, ecs_s: float, plain_s: float, note: str = "") -> Row:
    return Row(
        figure,
        n,
        (ecs_s - plain_s) * 1e3,
        "ms",
        plain_s * 1e3,
        PLAIN,
        TARGET_MS,
        f"<= {TARGET_MS:g} ms over plain",
        note=f"%%ecs_exec cell {ecs_s * 1e3:.2f} ms" + (f"; {note}" if note else ""),
    )


def run(quick: bool = False) -> list[Row]:
    """Measure the notebook figures; ``quick`` uses smaller windows (the session still reaches cell 500)."""
    window = 10 if quick else 25
    with _session() as shell:
        cells = _Cells(shell)
        cold_ecs, cold_plain = cells.pair()  # cell 1: first registration, first output model
        early_ecs, early_plain, early_first = cells.window(window)
        while cells.count < LATE_CELL - 1:
            cells.pair()
        late_ecs, late_plain, late_first = cells.window(window)
        rerun_ecs, rerun_plain = cells.rerun(window)
        counts = EntityRegistry.store.counts()
        functions = len(CallableRegistry.list())
    early = (early_ecs - early_plain) * 1e3
    late = (late_ecs - late_plain) * 1e3
    return [
        Row(
            "%%ecs_exec overhead, small cell: cell 1 (cold)",
            1,
            (cold_ecs - cold_plain) * 1e3,
            "ms",
            cold_plain * 1e3,
            PLAIN,
            note="first cell of the session: one sample, first-use costs included",
        ),
        _overhead_row(
            f"%%ecs_exec overhead, small new cell: cells {early_first}-{early_first + window - 1}", early_first, early_ecs, early_plain
        ),
        _overhead_row(
            f"  same, cells {late_first}-{late_first + window - 1}",
            late_first,
            late_ecs,
            late_plain,
            note=f"{functions} functions, {counts.get('versions', 0):,} versions, {counts.get('executions', 0):,} executions in the store",
        ),
        Row(
            f"  growth: overhead at cell {late_first} vs cell {early_first}",
            late_first,
            late,
            "ms",
            early,
            f"overhead at cell {early_first}",
            max(1.5 * early, early + 0.25),
            "<= 1.5x (no growth)",
        ),
        _overhead_row(f"%%ecs_exec overhead, re-run of an unchanged cell (cell {cells.count})", cells.count, rerun_ecs, rerun_plain),
    ]


if __name__ == "__main__":
    quick = "--quick" in sys.argv[1:]
    t0 = time.perf_counter()
    rows = run(quick=quick)
    seconds = round(time.perf_counter() - t0, 2)
    path = write_json("notebook-quick" if quick else "notebook", rows, {"quick": quick, "seconds": seconds})
    print(format_table(rows))
    print(f"\n{len(rows)} figures in {seconds:.1f} s -> {path}", file=sys.stderr)
