"""Recorded cells over time (DESIGN A5/A6): atomic cells, staleness and re-running, restarts, values → records.

Real IPython shells and real SQLite stores; each table row is a pattern a user writes.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from ipython_shell import Ran, interactive_shell, one_line_usage_error, run
from test_recorded_cells import _user_names, same

from ecs_notebook import CallableRegistry, EntityNotFoundError, EntityRegistry, get, history, is_stale, ref, stale, upstream
from ecs_notebook.notebook.magics import SUMMARY_METADATA


@pytest.fixture
def ip(tmp_path, monkeypatch):
    with interactive_shell(tmp_path, monkeypatch) as shell:
        yield shell


def ok(ran: Ran) -> Ran:
    assert ran.error is None, f"{ran.error!r}\n{ran.stdout}\n{ran.stderr}"
    return ran


def rec(ip, name: str, cell: str) -> Ran:
    return run(ip, f"%%ecs_exec {name}\n{cell}")


def summary(ran: Ran) -> str:
    return next(d["text/plain"] for d, m in zip(ran.outputs, ran.metadata) if m.get(SUMMARY_METADATA))


# -- atomic cells ------------------------------------------------------------------------------------

ATOMIC = [
    # (id, setup, the failing cell's statements before the error)
    ("rebind", "x = 1", "x = 2"),
    ("new-name", "x = 1", "fresh = 5"),
    ("delete", "x = 1\ny = [1]", "del x\ndel y"),
    ("list-append", "xs = [1, 2]", "xs.append(3)\nxs[0] = 0"),
    ("dict-set", "d = {'k': 1}", "d['k'] = 2\nd['new'] = 3"),
    ("set-add", "s = {1}", "s.add(2)"),
    ("numpy", "import numpy as np\narr = np.arange(4.0)", "arr[0] = 9\narr *= 2"),
    ("pandas", "import pandas as pd\ndf = pd.DataFrame({'a': [1, 2]})", "df['b'] = df['a'] * 2\ndf.loc[0, 'a'] = 7"),
    ("attribute", "class P:\n    pass\np = P()\np.v = 1", "p.v = 2\np.w = 3"),
    (
        "estimator",
        "import numpy as np\nfrom sklearn.preprocessing import StandardScaler\nsc = StandardScaler()\nsc.fit(np.arange(6.0).reshape(3, 2))",
        "sc.fit(np.arange(60.0).reshape(30, 2) ** 2)",
    ),
    ("alias", "xs = [1]\nys = xs", "ys.append(2)\nxs.append(3)"),
    ("entity", "from ecs_notebook import Entity\nclass S(Entity):\n    gpa: float = 0.0\nada = S(gpa=3.0)", "ada.gpa = 4.0"),
    ("mixed", "xs = [1]\nn = 0", "xs.append(2)\nn = 5\nextra = 1\ndel xs[0]"),
    ("nested-alias", "d = {'a': {'b': [1]}, 'c': [2]}\ninner = d['a']['b']", "d['a']['b'].append(3)\nd['c'] = [9]\ninner.append(4)"),
    ("object-graph", "class N:\n    pass\nn1 = N()\nn1.kids = [[1], [2]]\nfirst = n1.kids[0]", "n1.kids[0].append(5)\nn1.kids.append([7])"),
]


@pytest.mark.parametrize(("setup", "change"), [(a[1], a[2]) for a in ATOMIC], ids=[a[0] for a in ATOMIC])
def test_a_cell_that_raises_changes_nothing_and_is_recorded_as_failed(tmp_path, monkeypatch, setup, change):
    if "sklearn" in setup:
        pytest.importorskip("sklearn")
    with interactive_shell(tmp_path, monkeypatch) as ip:
        ok(run(ip, setup))
        before = dict(_user_names(ip.user_ns))
        expected = {k: __import__("copy").deepcopy(v) for k, v in before.items() if not isinstance(v, type(__import__("sys")))}
        ran = rec(ip, "failing", f"{change}\nraise RuntimeError('late failure')")
        assert isinstance(ran.error, RuntimeError)
        after = _user_names(ip.user_ns)
        assert set(after) == set(before), "rebound, new and deleted names are as before the cell"
        for k, v in before.items():
            assert after[k] is v, f"{k} is the same object as before the cell"
            if k in expected:
                assert same(after[k], expected[k]), f"{k} has its pre-cell value: {after[k]!r}"
        if "inner" in before:  # parts stay the same objects: inner is still d["a"]["b"]
            assert after["d"]["a"]["b"] is after["inner"]
        if "first" in before:
            assert after["n1"].kids[0] is after["first"]
        x = CallableRegistry.executions(function="failing")[-1]
        assert not x.succeeded and x.error_type == "RuntimeError" and "late failure" in x.error_message
        assert "raise RuntimeError" in x.traceback
        assert "failed, nothing changed" in summary(ran)
        # re-running the fixed cell applies the change once
        ok(rec(ip, "failing", change))


def test_restores_from_the_recorded_version_when_no_copy_was_kept(ip, monkeypatch):
    import ecs_notebook.notebook.recorder as recorder

    ok(run(ip, "xs = [1.5, 2.25, 'a', None]"))
    monkeypatch.setattr(recorder, "UNDO_COPY_BYTES", -1)  # no undo copies: the store is the only source
    xs = ip.user_ns["xs"]
    ran = rec(ip, "bad", "xs.append(9)\nxs[0] = 0\n1/0")
    assert isinstance(ran.error, ZeroDivisionError)
    assert ip.user_ns["xs"] is xs and xs == [1.5, 2.25, "a", None]


def test_a_value_that_cannot_be_restored_is_named_in_one_warning_line(ip):
    ok(run(ip, "import threading\nclass Box:\n    pass\nb = Box()\nb.lock = threading.Lock()\nb.v = 1"))
    ran = rec(ip, "bad", "b.v = 2\nraise KeyError('k')")
    assert isinstance(ran.error, KeyError)
    lines = [ln for ln in ran.stderr.splitlines() if "could not restore" in ln]
    assert len(lines) == 1 and " b " in f" {lines[0].split('restore', 1)[1].split('after')[0]} "
    assert "File " not in ran.stderr and "recorder.py" not in ran.stderr


def test_a_syntax_error_fails_like_plain_ipython_and_is_recorded_as_failed(ip):
    ok(run(ip, "x = 1"))
    ran = rec(ip, "broken", "x = 2\ny = (")
    assert isinstance(ran.error, SyntaxError)
    assert ip.user_ns["x"] == 1 and "y" not in ip.user_ns
    x = CallableRegistry.executions(function="broken")[-1]
    assert not x.succeeded and x.error_type == "SyntaxError"


# -- staleness and re-running ----------------------------------------------------------------------

STALE = [
    # (id, recorded cells, a recorded change, expected stale variables)
    ("chain", ["a = 1", "b = a + 1", "c = b * 2"], "a = 5", {"b", "c"}),
    ("subscript-dependency", ["d = {'x': 1, 'y': 2}", "vx = d['x']"], "d['x'] = 10", {"vx"}),
    # variables are the unit: a change to d['y'] also marks vx (a false positive, by design)
    ("subscript-false-positive", ["d = {'x': 1, 'y': 2}", "vx = d['x']"], "d['y'] = 3", {"vx"}),
    ("attribute-dependency", ["class P:\n    pass\np = P()\np.v = 1", "w = p.v * 2"], "p.v = 5", {"w"}),
    ("list-mutation", ["xs = [1]", "n = len(xs)"], "xs.append(2)", {"n"}),
    ("redefined-function", ["def f(x):\n    return x + 1", "r = f(1)"], "def f(x):\n    return x + 2", {"r"}),
    ("alias-breaking", ["xs = [1]\nys = xs", "t = sum(ys)"], "xs = xs + [5]", set()),
    ("alias-mutation", ["xs = [1]\nys = xs", "t = sum(ys)"], "xs.append(5)", {"t"}),
    ("own-versions", ["raw = [1]", "total = sum(raw)"], "raw = raw + [8]", {"total"}),
    ("unrelated-change", ["a = 1", "b = a + 1", "z = 0"], "z = 1", set()),
]


@pytest.mark.parametrize(("cells", "change", "expected"), [s[1:] for s in STALE], ids=[s[0] for s in STALE])
def test_stale_variables_and_rerun(tmp_path, monkeypatch, cells, change, expected):
    with interactive_shell(tmp_path, monkeypatch) as ip:
        for k, cell in enumerate(cells):
            ok(rec(ip, f"c{k}", cell))
        assert not ip.run_line_magic("ecs_stale", "").__class__.__name__ == "Table", "nothing is stale before the change"
        ok(rec(ip, "change", change))
        plan = ip.find_magic("ecs_stale").__self__.recorder.stale_plan()
        assert {v.name for v in plan.variables} == expected
        for name in expected:
            assert is_stale(ip.user_ns[name]) if name in ip.user_ns else True
        shown = run(ip, "%ecs_stale")
        for name in expected:
            assert re.search(rf"^{name}\s", shown.stdout, re.M), shown.stdout
        ran = ok(run(ip, "%ecs_rerun"))
        assert "Nothing is stale" in ran.stdout if not expected else "re-ran" in ran.stdout
        assert "Nothing is stale" in run(ip, "%ecs_stale").stdout
        # the re-run values equal a plain recomputation of the same cells in order
        (tmp_path / "plain").mkdir()
        with interactive_shell(tmp_path / "plain", monkeypatch, load=False) as plain:
            for cell in cells:
                run(plain, cell)
            run(plain, change)
            for k, cell in enumerate(cells):
                if any(f"c{k}" == c.name for c in plan.cells):
                    run(plain, cell)
            for name in expected:
                assert same(ip.user_ns[name], plain.user_ns[name]), name


def test_a_variable_is_never_stale_because_of_its_own_versions(ip):
    ok(rec(ip, "make", "raw = [1, 2]"))
    ok(rec(ip, "grow", "raw = raw + [8]"))
    ok(rec(ip, "grow2", "raw.append(9)"))
    assert not is_stale(ip.user_ns["raw"])
    assert stale(ip.user_ns["raw"]) == []
    assert "Nothing is stale" in run(ip, "%ecs_stale").stdout


def test_outputs_made_together_with_a_new_version_of_their_input_are_not_stale(ip):
    ok(rec(ip, "make", "raw = [1]"))
    ok(rec(ip, "grow", "raw.append(4)\nalias = raw\ncount = len(raw)"))
    assert not is_stale(ip.user_ns["count"])


def test_changed_outside_recorded_cells_is_recorded_when_next_read(ip):
    ok(rec(ip, "make", "a = [1]"))
    ok(rec(ip, "use", "b = sum(a)"))
    ok(run(ip, "a.append(2)"))  # not recorded
    ran = ok(rec(ip, "use", "b = sum(a)"))
    versions = history(ip.user_ns["a"])
    assert len(versions) == 2
    latest = EntityRegistry.get(versions[-1])
    assert latest.change == "changed outside recorded cells" and latest.derived_from_function is None
    assert summary(ran).startswith("use: a → b@")
    assert not is_stale(ip.user_ns["b"])


def test_rerun_with_nothing_stale_says_so_in_one_line(ip):
    ran = ok(run(ip, "%ecs_rerun"))
    assert ran.stdout.strip().splitlines()[-1].endswith("Nothing is stale: nothing to re-run.")


def test_rerun_stops_at_the_first_failure(ip):
    ok(rec(ip, "a", "a = 1"))
    ok(rec(ip, "b", "b = 10 // a"))
    ok(rec(ip, "c", "c = b + 1"))
    ok(rec(ip, "a", "a = 0"))
    ran = run(ip, "%ecs_rerun")
    assert "stopped" in ran.stdout and "cell b failed" in ran.stdout
    assert ip.user_ns["b"] == 10 and ip.user_ns["c"] == 11  # the failed cell changed nothing; c did not run


# -- whole-notebook recording ----------------------------------------------------------------------


def test_record_on_records_every_cell_but_ecs_magics_and_empty_cells(ip):
    ok(run(ip, "%ecs_record on"))
    ok(run(ip, "x = 1"))
    ok(run(ip, "# only a comment"))
    ok(run(ip, "%ecs_executions"))
    ok(run(ip, "y = x + 1"))
    ok(run(ip, "%ecs_record off"))
    ok(run(ip, "z = 3"))
    names = [x.function_name for x in CallableRegistry.executions()]
    assert len(names) == 2 and all(re.fullmatch(r"cell_\d+", n) for n in names)


def test_record_with_a_front_end_cell_id_names_the_function_after_it(ip):
    ok(run(ip, "%ecs_record on"))
    ip.run_cell("v = 1", store_history=True, cell_id="abc-123")
    ip.run_cell("v = 2", store_history=True, cell_id="abc-123")
    xs = CallableRegistry.executions()
    assert [x.function_name for x in xs] == ["cell_abc-123", "cell_abc-123"]


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ("%ecs_record maybe", "on or off"),
        ("%ecs_stale now", "no arguments"),
        ("%ecs_rerun all", "no arguments"),
    ],
)
def test_magic_mistakes_are_one_line_usage_errors(ip, line, needle):
    assert needle in one_line_usage_error(run(ip, line))


@pytest.mark.parametrize(
    ("header", "needle"),
    [
        ("%%ecs_exec", "required"),
        ("%%ecs_exec step --bogus", "unrecognized arguments: --bogus"),
        ("%%ecs_exec step --ot y", "unrecognized"),
        ("%%ecs_exec step --out nothere", "neither binds nor reads: nothere"),
        ("%%ecs_exec step --in missing", "not defined in the notebook: missing"),
        ("%%ecs_exec 1bad", "not a valid name"),
    ],
)
def test_header_mistakes_fail_the_cell_with_one_line_and_run_nothing(ip, header, needle):
    ok(run(ip, "x = 1"))
    versions = EntityRegistry.store.counts().get("versions", 0)
    ran = run(ip, f"{header}\nx = 2\ny = 3")
    assert needle in one_line_usage_error(ran)
    assert ip.user_ns["x"] == 1 and "y" not in ip.user_ns
    assert EntityRegistry.store.counts().get("versions", 0) == versions


# -- values → records --------------------------------------------------------------------------------


def test_ref_and_queries_accept_the_current_value_of_a_recorded_variable(ip):
    ok(rec(ip, "make", "import pandas as pd\ndf = pd.DataFrame({'a': [1, 2]})"))
    ok(rec(ip, "mean", "m = df['a'].mean()"))
    df, m = ip.user_ns["df"], ip.user_ns["m"]
    assert get(f"@{ref(df)}.value").equals(df)
    assert str(ref(df)) in upstream(m)
    assert not is_stale(m)
    ok(rec(ip, "scale", "df['a'] = df['a'] * 10"))
    assert is_stale(m) and stale(df) == [str(ref(m))]
    assert ran_magic_target(ip, "%ecs_history df") == 2


def ran_magic_target(ip, line: str) -> int:
    table = ip.run_line_magic(line.split()[0][1:], line.split(" ", 1)[1])
    return len(table.rows)


def test_errors_about_values_never_print_the_value(ip):
    class Secret:
        def __repr__(self) -> str:
            return "TOP-SECRET-REPR"

    with pytest.raises(EntityNotFoundError) as info:
        ref(Secret())
    assert "TOP-SECRET-REPR" not in str(info.value) and "%%ecs_exec" in str(info.value)
    with pytest.raises(EntityNotFoundError) as info:
        stale(Secret())
    assert "TOP-SECRET-REPR" not in str(info.value)


def test_the_most_recently_recorded_name_wins_for_a_shared_object(ip):
    ok(rec(ip, "a", "x = None"))
    ok(rec(ip, "b", "y = None"))
    assert EntityRegistry.get(ref(None)).name == "y"
    assert ip.find_magic("ecs_show").__self__._target("x") != ref(None)


def test_unstorable_values_warn_once_per_variable_and_type_without_library_source(ip):
    first = rec(ip, "open_db", "import sqlite3\ncon = sqlite3.connect(':memory:')")
    second = rec(ip, "use_db", "cur = con.cursor()\nn = cur.execute('select 1').fetchone()[0]")
    third = rec(ip, "again", "con2 = con\ncur = con.cursor()")
    ok(first), ok(second), ok(third)
    assert ip.user_ns["n"] == 1 and type(ip.user_ns["con"]).__name__ == "Connection"
    warned = (first.stderr + second.stderr + third.stderr).splitlines()
    con_lines = [ln for ln in warned if ln.startswith("ecs_notebook: con (")]
    assert len(con_lines) == 1 and "after a restart only its type, repr and fingerprint remain" in con_lines[0]
    assert len([ln for ln in warned if ln.startswith("ecs_notebook: cur (")]) == 1
    assert not [ln for ln in warned if "File " in ln or ".py" in ln]


def test_entity_variables_keep_mutation_and_creation_on_their_own_lineage(ip):
    ok(run(ip, "from ecs_notebook import Entity\nclass S(Entity):\n    name: str\n    gpa: float = 0.0\nada = S(name='Ada', gpa=3.0)"))
    ran = ok(rec(ip, "bump", "ada.gpa = 3.5\nbob = S(name='Bob')"))
    ada, bob = ip.user_ns["ada"], ip.user_ns["bob"]
    assert re.search(rf"ada@{str(ada.ecs_id)[:8]} \(mutation\)", summary(ran))
    assert re.search(rf"bob@{str(bob.ecs_id)[:8]} \(creation\)", summary(ran))
    assert len(EntityRegistry.history(ada.lineage_id)) == 2
    assert ada.derived_from_function == "bump" and EntityRegistry.get(ada.ecs_id).gpa == 3.5


# -- restarts ------------------------------------------------------------------------------------------


def test_a_restart_continues_each_variables_history(tmp_path, monkeypatch):
    cells = ["xs = [1, 2]", "total = sum(xs)"]
    with interactive_shell(tmp_path, monkeypatch) as ip:
        for k, cell in enumerate(cells):
            ok(rec(ip, f"c{k}", cell))
        first = [str(ref(ip.user_ns["xs"])), str(ref(ip.user_ns["total"]))]
    with interactive_shell(tmp_path, monkeypatch) as ip:  # a new kernel on the same store and folder
        for k, cell in enumerate(cells):
            ran = ok(rec(ip, f"c{k}", cell))
        assert [str(ref(ip.user_ns["xs"])), str(ref(ip.user_ns["total"]))] == first, "unchanged re-runs are the same versions"
        assert "(unchanged)" not in summary(ran)
        ok(rec(ip, "grow", "xs.append(3)"))
        assert history(ip.user_ns["xs"])[0] == first[0]
        assert len(history(ip.user_ns["xs"])) == 2
        assert is_stale(ip.user_ns["total"])
        assert "total" in run(ip, "%ecs_stale").stdout


def test_a_store_written_by_0_1_0_still_opens_and_its_history_stays_readable(tmp_path, monkeypatch):
    src = Path(__file__).parent / "data" / "store-0.1.0.db"
    db = tmp_path / "old.db"
    shutil.copy(src, db)
    with interactive_shell(tmp_path, monkeypatch) as ip:
        ok(run(ip, f"%ecs_store sqlite:///{db}"))
        xs = CallableRegistry.executions()
        assert [x.function_name for x in xs] == ["analyze", "total", "report"]
        outputs: Any = [EntityRegistry.get(o) for o in xs[1].output_entity_ids]
        assert outputs and "total" in str(outputs[0].untyped_data)
        assert get(f"@{xs[1].output_entity_ids[0]}.total") == 6
        ok(run(ip, "%ecs_executions"))
        ok(rec(ip, "new", "v = 1"))


def test_the_recorder_imports_no_ipython():
    import subprocess
    import sys

    code = "import sys, ecs_notebook.notebook.recorder; print([m for m in ('IPython', 'ipywidgets', 'anywidget') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True).stdout.strip()
    assert out == "[]"


def test_a_cell_that_is_only_a_comment_records_one_empty_execution(ip):
    ran = ok(rec(ip, "nothing", "# to do"))
    assert summary(ran).startswith("nothing: - → - · ")
    x = CallableRegistry.executions(function="nothing")[-1]
    assert x.succeeded and x.input_entity_ids == [] and x.output_entity_ids == []


def test_an_empty_cell_run_inside_a_recorded_cell_does_not_end_it(ip):
    ran = ok(rec(ip, "outer", "get_ipython().run_cell('   ')\nx = 1"))
    assert re.search(r"^outer: - → x@[0-9a-f]{8} · ", summary(ran))


def test_an_unloaded_recorder_no_longer_follows_the_store(tmp_path, monkeypatch):
    import ecs_notebook

    with interactive_shell(tmp_path, monkeypatch) as ip:
        recorder = ip.find_magic("ecs_stale").__self__.recorder
        ok(rec(ip, "make", "xs = [1]"))
        ip.run_line_magic("unload_ext", "ecs_notebook")
        ecs_notebook.connect("memory://")  # a store change reaches only subscribed recorders
        assert "xs" in recorder.vars


def test_a_header_is_checked_again_for_each_run_of_the_cell(ip):
    ok(run(ip, "a = 1"))
    cell = "%%ecs_exec use --in a\nb = a + 1"
    ok(run(ip, cell))
    ok(run(ip, "del a"))
    assert "--in names not defined in the notebook: a" in one_line_usage_error(run(ip, cell))
