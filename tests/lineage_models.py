"""Entity classes, registered functions and hand-built lineages for the lineage-layer tests.

Each ``build_*`` function records a small lineage through the public API and returns a ``Names``
mapping readable names ("a0", "x:clean", ...) to the ecs_id strings that were recorded, so test
tables can state expected results by name.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

from ecs_notebook import CallableRegistry, Entity, EntityRegistry, create_composite_entity

TESTS_DIR = Path(__file__).resolve().parent
REPO = TESTS_DIR.parent


class Sample(Entity):
    name: str
    value: float = 0.0


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
    label: str = ""
    score: float = 0.0


class Summary(Entity):
    label: str = ""
    total: float = 0.0


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


# -- helpers ---------------------------------------------------------------------------------------


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


def child_env() -> dict[str, str]:
    """Environment of a child process: this folder importable, no store override."""
    env = dict(os.environ)
    env.pop("ECS_NOTEBOOK_STORE", None)
    paths = [str(TESTS_DIR), str(REPO)]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


PYTHON = sys.executable
