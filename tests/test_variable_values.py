"""Recorded values (DESIGN A11): exact round trips through SQLite, PostgreSQL and a new process, deduplicated
content-addressed parts, the size policy, ``ecs-notebook gc`` (with a concurrent writer), damaged parts.

Real IPython shells record the values, as users do; real stores keep them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from ipython_shell import interactive_shell, run
from pg_support import fresh_schema

from ecs_notebook import EntityRegistry, StoreError, connect, get, ref
from ecs_notebook.core.errors import ValueNotStoredError

ZOO = """
import numpy as np, pandas as pd
rng = np.random.default_rng(7)
frame = pd.DataFrame({
    "f": rng.random(50),
    "i32": np.arange(50, dtype="int32"),
    "nullable": pd.array([1, None] * 25, dtype="Int64"),
    "cat": pd.Categorical(["a", "b"] * 25),
    "when": pd.date_range("2024-01-01", periods=50, freq="h", tz="UTC").as_unit("us"),
    "text": [f"row {k}" for k in range(50)],
})
multi = frame.set_index(["cat", "i32"])
series = pd.Series(rng.random(10), name="s")
arr = rng.random((20, 3)).astype("float32")
stamps = np.array(["2024-01-01", "2024-06-01"], dtype="datetime64[D]")
nested = {"k": [1, 2.5, None, "x"], "t": (1, 2), "s": {3, 4}}
"""
NAMES = ["frame", "multi", "series", "arr", "stamps", "nested"]


def _same(a, b) -> bool:
    if isinstance(a, pd.DataFrame):
        return a.equals(b) and list(map(str, a.dtypes)) == list(map(str, b.dtypes)) and a.index.equals(b.index)
    if isinstance(a, pd.Series):
        return a.equals(b) and str(a.dtype) == str(b.dtype) and a.name == b.name
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    return a == b


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'values.db'}"
        return
    if not os.environ.get("ECS_TEST_POSTGRES_URL"):
        pytest.skip("set ECS_TEST_POSTGRES_URL (scripts/postgres.sh starts a server)")
    with fresh_schema() as url:
        yield url


def _record(ip, url: str) -> dict[str, str]:
    assert run(ip, f"%ecs_store {url}").error is None
    assert run(ip, ZOO).error is None
    ran = run(ip, "%%ecs_exec keep\n" + "\n".join(f"{n} = {n}" for n in NAMES))
    assert ran.error is None, ran.stdout + ran.stderr
    return {n: str(ref(ip.user_ns[n])) for n in NAMES}


def test_values_round_trip_exactly_through_the_store_and_a_new_process(tmp_path, monkeypatch, store_url):
    with interactive_shell(tmp_path, monkeypatch) as ip:
        ids = _record(ip, store_url)
        for n in NAMES:
            assert _same(ip.user_ns[n], get(f"@{ids[n]}.value")), n
        originals = {n: ip.user_ns[n] for n in NAMES}
    script = textwrap.dedent(
        f"""
        import json, pickle, sys
        def refuse(*a, **k):
            raise AssertionError("pickle used")
        pickle.loads = pickle.load = refuse
        import ecs_notebook
        ecs_notebook.connect({store_url!r})
        ids = json.loads({json.dumps(json.dumps(ids))})
        import numpy as np, pandas as pd
        out = {{}}
        for n, i in ids.items():
            v = ecs_notebook.get(f"@{{i}}.value")
            out[n] = v
        import pickle as p2
        sys.stdout.buffer.write(repr({{n: type(v).__name__ for n, v in out.items()}}).encode())
        np.save("arr.npy", out["arr"], allow_pickle=False)
        out["frame"].to_parquet("frame.parquet")
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "'frame': 'DataFrame'" in proc.stdout and "'multi': 'DataFrame'" in proc.stdout
    assert _same(originals["arr"], np.load(tmp_path / "arr.npy"))
    assert _same(originals["frame"], pd.read_parquet(tmp_path / "frame.parquet"))


def test_a_value_is_stored_once_and_one_changed_column_adds_about_that_column(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'dedup.db'}"
    with interactive_shell(tmp_path, monkeypatch) as ip:
        run(ip, f"%ecs_store {url}")
        run(
            ip,
            "import numpy as np, pandas as pd\n"
            "df = pd.DataFrame({c: np.arange(200_000, dtype='float64') + k for k, c in enumerate('abcd')})",
        )
        store = EntityRegistry.store

        def stored() -> int:
            return sum(size for size, _ in store.part_sizes().values())

        assert run(ip, "%%ecs_exec first\nm0 = df['a'].sum()").error is None
        after_first = stored()
        assert after_first >= 4 * 1_600_000
        for k in range(3):  # the same frame read by three more cells adds nothing of it
            assert run(ip, f"%%ecs_exec read{k}\nm{k + 1} = df['b'].mean()").error is None
        assert stored() - after_first < 10_000
        assert run(ip, "%%ecs_exec change\ndf['c'] = df['c'] * 2").error is None
        grew = stored() - after_first
        assert 1_600_000 <= grew <= 1.2 * 1_600_000, grew
        objects = Path(str(store.path) + ".objects")
        assert objects.is_dir() and sum(1 for _ in objects.rglob("*") if _.is_file()) == 5


def test_values_over_max_value_bytes_are_described_not_stored(tmp_path, monkeypatch):
    with interactive_shell(tmp_path, monkeypatch) as ip:
        run(ip, "%config EcsNotebook.max_value_bytes = 1000")
        ran = run(ip, "%%ecs_exec big\nimport numpy as np\nbig = np.arange(10_000)\nsmall = [1, 2, 3]")
        assert ran.error is None
        assert "over EcsNotebook.max_value_bytes" in ran.stderr
        version = EntityRegistry.get(ref(ip.user_ns["big"]))
        assert version.value.fingerprint and "ndarray 10000" in version.value.summary and "0, 1, 2" in version.value.sample
        with pytest.raises(ValueNotStoredError, match="max_value_bytes"):
            get(f"@{ref(ip.user_ns['big'])}.value")
        assert get(f"@{ref(ip.user_ns['small'])}.value") == [1, 2, 3]
        assert ip.user_ns["big"][-1] == 9999, "the live variable is unaffected"


def _cli(tmp_path: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ecs_notebook.notebook.cli", "--store", url, *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_gc_keeps_the_newest_values_and_never_removes_records(tmp_path, monkeypatch, store_url):
    with interactive_shell(tmp_path, monkeypatch) as ip:
        run(ip, f"%ecs_store {store_url}")
        run(ip, "import numpy as np\nxs = np.arange(100_000)")
        ids = []
        for k in range(4):
            assert run(ip, f"%%ecs_exec bump{k}\nxs += 1").error is None
            ids.append(str(ref(ip.user_ns["xs"])))
        versions = EntityRegistry.store.counts()["versions"]
        EntityRegistry.store.close()
    dry = _cli(tmp_path, store_url, "gc", "--keep-last", "2", "--min-age", "0", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would remove 3 of 5 value parts" in dry.stdout
    done = _cli(tmp_path, store_url, "gc", "--keep-last", "2", "--min-age", "0")
    assert done.returncode == 0 and "removed 3 of 5 value parts" in done.stdout, done.stdout + done.stderr
    store = connect(store_url)
    assert store.counts()["versions"] == versions, "lineage records are never removed"
    assert int(get(f"@{ids[-1]}.value")[0]) == 4 and int(get(f"@{ids[-2]}.value")[0]) == 3
    with pytest.raises(ValueNotStoredError, match="gc"):
        get(f"@{ids[0]}.value")
    again = _cli(tmp_path, store_url, "gc", "--min-age", "0")
    assert "removed 0 of 2" in again.stdout
    bad = _cli(tmp_path, store_url, "gc", "--keep-last", "0")
    assert bad.returncode == 2 and "--keep-last" in bad.stderr and "Traceback" not in bad.stderr


WRITER = """
import sys, time, numpy as np
import ecs_notebook
from ecs_notebook.notebook.recorder import CellRecorder
ecs_notebook.connect(sys.argv[1])
ns = {"xs": np.zeros(50_000)}
rec = CellRecorder(ns, "writer.ipynb")
for k in range(int(sys.argv[2])):
    run = rec.begin(f"step{k}", "xs += 1", "xs += 1\\n")
    ns["xs"] += 1
    rec.end(run, None)
print("done")
"""


def test_gc_is_safe_while_another_kernel_writes(tmp_path, store_url):
    with interactive_shell(tmp_path, pytest.MonkeyPatch()) as ip:
        run(ip, f"%ecs_store {store_url}")
        run(ip, "import numpy as np\nold = np.ones(50_000)")
        for k in range(3):
            run(ip, f"%%ecs_exec grow{k}\nold *= 2")
        EntityRegistry.store.close()
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, store_url, "40"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    rounds = 0
    while writer.poll() is None and rounds < 50:
        gc = _cli(tmp_path, store_url, "gc", "--keep-last", "1", "--min-age", "0")
        assert gc.returncode == 0, gc.stderr
        rounds += 1
    out, err = writer.communicate(timeout=120)
    assert writer.returncode == 0 and "done" in out, err[-2000:]
    assert rounds >= 1
    connect(store_url)
    from ecs_notebook.core.variable import variable_lineage_id

    latest = EntityRegistry.latest(variable_lineage_id("writer.ipynb", "xs"))
    assert float(get(f"@{latest}.value")[0]) == 40.0, "the newest version's value survived every gc"


@pytest.mark.parametrize("damage", ["truncated", "garbage", "missing"])
def test_a_damaged_or_missing_part_file_is_a_clear_error(tmp_path, monkeypatch, damage):
    with interactive_shell(tmp_path, monkeypatch) as ip:
        run(ip, f"%ecs_store sqlite:///{tmp_path / 'd.db'}")
        run(ip, "%%ecs_exec make\nimport numpy as np\nbig = np.arange(100_000)")
        vid = ref(ip.user_ns["big"])
        files = [p for p in Path(str(tmp_path / "d.db") + ".objects").rglob("*") if p.is_file()]
        assert len(files) == 1
        if damage == "truncated":
            files[0].write_bytes(files[0].read_bytes()[:1000])
        elif damage == "garbage":
            files[0].write_bytes(os.urandom(files[0].stat().st_size))
        else:
            files[0].unlink()
        expected = ValueNotStoredError if damage == "missing" else StoreError
        with pytest.raises(expected) as info:
            get(f"@{vid}.value")
        assert "\n" not in str(info.value).strip()


def test_first_recording_of_a_large_frame_writes_files_atomically(tmp_path, monkeypatch):
    with interactive_shell(tmp_path, monkeypatch) as ip:
        run(ip, f"%ecs_store sqlite:///{tmp_path / 'f.db'}")
        run(ip, "%%ecs_exec make\nimport numpy as np, pandas as pd\ndf = pd.DataFrame({'a': np.arange(1_000_000.0)})")
        objects = Path(str(tmp_path / "f.db") + ".objects")
        assert not [p for p in objects.rglob("*.tmp")], "no temporary file is left behind"
        started = time.perf_counter()
        value = get(f"@{ref(ip.user_ns['df'])}.value")
        assert value.equals(ip.user_ns["df"]) and time.perf_counter() - started < 30


def test_addresses_after_a_frame_or_array_field_resolve_after_a_restart(tmp_path):
    """Slots are counted by identity: == on a stored DataFrame or array is not a bool (it failed before)."""
    from typing import Any

    from ecs_notebook import Entity

    class Holder(Entity):
        items: list[Any] = []
        extra: dict[str, Any] = {}
        label: str = ""

    url = f"sqlite:///{tmp_path / 'slots.db'}"
    connect(url)
    frame = pd.DataFrame({"a": [1.0, 2.0]})
    h = Holder(items=[frame, np.arange(3), "after"], extra={"f": frame, "k": 5}, label="x")
    h.promote_to_root()
    connect("memory://")
    connect(url)  # a new session on the same store: everything is read back
    assert get(f"@{h.ecs_id}.label") == "x"
    assert get(f"@{h.ecs_id}.items.2") == "after"
    assert get(f"@{h.ecs_id}.extra.k") == 5
    assert list(get(f"@{h.ecs_id}.items.1")) == [0, 1, 2]


def test_max_value_bytes_refuses_a_negative_size(tmp_path, monkeypatch):
    with interactive_shell(tmp_path, monkeypatch) as ip:
        run(ip, "%config EcsNotebook.max_value_bytes = -1")  # %config logs the TraitError and keeps the old value
        magics = ip.find_magic("ecs_stale").__self__
        assert magics.options.max_value_bytes == 2**30 and magics.recorder.max_value_bytes == 2**30
