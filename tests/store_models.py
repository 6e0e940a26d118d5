"""Entity classes, functions and helpers for the store tests (importable as ``store_models`` in child processes).

Child processes get ``tests/`` on ``PYTHONPATH`` so that they can import the classes recorded by
another process (a store never imports them itself: reading a row never imports what it names).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from ecs_notebook import CallableRegistry, Entity

TESTS_DIR = Path(__file__).resolve().parent
REPO = TESTS_DIR.parent


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
    score: float = 0.0


class Item(Entity):
    name: str
    value: int = 0


class Bag(Entity):
    label: str = ""
    items: list[Item] = []


class Holder(Entity):
    """Holds any value: the codec decides how it is stored."""

    value: Any = None
    note: str = ""


def make_student(name: str = "Ada", gpa: float = 3.2) -> Student:
    return Student(
        name=name,
        gpa=gpa,
        courses=[Course(name="Algebra"), Course(name="Biology", credits=4)],
        scores={"math": 1.0, "art": 0.5},
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


# -- child processes ---------------------------------------------------------------------------


def child_env(extra_path: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """Environment of a child process: ``store_models`` importable, no store override."""
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
