"""Value fingerprints (DESIGN A11, A10 value rows): throughput on large data, cost on small values.

- an 8M-row x 3-column DataFrame (float64, int64, pandas ``str``; ~200 MB) and a 192 MB float64 array:
  ``fingerprint`` beside raw XXH3-128 over the very same buffers (the physical floor) and beside
  ``pd.util.hash_pandas_object`` (what a pandas user would reach for); target >= 5 GB/s;
- a Python list of 1M floats, beside raw XXH3 of the same numbers packed by ``array``;
- small values (an int, a short list, a dict of 10 scalars, an entity): beside ``json.dumps`` of the
  same value (a lower bound for any canonical text form);
- codecs on the same frame: encode (a part per column) beside one Arrow IPC write of the whole frame;
  a first recording (encode + parts written to files, A10 <= 0.6 s); ``get`` in a new process (read the
  part files + decode, A10 <= 0.5 s, checked exact) beside reading one whole-frame Arrow file; the parts
  added when one column changes (A10 <= 1.2 x that column).

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
from ecs_notebook.core.values import fingerprint  # noqa: E402

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


# -- codecs (DESIGN A10: first recording <= 0.6 s, get in a new process <= 0.5 s, exact) ---------------

TARGET_FIRST_MS = 600.0
TARGET_GET_MS = 500.0

GET_IN_NEW_PROCESS = """
import json, mmap, sys, time
from pathlib import Path
t0 = time.perf_counter()
from ecs_notebook.core.values import fingerprint
from ecs_notebook.core.values.codecs import decode
import pandas, pyarrow
imported = time.perf_counter() - t0
folder = Path(sys.argv[1])
header = json.loads((folder / "header.json").read_text())

def load(key):
    # A private copy-on-write mapping: writable, so decoded arrays use it in place (no copy, no
    # zero-filled allocation), and changing them never touches the file.
    with (folder / key).open("rb") as f:
        return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)

t0 = time.perf_counter()
df = decode(header, load)
get_s = time.perf_counter() - t0
t0 = time.perf_counter()
with pyarrow.memory_map(str(folder / "whole.arrow")) as src:
    plain = pyarrow.ipc.open_stream(src).read_all().to_pandas()
plain_s = time.perf_counter() - t0
print(json.dumps({"get": get_s, "plain": plain_s, "imported": imported, "fp": fingerprint(df),
                  "dtypes": [str(d) for d in df.dtypes]}))
"""


def _write_parts(folder: Path, parts: dict[str, object]) -> int:
    """Write each part as a file named by its key (temp file + rename), return bytes written."""
    total = 0
    for key, data in parts.items():
        tmp = folder / f".{key}.tmp"
        with tmp.open("wb") as f:
            f.write(data)  # type: ignore[arg-type]
        tmp.replace(folder / key)
        total += memoryview(data).nbytes  # type: ignore[arg-type]
    return total


def _codecs(repeats: int, rows: int) -> list[Row]:
    import shutil
    import subprocess
    import tempfile

    from ecs_notebook.core.values.codecs import decode, encode

    df = make_frame(rows)
    raw_bytes = _nbytes(_buffers(df))
    encode(df.head())  # imports the codec modules outside the figure

    def arrow_write(_: object) -> object:
        table = pa.Table.from_pandas(df)
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as w:
            w.write_table(table)
        return sink.getvalue()

    enc_s = median_time(lambda _: encode(df), repeats=repeats)
    ipc_s = median_time(arrow_write, repeats=repeats)
    folder = Path(tempfile.mkdtemp(prefix="ecs-bench-values-"))
    try:

        def first_recording(_: object) -> None:
            for p in folder.iterdir():
                p.unlink()
            _write_parts(folder, dict(encode(df).parts))

        first_s = median_time(first_recording, repeats=max(3, repeats // 2))
        enc = encode(df)
        stored = _write_parts(folder, dict(enc.parts))
        (folder / "header.json").write_text(json.dumps(enc.header))
        (folder / "whole.arrow").write_bytes(arrow_write(None).to_pybytes())  # type: ignore[attr-defined]
        parts = {k: bytes(v) for k, v in enc.parts.items()}
        dec_s = median_time(lambda _: decode(enc.header, parts), repeats=repeats)
        gets = []
        for _ in range(max(3, repeats // 2)):
            out = subprocess.run([sys.executable, "-c", GET_IN_NEW_PROCESS, str(folder)], capture_output=True, text=True, check=True)
            gets.append(json.loads(out.stdout.strip().splitlines()[-1]))
        get = sorted(gets, key=lambda g: g["get"])[len(gets) // 2]
        exact = get["fp"] == fingerprint(df) and get["dtypes"] == [str(d) for d in df.dtypes]
        # Changing one column in place: only that column's part is new.
        df["b"] = df["b"] + 1
        changed = encode(df)
        new_bytes = sum(memoryview(v).nbytes for k, v in changed.parts.items() if k not in enc.parts)
        column_bytes = df["b"].to_numpy().nbytes
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    mb = f"{raw_bytes / 1e6:.0f} MB frame, {stored / 1e6:.0f} MB of parts"
    return [
        Row(f"encode DataFrame {rows:,} x 3 (a part per column)", rows, enc_s * 1e3, "ms", ipc_s * 1e3,
            "Arrow IPC write of the whole frame", note=mb),
        Row("  first recording: encode + write parts to files", rows, first_s * 1e3, "ms", ipc_s * 1e3,
            "Arrow IPC write of the whole frame", TARGET_FIRST_MS, "<= 0.6 s", note="temp file + rename per part, no fsync"),
        Row("  decode in process (parts as bytes)", rows, dec_s * 1e3, "ms", None, note="bytes are read-only: numeric columns copied"),
        Row("  get in a new process: read parts + decode", rows, get["get"] * 1e3, "ms", get["plain"] * 1e3,
            "read whole-frame Arrow file + to_pandas", TARGET_GET_MS, "<= 0.5 s, exact",
            note=f"exact (fingerprint + dtypes): {exact}; imports {get['imported'] * 1e3:.0f} ms not counted"),
        Row("  parts added after changing one column", rows, new_bytes, "B", column_bytes, "that column's raw bytes",
            1.2 * column_bytes, "<= 1.2 x column"),
    ]  # fmt: skip


def run(quick: bool = False) -> list[Row]:
    """Every fingerprint figure; ``quick`` uses 1M rows and fewer repeats."""
    repeats = 3 if quick else 7
    return [
        *_large(repeats, 1_000_000 if quick else 8_000_000),
        *_array(repeats, 1_000_000 if quick else 8_000_000),
        *_python_list(repeats, 100_000 if quick else 1_000_000),
        *_small(repeats),
        *_codecs(repeats, 1_000_000 if quick else 8_000_000),
    ]


if __name__ == "__main__":
    quick = "--quick" in sys.argv[1:]
    t0 = time.perf_counter()
    rows = run(quick=quick)
    seconds = round(time.perf_counter() - t0, 2)
    path = write_json("values-quick" if quick else "values", rows, {"quick": quick, "seconds": seconds})
    print(format_table(rows))
    print(f"\n{len(rows)} figures in {seconds:.1f} s -> {path}", file=sys.stderr)
