"""Entity classes and helpers for the execution tests (registration, inputs, outputs, config, async)."""

from __future__ import annotations

import asyncio
import functools

from pydantic import BaseModel

from ecs_notebook import Entity, EntityRegistry


class Course(Entity):
    name: str
    credits: int = 3


class Student(Entity):
    name: str
    gpa: float = 0.0
    courses: list[Course] = []
    scores: dict[str, float] = {}


class Report(Entity):
    student_name: str
    summary: str = ""
    score: float = 0.0


class Teacher(Entity):
    name: str
    subject: str = ""


class Item(Entity):
    name: str
    value: int = 0


class Box(Entity):
    """A container whose children can be detached by a function."""

    label: str = ""
    items: list[Item] = []


class Stats(BaseModel):
    """A plain pydantic model (not an entity) returned by functions."""

    mean: float
    count: int = 0


class Summary(BaseModel):
    """A plain pydantic model with a nested model field."""

    stats: Stats
    label: str = ""


def make_student(name: str = "Ada", gpa: float = 3.2) -> Student:
    return Student(
        name=name,
        gpa=gpa,
        courses=[Course(name="Algebra"), Course(name="Biology", credits=4)],
        scores={"math": 1.0, "art": 0.5},
    )


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
