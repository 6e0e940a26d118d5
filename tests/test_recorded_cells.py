"""Recorded cells behave exactly like plain cells (DESIGN A6), checked the way users work.

Each case runs the same cells three times in fresh, real IPython shells: plain, with ``%%ecs_exec``
on each cell under test, and under ``%ecs_record on``. The namespaces (values, dtypes, which names are
aliases of one object, which names exist) and the displayed outputs must be equal; the recorded runs
must also have recorded the changes users expect (``expect``: variables that are outputs of the last
cell). The oracle is the plain run, never what the recorder says about itself.
"""

from __future__ import annotations

import re
import types
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pytest
from ipython_shell import Ran, interactive_shell, run

from ecs_notebook.core.entity import META_FIELDS
from ecs_notebook.notebook.magics import SUMMARY_METADATA

PANDAS = "import pandas as pd\nimport numpy as np\ndf = pd.DataFrame({'a': [1.0, 2.0, None, 4.0], 'b': ['x', 'y', 'y', 'z']})"
SKLEARN = (
    "import numpy as np\nfrom sklearn.preprocessing import StandardScaler\nX = np.arange(12.0).reshape(6, 2)\nscaler = StandardScaler()"
)


@dataclass
class Case:
    id: str
    setup: list[str]
    cells: list[str]
    expect: set[str] = field(default_factory=set)  # variables recorded as outputs of the last cell
    needs: str = ""  # an optional import the case needs


CASES = [
    Case("rebinding", ["x = 1"], ["x = x + 1", "y = x * 2"], {"y"}),
    Case("new-names-and-last-expression", ["base = 10"], ["a = base + 1\nb = [a, a]\nb"], {"a", "b"}),
    Case("subscript-assignment", ["d = {'k': 1}\nxs = [1, 2, 3]"], ["d['k'] = 5\nxs[0] = 9"], {"d", "xs"}),
    Case("attribute-assignment", ["class P:\n    pass\np = P()\np.v = 1"], ["p.v = 2\np.w = 'new'"], {"p"}),
    Case("augmented-assignment", ["n = 1\nd = {'k': 1}\nxs = [1]"], ["n += 1\nd['k'] += 1\nxs += [2]"], {"n", "d", "xs"}),
    Case(
        "list-dict-set-methods",
        ["xs = [3, 1]\nd = {}\ns = set()"],
        ["xs.append(3)\nxs.sort()\nd.update(a=1)\ns.add('q')\ndel xs[0]"],
        {"xs", "d", "s"},
    ),
    Case("pandas-setitem", [PANDAS], ["df['band'] = pd.cut(df['a'], 2)"], {"df"}, "pandas"),
    Case("pandas-loc", [PANDAS], ["df.loc[0, 'a'] = 100.0"], {"df"}, "pandas"),
    Case(
        "pandas-inplace",
        [PANDAS + "\nimport warnings\nwarnings.simplefilter('ignore', FutureWarning)\nwarnings.simplefilter('ignore', DeprecationWarning)"],
        ["df.dropna(inplace=True)\ndf.reset_index(drop=True, inplace=True)"],
        {"df"},
        "pandas",
    ),
    Case("pandas-last-expression", [PANDAS], ["df.groupby('b')['a'].mean()", "df.head(2)"], set(), "pandas"),
    Case("numpy-inplace-ops", ["import numpy as np\narr = np.arange(6)"], ["arr[0] = 5\narr *= 2"], {"arr"}),
    Case(
        "numpy-mutating-function",
        ["import numpy as np\nrng = np.random.default_rng(0)\nv = np.arange(10)"],
        ["rng.shuffle(v)\nnp.clip(v, 2, 7, out=v)"],
        {"v", "rng"},
    ),
    Case("estimator-fit-in-place", [SKLEARN], ["scaler.fit(X)\nZ = scaler.transform(X)"], {"scaler", "Z"}, "sklearn"),
    Case("alias", ["xs = [1, 2]"], ["ys = xs\nys.append(3)"], {"xs", "ys"}),
    Case("alias-breaking", ["xs = [1, 2]\nys = xs"], ["ys = ys + [3]\nxs.append(0)"], {"xs", "ys"}),
    Case("del", ["a = 1\nb = [1, 2]\nc = 3"], ["del a\ndel b[0]"], {"a", "b"}),
    Case(
        "global-inside-a-called-function",
        ["counter = 0\ndef bump():\n    global counter\n    counter += 1"],
        ["bump()\nbump()"],
        {"counter"},
    ),
    Case("called-function-mutates-a-global", ["log = []\ndef note(m):\n    log.append(m)"], ["note('a')"], {"log"}),
    Case(
        "imports-defs-and-classes",
        [],
        [
            "import math\nfrom collections import Counter\ndef f(x):\n    return x + 1\nclass K:\n    v = 1\nr = f(1)",
            "z = math.floor(f(K.v) + 0.5)\nc = Counter('aab')",
        ],
        {"z", "c"},
    ),
    Case("loops", ["items = [1, 2, 3]"], ["total = 0\nfor i in items:\n    total += i\nwhile total > 5:\n    total -= 1"], {"total"}),
    Case(
        "comprehensions",
        ["items = [1, 2, 3]"],
        ["sq = [i * i for i in items]\nm = {i: i for i in items if i > 1}\ng = sum(i for i in items)"],
        {"sq", "m", "g"},
    ),
    Case("await", ["import asyncio"], ["async def twice(v):\n    await asyncio.sleep(0)\n    return 2 * v\nw = await twice(4)\nw"], {"w"}),
    Case("print-and-display", ["v = 3"], ["print('value', v)\nfrom IPython.display import display\ndisplay({'v': v})\nv + 1"], set()),
    Case("with-target-not-recorded", ["import io"], ["with io.StringIO('abc') as fh:\n    text = fh.read()"], {"text"}),
    Case("bang-and-line-magic", ["v = 1"], ["%config EcsNotebook.quiet = False\nr = !echo hi\nv2 = v + len(r)"], {"v2"}),
    Case(
        "unstorable-values",
        [],
        [
            "gen = (i for i in range(3))\nimport sqlite3\ncon = sqlite3.connect(':memory:')",
            "first = next(gen)\ncur = con.cursor()\nrow = cur.execute('select 1').fetchone()",
        ],
        {"first", "row"},
    ),
    Case(
        "entity-field-edit",
        ["from ecs_notebook import Entity\nclass S(Entity):\n    name: str\n    gpa: float = 0.0\nada = S(name='Ada', gpa=3.0)"],
        ["ada.gpa = 3.5\nhonors = ada.gpa > 3.2"],
        {"ada", "honors"},
    ),
    Case(
        "dataclass-and-property",
        [
            "from dataclasses import dataclass, field\n@dataclass\nclass Box:\n    items: list = field(default_factory=list)\n"
            "    @property\n    def n(self):\n        return len(self.items)\nb = Box()"
        ],
        ["b.items.append(1)\nb.items.append(2)\ncount = b.n"],
        {"b", "count"},
    ),
    Case("nested-container-mutation", ["d = {'a': {'b': []}}\ninner = d['a']['b']"], ["d['a']['b'].append(1)"], {"d", "inner"}),
    Case("swap", ["x = [1]\ny = [2]"], ["x, y = y, x"], {"x", "y"}),
    Case("walrus-in-comprehension", ["items = [1, 2, 3]"], ["out = [z for i in items if (z := i * 2) > 2]\nz"], {"out", "z"}),
    Case("exception-caught-inside", ["d = {}"], ["try:\n    d['x'] = 1 / 0\nexcept ZeroDivisionError as e:\n    d['err'] = str(e)"], {"d"}),
    Case(
        "lambda-and-sorted",
        ["rows = [(2, 'b'), (1, 'a')]"],
        ["key = lambda r: r[0]\nrows.sort(key=key)\nfirst = rows[0]"],
        {"key", "rows", "first"},
    ),
    Case(
        "class-attribute-via-classmethod",
        ["class C:\n    n = 0\n    @classmethod\n    def bump(cls):\n        cls.n += 1"],
        ["C.bump()\nseen = C.n"],
        {"seen"},
    ),
    Case("generator-consumed", ["gen = iter(range(5))"], ["a = next(gen)\nb = next(gen)"], {"a", "b"}),
    Case("series-index-name", [PANDAS], ["s = df['a'].copy()\ns.index.name = 'k'\ns"], {"s"}, "pandas"),
    Case(
        "sklearn-pipeline",
        [
            "import numpy as np\nfrom sklearn.pipeline import make_pipeline\nfrom sklearn.preprocessing import StandardScaler\n"
            "from sklearn.linear_model import LogisticRegression\nX = np.arange(40.0).reshape(20, 2)\ny = np.array([0, 1] * 10)\n"
            "pipe = make_pipeline(StandardScaler(), LogisticRegression())"
        ],
        ["pipe.fit(X, y)\nscore = round(pipe.score(X, y), 3)"],
        {"pipe", "score"},
        "sklearn",
    ),
    Case("time-line-magic", [], ["%time z = sum(range(10))"], {"z"}),
    Case("underscore-previous-output", [], ["40 + 2", "answer = _"], {"answer"}),
    Case("del-an-alias", ["xs = [1]\nys = xs"], ["del ys\nxs.append(2)"], {"xs", "ys"}),
    Case(
        "figure",
        ["import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\nfrom IPython.display import display"],
        ["fig, ax = plt.subplots()\nax.plot([1, 2, 3])\ndisplay(fig)\nplt.close(fig)"],
        set(),
        "matplotlib",
    ),
]


def _available(module: str) -> bool:
    if not module:
        return True
    try:
        __import__(module)
    except ImportError:
        return False
    return True


_OUT = re.compile(r"Out\[\d+\]")
_ADDR = re.compile(r"0x[0-9a-f]+")


def _shown(ran: Ran) -> list[Any]:
    """What a cell showed: display bundles (but the summary line), stdout. Execution counts and addresses normalised."""
    shown: list[Any] = []
    for data, meta in zip(ran.outputs, ran.metadata):
        if meta.get(SUMMARY_METADATA):
            continue
        shown.append(
            {k: (_ADDR.sub("0x…", v) if isinstance(v, str) else type(v).__name__) for k, v in sorted(data.items()) if k != "image/png"}
        )
        shown.append(sorted(data))
    stdout = re.sub(r"(?m)^(CPU times|Wall time):.*$", r"\1: …", ran.stdout)  # %time's measurements differ run to run
    shown.append(_ADDR.sub("0x…", _OUT.sub("Out[n]", stdout)))
    return shown


def _user_names(ns: dict[str, Any]) -> dict[str, Any]:
    hidden = {"In", "Out", "get_ipython", "exit", "quit", "open"}
    return {k: v for k, v in ns.items() if not k.startswith("_") and k not in hidden}


def same(a: Any, b: Any) -> bool:
    """Equal content across two shells (values, dtypes; functions by code; objects by their state)."""
    if type(a).__name__ != type(b).__name__:
        return False
    if isinstance(a, pd.DataFrame):
        return bool(a.equals(b)) and list(map(str, a.dtypes)) == list(map(str, b.dtypes))
    if isinstance(a, pd.Series):
        return bool(a.equals(b)) and str(a.dtype) == str(b.dtype)
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))
    if isinstance(a, types.ModuleType):
        return a is b
    if isinstance(a, types.FunctionType):
        return a.__code__.co_code == b.__code__.co_code
    if isinstance(a, type):
        return a.__qualname__ == b.__qualname__
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, types.GeneratorType):
        return list(a) == list(b)  # what is left to iterate
    if type(a).__module__.startswith("matplotlib"):
        return True  # figures and axes: compared by what they displayed (the outputs)
    if isinstance(a, np.random.Generator):
        return a.bit_generator.state == b.bit_generator.state
    if hasattr(a, "model_dump"):  # entities: by their data (ids and provenance differ between sessions)
        return a.model_dump(exclude=set(META_FIELDS)) == b.model_dump(exclude=set(META_FIELDS))
    if hasattr(a, "__dict__") and not isinstance(a, types.GeneratorType) and type(a).__module__ not in ("sqlite3", "builtins"):
        return same(dict(vars(a)), dict(vars(b)))
    try:
        return bool(a == b) or _ADDR.sub("", repr(a)) == _ADDR.sub("", repr(b))
    except Exception:
        return _ADDR.sub("", repr(a)) == _ADDR.sub("", repr(b))


def _aliases(ns: dict[str, Any]) -> set[frozenset[str]]:
    """Groups of names bound to one mutable object (immutable values may be shared by the interpreter)."""
    groups: dict[int, set[str]] = {}
    for k, v in ns.items():
        if isinstance(v, int | float | str | bytes | bool | tuple | frozenset | type(None) | types.ModuleType | type):
            continue
        groups.setdefault(id(v), set()).add(k)
    return {frozenset(g) for g in groups.values() if len(g) > 1}


def _play(tmp_path, monkeypatch, case: Case, mode: str, sub: str) -> tuple[dict[str, Any], list[list[Any]], list[Ran]]:
    """Run a case in a fresh shell: mode "plain", "magic" (%%ecs_exec per cell) or "record" (%ecs_record on)."""
    folder = tmp_path / sub
    folder.mkdir()
    with interactive_shell(folder, monkeypatch) as ip:
        for cell in case.setup:
            ran = run(ip, cell)
            assert ran.error is None, f"setup failed: {ran.error!r}\n{ran.stdout}{ran.stderr}"
        if mode == "record":
            run(ip, "%ecs_record on")
        shown, rans = [], []
        for k, cell in enumerate(case.cells):
            source = f"%%ecs_exec step{k}\n{cell}" if mode == "magic" else cell
            ran = run(ip, source)
            rans.append(ran)
            assert ran.error is None, f"{mode} run failed: {ran.error!r}\n{ran.stdout}{ran.stderr}"
            shown.append(_shown(ran))
        ns = dict(_user_names(ip.user_ns))
    return ns, shown, rans


def _summary(ran: Ran) -> str:
    lines = [d.get("text/plain", "") for d, m in zip(ran.outputs, ran.metadata) if m.get(SUMMARY_METADATA)]
    assert len(lines) == 1, f"expected one summary line, got {lines}"
    return lines[0]


def _outputs_of(summary: str) -> set[str]:
    """The variable names after the arrow of a summary line (``x@1a2b3c4d``, ``df@… (changed in place)``)."""
    outs = summary.split("→", 1)[1].rsplit(" · ", 1)[0].split(" · ")[0].strip()
    return set() if outs == "-" else {re.match(r"\w+", item.strip()).group(0) for item in outs.split(", ")}


@pytest.mark.parametrize("mode", ["magic", "record"])
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_recorded_cells_behave_exactly_like_plain_cells(tmp_path, monkeypatch, case: Case, mode: str):
    if not _available(case.needs):
        pytest.skip(f"needs {case.needs}")
    plain_ns, plain_shown, _ = _play(tmp_path, monkeypatch, case, "plain", "plain")
    rec_ns, rec_shown, rans = _play(tmp_path, monkeypatch, case, mode, "recorded")
    assert set(rec_ns) - {"ecs_record"} == set(plain_ns), "the same names exist"
    for name, value in plain_ns.items():
        assert same(value, rec_ns[name]), f"{name}: {value!r} (plain) != {rec_ns[name]!r} (recorded)"
    assert _aliases(rec_ns) == _aliases(plain_ns), "the same names are aliases of one object"
    assert rec_shown == plain_shown, "the same outputs are displayed"
    recorded = _outputs_of(_summary(rans[-1]))
    assert case.expect <= recorded, f"outputs recorded: {recorded}, expected at least {case.expect}"


def test_summary_line_names_variables_and_how_each_changed(tmp_path, monkeypatch):
    with interactive_shell(tmp_path, monkeypatch) as ip:
        run(ip, "import pandas as pd\ndf = pd.DataFrame({'a': [1, 2]})\nk = 2")
        ran = run(ip, "%%ecs_exec scale\ndf['a'] = df['a'] * k\nout = df['a'].sum()")
        line = _summary(ran)
        assert re.fullmatch(
            r"scale: df, k → df@[0-9a-f]{8} \(changed in place\), out@[0-9a-f]{8} · [\d.]+ ms",
            line,
        ), line
        ran = run(ip, "%%ecs_exec scale --quiet\ndf['a'] = df['a'] * k")
        assert not [m for m in ran.metadata if m.get(SUMMARY_METADATA)]


def test_loop_targets_underscore_names_and_modules_are_bound_but_not_recorded(tmp_path, monkeypatch):
    with interactive_shell(tmp_path, monkeypatch) as ip:
        run(ip, "items = [1, 2]")
        ran = run(ip, "%%ecs_exec loop\nimport json\n_tmp = 1\nfor it in items:\n    last = it")
        assert {"json", "_tmp", "it", "last"} <= set(ip.user_ns)
        assert _outputs_of(_summary(ran)) == {"last"}
        ran = run(ip, "%%ecs_exec loop2 --out it\nfor it in [[1], [2]]:\n    pass")
        assert _outputs_of(_summary(ran)) == {"it"}


def test_tracebacks_point_at_the_cells_own_lines_without_wrapper_code(tmp_path, monkeypatch):
    with interactive_shell(tmp_path, monkeypatch) as ip:
        ran = run(ip, "%%ecs_exec boom\nx = 1\ny = 2\nraise ValueError('bad value')")
        assert isinstance(ran.error, ValueError)
        text = re.sub(r"\x1b\[[0-9;]*m", "", ran.stdout + ran.stderr)
        assert "line 4" in text and "raise ValueError('bad value')" in text
        assert "__ecs" not in text and "recorder.py" not in text and "magics.py" not in text
