"""Recorded cells end to end (DESIGN A10 cell and value rows), each beside the plain cell in the same session.

Through ``InteractiveShell.run_cell`` with the extension loaded and its default SQLite store (temp cwd):

- a small cell under ``%ecs_record on`` at cells 2-26 and after 500 cells (``%%ecs_exec`` is in
  bench_notebook.py): <= 2 ms over plain, flat;
- an 8M-row x 3-column DataFrame (~200 MB): its first recording (<= 0.6 s); a cell reading it
  unchanged (<= 40 ms over plain, 0 bytes of it stored again, peak memory <= plain + 10 MB, traced with
  tracemalloc, which numpy reports its buffers to); the same cell changing one column in place
  (<= 200 ms over plain, store growth <= 1.2 x the column); ``get`` of it in a new process (<= 0.5 s,
  checked bit-exact);
- notebooks/data_science.ipynb executed by nbclient, every cell recorded, beside the same cells without
  the magic lines (<= 1.3 x).

    python benchmarks/run.py cells [--quick]      # --quick: 1M rows, fewer cells
    python benchmarks/bench_cells.py [--quick]
"""

from __future__ import annotations

import gc
import json
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Row, format_table, write_json  # noqa: E402
from bench_notebook import _session, _timed  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PLAIN = "plain run_cell"


def _stored_bytes(shell: Any) -> int:
    from ecs_notebook import EntityRegistry

    store = EntityRegistry.store
    store.checkpoint()  # the records in the .db file itself (not in the WAL, whose checkpoints come when they come)
    return sum(size for size, _ in store.part_sizes().values()) + store.path.stat().st_size


def _record_mode(shell: Any, window: int) -> list[Row]:
    _timed(shell, "%ecs_record on")
    k = 0

    def pair() -> tuple[float, float]:
        nonlocal k
        k += 1
        body = f"total = x + {k}\nreport = Summary(label=s.name, total=s.value + x + {k})\n"
        _timed(shell, "%ecs_record off")
        plain = _timed(shell, body)
        _timed(shell, "%ecs_record on")
        return _timed(shell, body), plain

    def medians(n: int) -> tuple[float, float, int]:
        first = k + 1
        gc.collect()
        pairs = [pair() for _ in range(n)]
        return statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs), first

    early_rec, early_plain, early_first = medians(window)
    while k < 500:
        pair()
    late_rec, late_plain, late_first = medians(window)
    _timed(shell, "%ecs_record off")
    return [
        Row(
            f"%ecs_record on overhead, small cell: cells {early_first}-{early_first + window - 1}",
            early_first,
            (early_rec - early_plain) * 1e3,
            "ms",
            early_plain * 1e3,
            PLAIN,
            2.0,
            "<= 2 ms over plain",
        ),
        Row(
            f"  same, cells {late_first}-{late_first + window - 1}",
            late_first,
            (late_rec - late_plain) * 1e3,
            "ms",
            late_plain * 1e3,
            PLAIN,
            2.0,
            "<= 2 ms over plain",
        ),
    ]


def _frame_rows(shell: Any, rows: int, repeats: int) -> tuple[list[Row], str, str]:
    ns = shell.user_ns
    _timed(
        shell,
        f"import numpy as np, pandas as pd\nrng = np.random.default_rng(0)\nn = {rows}\n"
        "df = pd.DataFrame({'a': rng.random(n), 'b': rng.integers(0, 100, n), 'c': rng.random(n)})",
    )
    frame_mb = ns["df"].memory_usage(index=True, deep=False).sum() / 1e6
    column = ns["df"]["a"].nbytes
    first = _timed(shell, "%%ecs_exec adopt --in df\npass")  # the first recording of df (read: "defined outside")
    cell = "m = df.groupby('b')['a'].mean()"
    _timed(shell, cell)  # warm pandas' groupby
    plain_t, rec_t, plain_peak, rec_peak = [], [], [], []
    before = _stored_bytes(shell)
    for _ in range(repeats):  # times, without tracing (tracemalloc slows every allocation down)
        gc.collect()
        plain_t.append(_timed(shell, cell))
        gc.collect()
        rec_t.append(_timed(shell, f"%%ecs_exec read\n{cell}"))
    for _ in range(2):  # peaks, traced
        gc.collect()
        tracemalloc.start()
        _timed(shell, cell)
        plain_peak.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        gc.collect()
        tracemalloc.start()
        _timed(shell, f"%%ecs_exec read\n{cell}")
        rec_peak.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    grew_reading = _stored_bytes(shell) - before
    change = "df['a'] = df['a'] * 1.5"
    plain_change = statistics.median(_timed(shell, change) for _ in range(repeats))
    _timed(shell, f"%%ecs_exec scale\n{change}")  # records the plain runs' changes ("changed outside recorded cells") first
    before = _stored_bytes(shell)
    rec_change = statistics.median(_timed(shell, f"%%ecs_exec scale\n{change}") for _ in range(repeats))
    grew_change = (_stored_bytes(shell) - before) / repeats
    from ecs_notebook import ref

    vid = str(ref(ns["df"]))
    store_url = f"sqlite:///{Path('.ecs_notebook/lineage.db').resolve()}"
    plain_ms, rec_ms = statistics.median(plain_t) * 1e3, statistics.median(rec_t) * 1e3
    out = [
        Row(f"first recording of a {frame_mb:.0f} MB DataFrame ({rows:,} x 3)", rows, first, "s", None, "", 0.6, "<= 0.6 s"),
        Row(
            "  a cell reading it unchanged (groupby mean)",
            rows,
            rec_ms - plain_ms,
            "ms",
            plain_ms,
            "plain cell",
            40.0,
            "<= 40 ms over plain",
            note=f"recorded cell {rec_ms:.0f} ms",
        ),
        Row(
            "  store growth over those cells (the frame is not stored again)",
            repeats,
            grew_reading,
            "B",
            None,
            "",
            64_000 * repeats,
            "only the cells' small results",
            note="parts + database file",
        ),
        Row(
            "  peak memory of that cell",
            rows,
            (statistics.median(rec_peak) - statistics.median(plain_peak)) / 1e6,
            "MB",
            statistics.median(plain_peak) / 1e6,
            "plain cell's peak",
            10.0,
            "<= plain + 10 MB",
        ),
        Row(
            "  the same cell changing one column in place",
            rows,
            (rec_change - plain_change) * 1e3,
            "ms",
            plain_change * 1e3,
            "plain cell",
            200.0,
            "<= 200 ms over plain",
        ),
        Row(
            "  store growth per such change",
            rows,
            grew_change,
            "B",
            float(column),
            "the column's raw size",
            1.2 * column,
            "<= 1.2 x the column",
        ),
    ]
    return out, store_url, vid


_GET = """
import sys, time, json
t0 = time.perf_counter()
import ecs_notebook
ecs_notebook.connect(sys.argv[1])
t1 = time.perf_counter()
v = ecs_notebook.get(f"@{sys.argv[2]}.value")
t2 = time.perf_counter()
print(json.dumps({"get": t2 - t1, "import_connect": t1 - t0, "fp": __import__("ecs_notebook.core.values", fromlist=["x"]).fingerprint(v),
                  "dtypes": [str(d) for d in v.dtypes]}))
"""


def _get_new_process(url: str, vid: str, expected_fp: str, dtypes: list[str]) -> Row:
    proc = subprocess.run([sys.executable, "-c", _GET, url, vid], capture_output=True, text=True, timeout=300, check=True)
    got = json.loads(proc.stdout)
    exact = got["fp"] == expected_fp and got["dtypes"] == dtypes
    return Row(
        "  get() of it in a new process",
        None,
        got["get"],
        "s",
        got["import_connect"],
        "import + connect",
        0.5,
        "<= 0.5 s",
        note="bit-exact (same fingerprint and dtypes)" if exact else "NOT EXACT",
    )


def _notebook_rows(quick: bool) -> list[Row]:
    import nbclient
    import nbformat
    from nbclient.util import run_sync

    source = ROOT / "notebooks" / "data_science.ipynb"
    nb = nbformat.read(source, as_version=4)
    plain = nbformat.read(source, as_version=4)
    cells = []
    for c in plain.cells:
        if c.cell_type != "code" or "lineage" in c.metadata.get("tags", []):
            continue
        c.source = "\n".join(ln for ln in c.source.splitlines() if not ln.startswith(("%%ecs_exec", "%load_ext ecs_notebook", "%ecs_")))
        cells.append(c)
    plain.cells = cells
    nb.cells = [c for c in nb.cells if "lineage" not in c.metadata.get("tags", [])]

    def run(notebook: Any) -> float:
        with tempfile.TemporaryDirectory() as tmp:
            client = nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": tmp}})
            with client.setup_kernel():
                # imports are not the question: both kernels import the libraries first
                run_sync(client.kc.execute_interactive)("import pandas, sklearn, matplotlib.pyplot", timeout=120)
                t0 = time.perf_counter()
                for index, cell in enumerate(notebook.cells):
                    client.execute_cell(cell, index)
                return time.perf_counter() - t0

    repeats = 1 if quick else 3
    plain_s = statistics.median(run(plain) for _ in range(repeats))
    rec_s = statistics.median(run(nb) for _ in range(repeats))
    return [
        Row(
            "notebooks/data_science.ipynb, every cell recorded (nbclient)",
            len(plain.cells),
            rec_s,
            "s",
            plain_s,
            "the same cells plain",
            1.3 * plain_s,
            "<= 1.3 x plain",
        )
    ]


def run(quick: bool = False) -> list[Row]:
    rows_n = 1_000_000 if quick else 8_000_000
    window = 10 if quick else 25
    out: list[Row] = []
    with _session() as shell:
        out += _record_mode(shell, window)
    with _session() as shell:
        frame_rows, url, vid = _frame_rows(shell, rows_n, 3 if quick else 5)
        from ecs_notebook.core.values import fingerprint

        df = shell.user_ns["df"]
        expected, dtypes = fingerprint(df), [str(d) for d in df.dtypes]
        from ecs_notebook import EntityRegistry

        EntityRegistry.store.checkpoint()
        out += frame_rows
        out.append(_get_new_process(url, vid, expected, dtypes))
    out += _notebook_rows(quick)
    return out


if __name__ == "__main__":
    quick = "--quick" in sys.argv[1:]
    t0 = time.perf_counter()
    rows = run(quick=quick)
    seconds = round(time.perf_counter() - t0, 2)
    path = write_json("cells-quick" if quick else "cells", rows, {"quick": quick, "seconds": seconds})
    print(format_table(rows))
    print(f"\n{len(rows)} figures in {seconds:.1f} s -> {path}", file=sys.stderr)
