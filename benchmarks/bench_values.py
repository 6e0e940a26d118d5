"""Value fingerprints (DESIGN A11, A10 value rows): throughput on large data, cost on small values.

- an 8M-row x 3-column DataFrame (float64, int64, pandas ``str``; ~200 MB) and a 192 MB float64 array:
  ``fingerprint`` beside raw XXH3-128 over the very same buffers (the physical floor) and beside
  ``pd.util.hash_pandas_object`` (what a pandas user would reach for); target >= 5 GB/s;
- a Python list of 1M floats, beside raw XXH3 of the same numbers packed by ``array``;
- small values (an int, a short list, a dict of 10 scalars, an entity): beside ``json.dumps`` of the
  same value (a lower bound for any canonical text form).

    python benchmarks/run.py values [--quick]      # --quick: 1M rows
    python benchmarks/bench_values.py [--quick]
"""

from __future__ import annotations

import json
import sys
import time
from array import array
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pyarrow as pa  # noqa: E402
import xxhash  # noqa: E402
from _common import Row, calls_per_repeat, format_table, median_time, write_json  # noqa: E402

from ecs_notebook import Entity  # noqa: E402
from ecs_notebook.values import fingerprint  # noqa: E402

TARGET_GBPS = 5.0
RAW = "raw xxh3 of its buffers"


class Sample(Entity):
    name: str = ""
    score: float = 0.0
    tags: list[str] = []


def make_frame(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "a": rng.random(rows),
            "b": rng.integers(0, 1_000_000, rows),
            "c": pd.Series(rng.integers(0, 1_000, rows)).astype("str"),
        }
    )


def _buffers(df: pd.DataFrame) -> list[object]:
    """The column buffers a fingerprint has to read: numpy data; Arrow offsets + bytes for strings."""
    out: list[object] = []
    for _, col in df.items():
        arr = col.array
        if isinstance(arr, pd.arrays.ArrowStringArray):
            for chunk in pa.chunked_array(arr.__arrow_array__()).chunks:
                out.extend(b for b in chunk.buffers() if b is not None)
        else:
            out.append(col.to_numpy())
    return out


def _raw_xxh3(buffers: list[object]) -> str:
    h = xxhash.xxh3_128()
    for b in buffers:
        h.update(b)  # type: ignore[arg-type]
    return h.hexdigest()


def _nbytes(buffers: list[object]) -> int:
    return sum(memoryview(b).nbytes for b in buffers)  # type: ignore[arg-type]


def _large(repeats: int, rows: int) -> list[Row]:
    df = make_frame(rows)
    bufs = _buffers(df)
    nbytes = _nbytes(bufs)
    fingerprint(df.head())  # the first numpy/pandas value imports the array encoders: not part of the figure
    fp_s = median_time(lambda _: fingerprint(df), repeats=repeats)
    raw_s = median_time(lambda _: _raw_xxh3(bufs), repeats=repeats)
    hpo_s = median_time(lambda _: pd.util.hash_pandas_object(df, index=True).to_numpy(), repeats=max(3, repeats // 2))
    target_ms = nbytes / (TARGET_GBPS * 1e9) * 1e3
    gbps = nbytes / fp_s / 1e9
    mb = f"{nbytes / 1e6:.0f} MB"
    rows_out = [
        Row(f"fingerprint DataFrame {rows:,} x 3 (float64, int64, str)", rows, fp_s * 1e3, "ms", raw_s * 1e3, RAW,
            target_ms, f">= {TARGET_GBPS:.0f} GB/s", note=f"{mb}; {gbps:.1f} GB/s (raw {nbytes / raw_s / 1e9:.1f} GB/s)"),
        Row("  same frame", rows, fp_s * 1e3, "ms", hpo_s * 1e3, "pd.util.hash_pandas_object", None, "",
            note=f"hash_pandas_object {nbytes / hpo_s / 1e9:.2f} GB/s"),
    ]  # fmt: skip
    return rows_out


def _array(repeats: int, rows: int) -> list[Row]:
    arr = np.random.default_rng(1).random(rows * 3)
    fp_s = median_time(lambda _: fingerprint(arr), repeats=repeats)
    raw_s = median_time(lambda _: xxhash.xxh3_128_hexdigest(arr), repeats=repeats)
    target_ms = arr.nbytes / (TARGET_GBPS * 1e9) * 1e3
    return [
        Row(f"fingerprint ndarray float64 [{arr.size:,}]", arr.size, fp_s * 1e3, "ms", raw_s * 1e3, RAW, target_ms,
            f">= {TARGET_GBPS:.0f} GB/s", note=f"{arr.nbytes / 1e6:.0f} MB; {arr.nbytes / fp_s / 1e9:.1f} GB/s")
    ]  # fmt: skip


def _python_list(repeats: int, n: int) -> list[Row]:
    values = [k / 7 for k in range(n)]
    strings = [f"item-{k}" for k in range(n)]
    rows = []
    for label, data, pack in (
        ("floats", values, lambda: xxhash.xxh3_128_hexdigest(array("d", values))),
        ("strs", strings, lambda: xxhash.xxh3_128_hexdigest("\0".join(strings).encode())),
    ):
        fp_s = median_time(lambda _, d=data: fingerprint(d), repeats=repeats)
        raw_s = median_time(lambda _, p=pack: p(), repeats=repeats)
        base = "xxh3 of array('d')" if label == "floats" else "xxh3 of joined utf-8"
        rows.append(Row(f"fingerprint list of {n:,} {label}", n, fp_s * 1e3, "ms", raw_s * 1e3, base))
    return rows


def _small(repeats: int) -> list[Row]:
    cases = {
        "int": 12345,
        "list of 3 ints": [1, 2, 3],
        "dict of 10 scalars": {f"key{k}": (k if k % 2 else f"v{k}") for k in range(10)},
        "entity (3 fields)": Sample(name="s", score=1.5, tags=["a", "b"]),
    }
    rows = []
    for label, value in cases.items():
        as_json = (lambda v=value: v.model_dump_json()) if isinstance(value, Entity) else (lambda v=value: json.dumps(v))
        number = calls_per_repeat(lambda v=value: fingerprint(v))
        fp_s = median_time(lambda _, v=value: fingerprint(v), repeats=repeats, number=number)
        js_s = median_time(lambda _, f=as_json: f(), repeats=repeats, number=number)
        base = "model_dump_json" if isinstance(value, Entity) else "json.dumps"
        rows.append(Row(f"fingerprint {label}", None, fp_s * 1e6, "µs", js_s * 1e6, base, None, "a few µs"))
    return rows


def run(quick: bool = False) -> list[Row]:
    """Every fingerprint figure; ``quick`` uses 1M rows and fewer repeats."""
    repeats = 3 if quick else 7
    return [
        *_large(repeats, 1_000_000 if quick else 8_000_000),
        *_array(repeats, 1_000_000 if quick else 8_000_000),
        *_python_list(repeats, 100_000 if quick else 1_000_000),
        *_small(repeats),
    ]


if __name__ == "__main__":
    quick = "--quick" in sys.argv[1:]
    t0 = time.perf_counter()
    rows = run(quick=quick)
    seconds = round(time.perf_counter() - t0, 2)
    path = write_json("values-quick" if quick else "values", rows, {"quick": quick, "seconds": seconds})
    print(format_table(rows))
    print(f"\n{len(rows)} figures in {seconds:.1f} s -> {path}", file=sys.stderr)
