"""The entity classes, registered functions and helpers every test module shares (one module: ``models``).

Child processes get ``tests/`` on ``PYTHONPATH`` (``child_env()``) so that they can import the classes
recorded by another process: a store never imports them itself (reading a row never imports what
it names), so stored versions of these classes are typed as ``models:<Class>`` in any process that
imported this module.

Sections: entity classes; builders; the lineage-layer functions and hand-built lineages (each
``build_*`` records a small lineage through the public API and returns a ``Names`` mapping readable
names to the recorded ecs_id strings); execution helpers; store helpers (child processes, scripts);
helpers independent of the code under test.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ecs_notebook import CallableRegistry, Entity, EntityRegistry, create_composite_entity

TESTS_DIR = Path(__file__).resolve().parent
REPO = TESTS_DIR.parent
PYTHON = sys.executable


# -- entity classes ----------------------------------------------------------------------------


class Course(Entity):
    name: str
    credits: int = 3


class Student(Entity):
    name: str
    gpa: float = 0.0
    courses: list[Course] = []
    scores: dict[str, float] = {}
    advisor: Course | None = None
    tags: list[str] = []


class Report(Entity):
    """What the test functions return: about a student (execution, store tests) or a sample (lineage tests)."""

    student_name: str = ""
    summary: str = ""
    label: str | None = None  # None, not "": an unlabelled report is shown by its type and short id
    score: float = 0.0


class Summary(Entity):
    label: str = ""
    total: float = 0.0


class Item(Entity):
    name: str
    value: int = 0


class Sample(Entity):
    name: str
    value: float = 0.0


class Leaf(Entity):
    """Depth 3: the bottom of a three-level tree."""

    label: str
    value: int = 0


class Middle(Entity):
    """Depth 2: holds leaves in every container shape."""

    name: str
    leaf: Leaf | None = None
    leaves: list[Leaf] = []
    by_key: dict[str, Leaf] = {}


class Top(Entity):
    """Depth 1: the root of a three-level tree, with tuple/set/dict-of-entity fields."""

    title: str
    middle: Middle | None = None
    middles: list[Middle] = []
    pair: tuple[Leaf, ...] = ()
    bag: set[Leaf] = set()
    index: dict[str, Middle] = {}
    matrix: list[list[int]] = []
    notes: dict[str, list[str]] = {}


class Node(Entity):
    """A self-referencing class, for cycles and arbitrary depth."""

    name: str = ""
    child: Node | None = None
    children: list[Node] = []


class Root(Entity):
    items: list[Item] = []


class Teacher(Entity):
    name: str
    subject: str = ""


class Box(Entity):
    """A container whose children can be detached by a function."""

    label: str = ""
    items: list[Item] = []


class Stats(BaseModel):
    """A plain pydantic model (not an entity) returned by functions."""

    mean: float
    count: int = 0


class StatsSummary(BaseModel):
    """A plain pydantic model with a nested model field."""

    stats: Stats
    label: str = ""


class Bag(Entity):
    label: str = ""
    items: list[Item] = []


class Holder(Entity):
    """Holds any value: the codec decides how it is stored."""

    value: Any = None
    note: str = ""


class Wrap(Entity):
    """Holds a whole student: a new tree around an existing one."""

    student: Student | None = None
    note: str = ""


class Shelf(Entity):
    """A tree with many children (large-diff tests)."""

    title: str = ""
    items: list[Sample] = []
    by_key: dict[str, Course] = {}
    pair: tuple[Course, ...] = ()
    matrix: list[list[int]] = []
    meta: dict[str, list[str]] = {}


class Group(Entity):
    name: str = ""
    items: list[Sample] = []


class Library(Entity):
    """Two levels of many children: groups of samples."""

    title: str = ""
    groups: list[Group] = []


# -- builders ----------------------------------------------------------------------------------


def make_student(name: str = "Ada", gpa: float = 3.2) -> Student:
    return Student(
        name=name,
        gpa=gpa,
        courses=[Course(name="Algebra"), Course(name="Biology", credits=4)],
        scores={"math": 1.0, "art": 0.5},
    )


def make_full_student() -> Student:
    """A student with every kind of field filled: children in a list, a dict of floats, an optional child, tags."""
    return Student(
        name="Ada",
        gpa=3.6,
        courses=[Course(name="Algebra"), Course(name="Biology", credits=4)],
        scores={"math": 1.0, "art": 0.5},
        advisor=Course(name="Advising", credits=0),
        tags=["a"],
    )


def make_top() -> Top:
    """A three-level tree: Top -> Middle -> Leaf, with every container shape."""
    return Top(
        title="top",
        middle=Middle(
            name="m0",
            leaf=Leaf(label="deep", value=1),
            leaves=[Leaf(label="l0"), Leaf(label="l1")],
            by_key={"k": Leaf(label="kv")},
        ),
        middles=[Middle(name="m1", leaves=[Leaf(label="x")]), Middle(name="m2")],
        pair=(Leaf(label="p0"), Leaf(label="p1")),
        bag={Leaf(label="s0")},
        index={"i": Middle(name="mi", leaf=Leaf(label="il"))},
        matrix=[[1, 2], [3]],
        notes={"n": ["x"]},
    )


def make_bag(n: int, label: str = "bag") -> Bag:
    return Bag(label=label, items=[Item(name=f"item{k}", value=k) for k in range(n)])


def register_functions() -> None:
    """Register the functions the store tests execute (call inside each test / child process)."""

    @CallableRegistry.register("report")
    def report(student: Student, bonus: float = 0.0) -> Report:
        return Report(student_name=student.name, score=student.gpa + bonus)

    @CallableRegistry.register("rename")
    def rename(student: Student, name: str) -> Student:
        student.name = name
        return student

    @CallableRegistry.register("boom")
    def boom(student: Student) -> Report:
        raise ValueError(f"no report for {student.name}")

    @CallableRegistry.register("make_item")
    def make_item(item: Item, k: int) -> Item:
        return Item(name=f"{item.name}-{k}", value=k)


def library(groups: int, per_group: int) -> Library:
    lib = Library(
        title="lib",
        groups=[Group(name=f"g{g}", items=[Sample(name=f"s{g}.{k}", value=float(k)) for k in range(per_group)]) for g in range(groups)],
    )
    lib.promote_to_root()
    return lib


# -- registered functions (module level, registered again in every fresh state) ------------------


def clean(a: Sample) -> Sample:
    """MUTATION: a new version of the input's lineage."""
    a.value = a.value + 1
    return a


def report(a: Sample) -> Report:
    """CREATION: a new lineage."""
    return Report(label=a.name, score=a.value)


def summarize(r: Report) -> Summary:
    return Summary(label=r.label, total=r.score)


def split(a: Sample) -> tuple[Report, Report]:
    """Fan-out: two unpacked outputs."""
    return Report(label=a.name + "-lo", score=a.value - 1), Report(label=a.name + "-hi", score=a.value + 1)


def merge(x: Report, y: Report) -> Summary:
    """Fan-in: one output from two inputs."""
    return Summary(label=x.label + "+" + y.label, total=x.score + y.score)


def same(a: Sample) -> Sample:
    """Returns its input unchanged (MUTATION, no new version)."""
    return a


def boom(a: Sample) -> Sample:
    msg = "boom"
    raise RuntimeError(msg)


def pick(s: Student) -> Course:
    """DETACHMENT: a changed child of the input becomes a root."""
    c = s.courses[0]
    c.name = c.name + "!"
    return c


def grade(s: Student, bonus: float = 0.5) -> Student:
    s.gpa = s.gpa + bonus
    return s


def describe(c: Course) -> Report:
    return Report(label=c.name, score=float(c.credits))


def wrap(s: Student) -> Wrap:
    """CREATION whose output holds the (unchanged) input as a child."""
    return Wrap(student=s, note="wrapped")


FUNCTIONS: tuple[Callable[..., object], ...] = (clean, report, summarize, split, merge, same, boom, pick, grade, describe, wrap)


def register_all() -> None:
    for f in FUNCTIONS:
        CallableRegistry.register(f)


class Names(dict):  # type: ignore[type-arg]
    """name -> ecs_id string; ``names.of(ids)`` maps ids back to names (unknown ids kept as ids)."""

    def of(self, ids) -> set[str]:
        back = {v: k for k, v in self.items()}
        return {back.get(str(i), str(i)) for i in ids}

    def add(self, name: str, entity_or_id) -> None:
        self[name] = str(getattr(entity_or_id, "ecs_id", entity_or_id))

    def execution_of(self, name: str, entity: Entity) -> None:
        self[name] = str(entity.derived_from_execution_id)


def sample(name: str = "a", value: float = 1.0) -> Sample:
    s = Sample(name=name, value=value)
    s.promote_to_root()
    return s


def student() -> Student:
    s = Student(
        name="Ada",
        gpa=3.0,
        courses=[Course(name="Algebra"), Course(name="Biology", credits=4)],
        scores={"math": 1.0, "art": 0.5},
        advisor=Course(name="Advising", credits=0),
        tags=["a"],
    )
    s.promote_to_root()
    return s


def last_execution_id() -> str:
    return str(CallableRegistry.executions()[-1].ecs_id)


# -- hand-built lineages ---------------------------------------------------------------------------


def build_pipeline() -> Names:
    """a0 --clean--> a1 (new version) --report--> r --summarize--> m."""
    register_all()
    n = Names()
    a = sample("a", 1.0)
    n.add("a0", a)
    a1 = CallableRegistry.execute("clean", a=a)
    n.add("a1", a1)
    n.execution_of("x:clean", a1)
    r = CallableRegistry.execute("report", a=a1)
    n.add("r", r)
    n.execution_of("x:report", r)
    m = CallableRegistry.execute("summarize", r=r)
    n.add("m", m)
    n.execution_of("x:summarize", m)
    return n


def build_fan_out() -> Names:
    """s --split--> (lo, hi); lo --summarize--> slo; hi --summarize--> shi."""
    register_all()
    n = Names()
    s = sample("s", 5.0)
    n.add("s", s)
    lo, hi = CallableRegistry.execute("split", a=s)
    n.add("lo", lo)
    n.add("hi", hi)
    n.execution_of("x:split", lo)
    slo = CallableRegistry.execute("summarize", r=lo)
    shi = CallableRegistry.execute("summarize", r=hi)
    n.add("slo", slo)
    n.add("shi", shi)
    n.execution_of("x:slo", slo)
    n.execution_of("x:shi", shi)
    return n


def build_fan_in() -> Names:
    """a --report--> ra; b --report--> rb; (ra, rb) --merge--> m; other --report--> ro (unrelated)."""
    register_all()
    n = Names()
    a, b, other = sample("a", 1.0), sample("b", 2.0), sample("o", 3.0)
    n.add("a", a)
    n.add("b", b)
    n.add("o", other)
    ra = CallableRegistry.execute("report", a=a)
    rb = CallableRegistry.execute("report", a=b)
    ro = CallableRegistry.execute("report", a=other)
    n.add("ra", ra)
    n.add("rb", rb)
    n.add("ro", ro)
    n.execution_of("x:ra", ra)
    n.execution_of("x:rb", rb)
    n.execution_of("x:ro", ro)
    m = CallableRegistry.execute("merge", x=ra, y=rb)
    n.add("m", m)
    n.execution_of("x:merge", m)
    return n


def build_versions() -> Names:
    """e0 -> e1 -> e2 by in-place edits and version_entity; r derived from e1."""
    register_all()
    n = Names()
    e = sample("e", 0.0)
    n.add("e0", e)
    e.value = 1.0
    EntityRegistry.version_entity(e)
    n.add("e1", e)
    r = CallableRegistry.execute("report", a=e)
    n.add("r", r)
    n.execution_of("x:report", r)
    e.value = 2.0
    EntityRegistry.version_entity(e)
    n.add("e2", e)
    return n


def build_borrows() -> Names:
    """src --borrow(label)--> comp (create_composite_entity); src --borrow(label)--> tgt (borrow_attribute_from)."""
    register_all()
    n = Names()
    src = sample("source", 7.0)
    n.add("src", src)
    comp = create_composite_entity(Report, {"label": f"@{src.ecs_id}.name", "score": 1.5})
    n.add("comp", comp)
    tgt = Report(score=2.0)
    tgt.borrow_attribute_from(src, "name", "label")
    tgt.promote_to_root()
    n.add("tgt", tgt)
    s2 = CallableRegistry.execute("summarize", r=comp)
    n.add("s2", s2)
    n.execution_of("x:summarize", s2)
    return n


def build_tree() -> Names:
    """A student with child courses; pick() detaches a changed first course; grade() mutates."""
    register_all()
    n = Names()
    s = student()
    n.add("s0", s)
    n.add("alg0", s.courses[0])
    n.add("bio", s.courses[1])
    n.add("adv", s.advisor)
    c = CallableRegistry.execute("pick", s=s)
    n.add("alg1", c)
    n.execution_of("x:pick", c)
    s1 = CallableRegistry.execute("grade", s=s, bonus=1.0)
    n.add("s1", s1)
    n.execution_of("x:grade", s1)
    return n


BUILDERS: dict[str, Callable[[], Names]] = {
    "pipeline": build_pipeline,
    "fan_out": build_fan_out,
    "fan_in": build_fan_in,
    "versions": build_versions,
    "borrows": build_borrows,
    "tree": build_tree,
}


# -- execution helpers -------------------------------------------------------------------------


def registered_student(name: str = "Ada", gpa: float = 3.2) -> Student:
    s = make_student(name, gpa)
    s.promote_to_root()
    return s


def state_of(obj: Entity) -> dict:
    """Everything a caller could observe on an entity, nested entities included (not live ids)."""
    out = {"__class__": type(obj).__qualname__}
    for name in type(obj).model_fields:
        if name in ("live_id", "root_live_id"):
            continue
        out[name] = _state_value(getattr(obj, name))
    return out


def _state_value(v):
    if isinstance(v, Entity):
        return state_of(v)
    if isinstance(v, (list, tuple)):
        return [_state_value(x) for x in v]
    if isinstance(v, dict):
        return {k: _state_value(x) for k, x in v.items()}
    return v


def executions():
    """Every recorded FunctionExecution, oldest first (copies)."""
    from ecs_notebook import CallableRegistry

    return CallableRegistry.executions()


def registry_size() -> int:
    return len(EntityRegistry)


class Recorder:
    """An ``on_execution`` callback that keeps every (execution, outputs) it is given."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def __call__(self, execution, outputs) -> None:
        self.calls.append((execution, list(outputs)))

    @property
    def executions(self) -> list:
        return [e for e, _ in self.calls]

    @property
    def last(self):
        assert self.calls, "no execution was reported"
        return self.calls[-1][0]

    @property
    def last_outputs(self) -> list:
        assert self.calls, "no execution was reported"
        return self.calls[-1][1]


def in_loop(test):
    """Run an ``async def`` test inside a running event loop (what a Jupyter cell is).

    The project has no pytest-asyncio; this keeps async tests plain pytest functions.
    """

    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        return asyncio.run(test(*args, **kwargs))

    return wrapper


# -- child processes ---------------------------------------------------------------------------


def child_env(extra_path: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """Environment of a child process: ``models`` importable, no store override."""
    env = dict(os.environ)
    env.pop("ECS_NOTEBOOK_STORE", None)
    paths = [str(TESTS_DIR), str(REPO)]
    if extra_path is not None:
        paths.insert(0, str(extra_path))
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def script_path(tmp: Path, name: str, code: str) -> Path:
    path = tmp / name
    path.write_text(textwrap.dedent(code), encoding="utf-8")
    return path


def run_script(tmp: Path, code: str, *args: str, name: str = "script.py", timeout: float = 60, extra_path: Any = None) -> Any:
    """Run ``code`` as ``__main__`` in a new Python process; return the JSON it prints last.

    The script gets ``sys.argv[1:] == args``; it must print one JSON document as its last line.
    """
    path = script_path(tmp, name, code)
    proc = subprocess.run(
        [sys.executable, str(path), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=child_env(extra_path),
        cwd=tmp,
    )
    assert proc.returncode == 0, f"{name} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert lines, f"{name} printed nothing:\n{proc.stderr}"
    return json.loads(lines[-1])


def sqlite_url(path: Path) -> str:
    return "sqlite:///" + str(path)


# -- helpers independent of the code under test ------------------------------------------------

_SKIP_IN_DUMP = frozenset({"live_id", "root_live_id"})


def _values(value):
    """Yield every value nested in a container (lists, tuples, sets, dict values)."""
    if isinstance(value, (list, tuple, set, frozenset)):
        for v in value:
            yield from _values(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _values(v)
    else:
        yield value


def all_entities(root: Entity) -> list[Entity]:
    """Every entity in the tree under ``root`` (root first), found by plain recursion."""
    out = [root]
    for name in type(root).model_fields:
        for v in _values(getattr(root, name)):
            if isinstance(v, Entity):
                out.extend(all_entities(v))
    return out


def dump(value, skip=_SKIP_IN_DUMP):
    """A comparable picture of a value: entities become dicts of every field except per-object ids.

    Two trees dump equal when they hold the same data, versions, lineages and provenance, whatever
    Python objects hold them. ``skip`` names the entity fields left out.
    """
    if isinstance(value, Entity):
        out = {"__class__": type(value).__qualname__}
        for name in type(value).model_fields:
            if name not in skip:
                out[name] = dump(getattr(value, name), skip)
        return out
    if isinstance(value, list):
        return [dump(v, skip) for v in value]
    if isinstance(value, tuple):
        return ("tuple", *[dump(v, skip) for v in value])
    if isinstance(value, (set, frozenset)):
        return ("set", *sorted((dump(v, skip) for v in value), key=repr))
    if isinstance(value, dict):
        return {k: dump(v, skip) for k, v in value.items()}
    return value


def parents(root: Entity) -> dict[int, Entity]:
    """Map ``id(child)`` to its parent entity, for every entity under ``root``."""
    out: dict[int, Entity] = {}
    for e in all_entities(root):
        for name in type(e).model_fields:
            for v in _values(getattr(e, name)):
                if isinstance(v, Entity):
                    out[id(v)] = e
    return out


def with_ancestors(root: Entity, targets) -> dict[int, Entity]:
    """The entities on the paths from ``root`` to each target (both ends included), by ``id()``."""
    parent = parents(root)
    out: dict[int, Entity] = {}
    for t in targets:
        cur = t
        while cur is not None:
            out[id(cur)] = cur
            cur = parent.get(id(cur))
    return out
