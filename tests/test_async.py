"""execute / aexecute from plain code and inside a running event loop, for sync and async functions."""

from __future__ import annotations

import asyncio

import pytest
from models import Recorder, Report, Student, in_loop, registered_student, state_of

from ecs_notebook import CallableRegistry, EntityRegistry, ExecutionSemantics

ORIGINAL = LookupError("async failure")


@pytest.fixture
def rec():
    recorder = Recorder()
    unsubscribe = CallableRegistry.on_execution(recorder)
    yield recorder
    unsubscribe()


@pytest.fixture
def functions():
    """Register a sync and an async twin of the same computation, plus failing ones."""

    @CallableRegistry.register
    def grade_sync(student: Student, bonus: float = 0.0) -> Report:
        return Report(student_name=student.name, score=student.gpa + bonus)

    @CallableRegistry.register
    async def grade_async(student: Student, bonus: float = 0.0) -> Report:
        await asyncio.sleep(0)
        return Report(student_name=student.name, score=student.gpa + bonus)

    @CallableRegistry.register
    async def bump_async(student: Student) -> Student:
        await asyncio.sleep(0)
        student.gpa += 1
        return student

    @CallableRegistry.register
    async def fail_async(student: Student) -> Report:
        student.name = "mangled"
        await asyncio.sleep(0)
        raise ORIGINAL

    @CallableRegistry.register
    def fail_sync(student: Student) -> Report:
        raise ORIGINAL


_GRADERS = ["grade_sync", "grade_async"]


def _check_report(r, s, rec, name, bonus):
    assert isinstance(r, Report)
    assert (r.student_name, r.score) == (s.name, s.gpa + bonus)
    assert r.derived_from_function == name
    assert r.function_input_entities == [s.ecs_id]
    assert rec.last.succeeded and rec.last.function_name == name
    assert rec.last.output_entity_ids == [r.ecs_id]
    assert EntityRegistry.get(r.ecs_id).score == r.score


@pytest.mark.parametrize("name", _GRADERS)
def test_execute_from_plain_code(rec, functions, name):
    s = registered_student(gpa=3.0)

    r = CallableRegistry.execute(name, student=s, bonus=0.5)

    _check_report(r, s, rec, name, 0.5)


@pytest.mark.parametrize("name", _GRADERS)
@in_loop
async def test_sync_execute_inside_a_running_loop(rec, functions, name):
    asyncio.get_running_loop()  # this is what a Jupyter cell looks like
    s = registered_student(gpa=3.0)

    r = CallableRegistry.execute(name, student=s, bonus=0.25)

    _check_report(r, s, rec, name, 0.25)


@pytest.mark.parametrize("name", _GRADERS)
@in_loop
async def test_aexecute(rec, functions, name):
    s = registered_student(gpa=2.0)

    r = await CallableRegistry.aexecute(name, student=s, bonus=1.0)

    _check_report(r, s, rec, name, 1.0)


@pytest.mark.parametrize("runner", ["execute", "execute in loop", "aexecute"])
def test_async_mutation_is_recorded_like_a_sync_one(rec, functions, runner):
    s = registered_student(gpa=2.0)
    before = state_of(s)

    if runner == "execute":
        r = CallableRegistry.execute("bump_async", student=s)
    elif runner == "execute in loop":
        r = in_loop(_call_execute)("bump_async", student=s)
    else:
        r = asyncio.run(CallableRegistry.aexecute("bump_async", student=s))

    assert rec.last.semantics == [ExecutionSemantics.MUTATION]
    assert (r.gpa, r.lineage_id, r.previous_ecs_id) == (3.0, s.lineage_id, s.ecs_id)
    assert state_of(s) == before


async def _call_execute(name, **kwargs):
    return CallableRegistry.execute(name, **kwargs)


@pytest.mark.parametrize("name", ["fail_async", "fail_sync"])
@pytest.mark.parametrize("runner", ["execute", "execute in loop", "aexecute"])
def test_failures_reraise_the_original_exception_everywhere(rec, functions, runner, name):
    s = registered_student()
    before = state_of(s)

    with pytest.raises(LookupError) as ei:
        if runner == "execute":
            CallableRegistry.execute(name, student=s)
        elif runner == "execute in loop":
            in_loop(_call_execute)(name, student=s)
        else:
            asyncio.run(CallableRegistry.aexecute(name, student=s))

    assert ei.value is ORIGINAL
    assert rec.last.succeeded is False and rec.last.error_type == "LookupError"
    assert rec.last_outputs == []
    assert state_of(s) == before
    assert EntityRegistry.history(s.lineage_id) == [s.ecs_id]


@in_loop
async def test_gather_of_twenty_aexecute_calls_records_twenty_separate_executions(rec, functions):
    s = registered_student(gpa=1.0)
    other = registered_student("Bob", 2.0)

    results = await asyncio.gather(
        *[CallableRegistry.aexecute("grade_async" if k % 2 else "grade_sync", student=s if k % 3 else other, bonus=k) for k in range(20)]
    )

    assert len(rec.calls) == 20
    executions = {e.ecs_id: e for e in rec.executions}
    assert len(executions) == 20
    for k, r in enumerate(results):
        student = s if k % 3 else other
        assert (r.student_name, r.score) == (student.name, student.gpa + k)
        ex = executions[r.derived_from_execution_id]
        assert ex.function_name == ("grade_async" if k % 2 else "grade_sync")
        assert ex.output_entity_ids == [r.ecs_id]
        assert ex.input_entity_ids == [student.ecs_id]
        assert EntityRegistry.get(ex.input_entity_id).bonus == k
    assert len({r.ecs_id for r in results}) == 20
    assert EntityRegistry.history(s.lineage_id) == [s.ecs_id]


def test_hooks_keep_firing_after_any_mix_of_sync_and_async_calls(rec, functions):
    s = registered_student()
    names = []

    async def in_a_loop():
        names.append(CallableRegistry.execute("grade_async", student=s).derived_from_function)
        names.append((await CallableRegistry.aexecute("grade_sync", student=s)).derived_from_function)
        names.append(CallableRegistry.execute("grade_sync", student=s).derived_from_function)
        with pytest.raises(LookupError):
            await CallableRegistry.aexecute("fail_async", student=s)

    names.append(CallableRegistry.execute("grade_async", student=s).derived_from_function)
    asyncio.run(in_a_loop())
    names.append(CallableRegistry.execute("grade_sync", student=s).derived_from_function)
    asyncio.run(CallableRegistry.aexecute("grade_async", student=s))
    names.append("grade_async")
    with pytest.raises(LookupError):
        CallableRegistry.execute("fail_async", student=s)
    names.append(CallableRegistry.execute("grade_async", student=s).derived_from_function)

    reported = [e.function_name for e in rec.executions]
    assert reported == [
        "grade_async",
        "grade_async",
        "grade_sync",
        "grade_sync",
        "fail_async",
        "grade_sync",
        "grade_async",
        "fail_async",
        "grade_async",
    ]
    assert [e.succeeded for e in rec.executions].count(False) == 2
    assert names == [n for n in reported if n != "fail_async"]


@in_loop
async def test_hook_runs_before_aexecute_returns(functions):
    s = registered_student()
    events = []
    CallableRegistry.on_execution(lambda execution, outputs: events.append(("hook", len(outputs))))

    await CallableRegistry.aexecute("grade_async", student=s)
    events.append("returned")

    assert events == [("hook", 1), "returned"]


_NESTED_SCRIPT = """
import asyncio, sys, threading
from ecs_notebook import CallableRegistry

async def inner(x: int) -> int:
    return x + 1

async def outer(x: int) -> int:
    return CallableRegistry.execute("inner", x=x).result * 10

CallableRegistry.register(inner)
CallableRegistry.register(outer)

async def cell():  # a notebook cell: code running inside an event loop
    return CallableRegistry.execute("outer", x=1).result

result = {}
worker = threading.Thread(target=lambda: result.setdefault("r", asyncio.run(cell())), daemon=True)
worker.start()
worker.join(3)
print(result.get("r", "deadlock"))
sys.exit(0 if result.get("r") == 20 else 1)
"""


def test_nested_execute_from_plain_code():
    @CallableRegistry.register
    async def inner(x: int) -> int:
        return x + 1

    @CallableRegistry.register
    async def outer(x: int) -> int:
        return CallableRegistry.execute("inner", x=x).result * 10

    assert CallableRegistry.execute("outer", x=1).result == 20


def test_nested_execute_of_async_functions_inside_a_running_loop_does_not_deadlock():
    # In a subprocess: a deadlock would wedge the process-wide worker threads for good.
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _NESTED_SCRIPT], check=False, capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stdout + done.stderr
