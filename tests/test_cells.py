"""Cell analysis (ecs_notebook.notebook.cells): which names a %%ecs_exec cell reads first and assigns at top level."""

from __future__ import annotations

import builtins
import math
import threading

import pytest

from ecs_notebook import Entity
from ecs_notebook.notebook.cells import analyse, is_builtin_name, is_input_value

# (source, reads (in order of first read), assigns (in order), is_async)
CASES = [
    pytest.param("y = x + 1", ["x"], ["y"], False, id="plain-assignment"),
    pytest.param("x = x + 1", ["x"], ["x"], False, id="read-then-rebind-same-name"),
    pytest.param("a, b = b, a", ["b", "a"], ["a", "b"], False, id="tuple-swap"),
    pytest.param("(a, (b, c)) = pairs", ["pairs"], ["a", "b", "c"], False, id="nested-tuple-target"),
    pytest.param("first, *rest = items", ["items"], ["first", "rest"], False, id="starred-target"),
    pytest.param("a = b = src", ["src"], ["a", "b"], False, id="chained-assignment"),
    pytest.param("total += step", ["step", "total"], ["total"], False, id="augmented-assignment-reads-target"),
    pytest.param("xs[0] += 1", ["xs"], [], False, id="augmented-subscript-is-no-output"),
    pytest.param("for i in items:\n    total += i", ["items", "total"], ["i", "total"], False, id="for-target-and-body"),
    pytest.param("with open(p) as fh:\n    data = fh.read()", ["open", "p"], ["fh", "data"], False, id="with-as"),
    pytest.param("with a() as (x, y):\n    z = x + y", ["a"], ["x", "y", "z"], False, id="with-as-tuple"),
    pytest.param("x: int\ny: int = 3", [], ["y"], False, id="annotation-without-value-binds-nothing"),
    pytest.param("(n := 10)\nm = n", [], ["n", "m"], False, id="walrus"),
    pytest.param(
        "if cond:\n    x = 1\nprint(x)",
        ["cond", "print", "x"],
        ["x"],
        False,
        id="name-assigned-only-in-a-branch-is-still-read-after",
    ),
    pytest.param("obj.attr = 1\nd['k'] = v", ["obj", "v", "d"], [], False, id="attribute-and-subscript-store-read-the-object"),
    pytest.param("del q", ["q"], [], False, id="del-reads"),
    pytest.param("import os.path as osp\nfrom math import pi\nv = pi", [], ["v"], False, id="imports-are-not-outputs"),
    pytest.param("import numpy\narr = numpy.zeros(3)", [], ["arr"], False, id="imported-module-is-not-an-input"),
    pytest.param(
        "def helper(a, b=dflt):\n    return a + glob\nres = helper(1)", ["dflt", "glob"], ["res"], False, id="function-def-not-output"
    ),
    pytest.param("class C(Base):\n    k = kk\nc = C()", ["Base", "kk"], ["c"], False, id="class-def-not-output"),
    pytest.param("lam = lambda a: a + outer", ["outer"], ["lam"], False, id="lambda-params-are-local"),
    pytest.param("sq = [v * v for v in vs]", ["vs"], ["sq"], False, id="comprehension-variable-is-local"),
    pytest.param("total = sum(y for y in ys if y > lim)", ["sum", "ys", "lim"], ["total"], False, id="generator-condition"),
    pytest.param("d = {k: v for k, v in pairs}", ["pairs"], ["d"], False, id="dict-comprehension"),
    pytest.param("print(f'{name}!')", ["print", "name"], [], False, id="f-string-reads"),
    pytest.param("global g\ng = 1", ["g"], ["g"], False, id="global-statement-reads"),
    pytest.param("def f():\n    inner = 1\n    return inner", [], [], False, id="function-locals-are-not-outputs"),
    pytest.param("_private = 1\npublic = _private", [], ["_private", "public"], False, id="underscore-names-are-listed"),
    pytest.param("await job()", ["job"], [], True, id="top-level-await"),
    pytest.param("res = await fetch(x)", ["fetch", "x"], ["res"], True, id="await-in-assignment"),
    pytest.param("async for row in stream():\n    last = row", ["stream"], ["row", "last"], True, id="async-for"),
    pytest.param("async with lock() as held:\n    got = held", ["lock"], ["held", "got"], True, id="async-with"),
    pytest.param("async def go():\n    await x()\nco = go()", ["x"], ["co"], False, id="await-inside-async-def-is-not-top-level"),
    pytest.param(
        "r = [await f(i) for i in xs]",
        ["xs", "f"],
        ["r"],
        True,
        id="await-inside-top-level-comprehension",
    ),
    pytest.param(
        "r = [i async for i in agen()]",
        ["agen"],
        ["r"],
        True,
        id="async-comprehension",
    ),
    pytest.param(
        "try:\n    1 / 0\nexcept ZeroDivisionError as err:\n    msg = str(err)",
        ["ZeroDivisionError", "str"],
        ["msg"],
        False,
        id="except-as-name-is-bound",
    ),
    pytest.param(
        "match cmd:\n    case [a, b]:\n        total = a + b",
        ["cmd"],
        ["a", "b", "total"],
        False,
        id="match-capture-binds",
    ),
    pytest.param("if c:\n    x = 1\nelse:\n    x = 2\ny = x", ["c"], ["x", "y"], False, id="name-assigned-in-every-branch-is-bound"),
    pytest.param("for i in xs:\n    last = i\nprint(last)", ["xs", "print", "last"], ["i", "last"], False, id="loop-body-may-not-run"),
    pytest.param("while go():\n    n = 1\nm = n", ["go", "n"], ["n", "m"], False, id="while-body-may-not-run"),
    pytest.param(
        "try:\n    v = load()\nexcept KeyError:\n    pass\nw = v", ["load", "KeyError", "v"], ["v", "w"], False, id="try-body-may-fail"
    ),
    pytest.param(
        "try:\n    v = load()\nexcept KeyError:\n    v = 0\nw = v", ["load", "KeyError"], ["v", "w"], False, id="try-and-handler-both-bind"
    ),
    pytest.param("ok = flag and (got := f())\nr = got", ["flag", "f", "got"], ["got", "ok", "r"], False, id="short-circuit-walrus"),
    pytest.param("x = 1\ndel x\ny = x", ["x"], ["x", "y"], False, id="del-unbinds"),
    pytest.param("del obj.attr, d[k]", ["obj", "d", "k"], [], False, id="del-attribute-and-item-reads"),
    pytest.param(
        "match v:\n    case 1:\n        r = 'one'\n    case _:\n        r = 'other'\nout = r", ["v"], ["r", "out"], False,
        id="match-with-wildcard-binds-on-every-path",
    ),
    pytest.param("match v:\n    case 1:\n        r = 'one'\nout = r", ["v", "r"], ["r", "out"], False, id="match-without-wildcard"),
    pytest.param(
        "match m:\n    case {'k': K.V, **rest}:\n        pass", ["m", "K"], ["rest"], False, id="match-mapping-rest-binds-and-value-reads"
    ),
    pytest.param(
        "err = 1\ntry:\n    pass\nexcept E as err:\n    pass\ny = err", ["E", "err"], ["err", "y"], False,
        id="except-as-unbinds-its-name",
    ),
    pytest.param(
        "r = [await f(i) async for i in g()]\ndef h():\n    return [i async for i in g()]",
        ["g", "f"],
        ["r"],
        True,
        id="async-in-comprehension",
    ),
]


@pytest.mark.parametrize(("source", "reads", "assigns", "is_async"), CASES)
def test_analyse_reads_and_assigns(source: str, reads: list[str], assigns: list[str], is_async: bool) -> None:
    names = analyse(source)
    assert (names.reads, names.assigns, names.is_async) == (reads, assigns, is_async)


@pytest.mark.parametrize(
    ("source", "definite"),
    [
        pytest.param("x = 1\nif c:\n    y = 2", ["x"], id="branch-only-is-not-definite"),
        pytest.param("if c:\n    y = 1\nelse:\n    y = 2", ["y"], id="both-branches"),
        pytest.param("for i in xs:\n    last = i", [], id="loop-body-may-not-run"),
        pytest.param("x = 1\ndel x", [], id="deleted"),
    ],
)
def test_definite_names_are_bound_on_every_path(source: str, definite: list[str]) -> None:
    assert analyse(source).definite == definite


@pytest.mark.parametrize(
    ("source", "target_only"),
    [
        pytest.param("for i in items:\n    total += i", ["i"], id="for-target"),
        pytest.param("with open(p) as fh:\n    data = fh.read()", ["fh"], id="with-target"),
        pytest.param("with a() as (x, y):\n    z = x + y", ["x", "y"], id="with-tuple-target"),
        pytest.param("for i in xs:\n    pass\ni = 0", [], id="also-assigned-is-recorded"),
        pytest.param("for d['k'] in xs:\n    pass", [], id="subscript-target-binds-no-name"),
        pytest.param("def f():\n    for j in xs:\n        pass", [], id="inner-scope-targets-are-not-top-level"),
    ],
)
def test_target_only_names_are_for_and_with_targets(source: str, target_only: list[str]) -> None:
    assert analyse(source).target_only == target_only


def test_analyse_raises_syntax_error_for_a_broken_cell() -> None:
    with pytest.raises(SyntaxError):
        analyse("y = (1 +\n")


class _Thing(Entity):
    n: int = 0


def _gen():
    yield 1


@pytest.mark.parametrize(
    ("value", "counts"),
    [
        pytest.param(math, False, id="module"),
        pytest.param(len, False, id="builtin-function"),
        pytest.param(_gen, False, id="function"),
        pytest.param(lambda: 1, False, id="lambda"),
        pytest.param(_Thing, False, id="class"),
        pytest.param(_Thing().model_dump, False, id="bound-method"),
        pytest.param("abc".upper, False, id="builtin-method"),
        pytest.param(3, True, id="int"),
        pytest.param([1, 2], True, id="list"),
        pytest.param({"a": 1}, True, id="dict"),
        pytest.param(_Thing(n=1), True, id="entity"),
        pytest.param(threading.Lock(), True, id="lock"),
        pytest.param(_gen(), True, id="generator-object"),
    ],
)
def test_is_input_value_excludes_modules_functions_classes_and_builtins(value: object, counts: bool) -> None:
    assert is_input_value(value) is counts


@pytest.mark.parametrize("name", ["len", "print", "range", "ValueError"])
def test_builtin_names_are_recognised(name: str) -> None:
    assert is_builtin_name(name)
    assert hasattr(builtins, name)


def test_user_names_are_not_builtins() -> None:
    assert not is_builtin_name("students")
