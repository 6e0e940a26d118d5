"""ExecutionConfig / RegistryConfig: validation, per-call and registry defaults, timeouts, performance."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from models import Recorder, Report, Student, registered_student
from pydantic import ValidationError

from ecs_notebook import (
    CallableRegistry,
    ContainerEntity,
    EcsError,
    ExecutionConfig,
    ExecutionTimeoutError,
    InputValidationError,
    RegistryConfig,
)


@pytest.fixture
def rec():
    recorder = Recorder()
    unsubscribe = CallableRegistry.on_execution(recorder)
    yield recorder
    unsubscribe()


@pytest.fixture
def release():
    """An event the slow sync functions wait on; set at teardown so no worker thread outlives the test."""
    event = threading.Event()
    yield event
    event.set()


# -- validation ---------------------------------------------------------------------------------


def test_defaults():
    cfg = ExecutionConfig()
    assert (cfg.unpack_tuples, cfg.max_execution_time, cfg.track_performance, cfg.force_parameter_entities) == (
        True,
        None,
        False,
        False,
    )
    reg = RegistryConfig()
    assert (reg.enable_function_caching, reg.enable_execution_tracing) == (False, False)
    assert reg.max_cached_executions > 0
    assert isinstance(CallableRegistry.config, RegistryConfig)


@pytest.mark.parametrize(
    ("cls", "options"),
    [
        (ExecutionConfig, {"max_execution_tme": 1.0}),
        (ExecutionConfig, {"max_execution_time": -1.0}),
        (ExecutionConfig, {"max_execution_time": 0}),
        (ExecutionConfig, {"max_execution_time": "soon"}),
        (ExecutionConfig, {"unpack_tuples": "maybe"}),
        (RegistryConfig, {"enable_caching": True}),
        (RegistryConfig, {"max_execution_time": -5}),
        (RegistryConfig, {"max_cached_executions": -1}),
    ],
    ids=[
        "unknown key",
        "negative timeout",
        "zero timeout",
        "timeout not a number",
        "unpack not a bool",
        "registry unknown key",
        "registry negative timeout",
        "registry negative cache size",
    ],
)
def test_invalid_options_are_validation_errors(cls, options):
    with pytest.raises(ValidationError):
        cls(**options)


def test_assignment_is_validated_too():
    cfg = ExecutionConfig()
    with pytest.raises(ValidationError):
        cfg.max_execution_time = -1
    with pytest.raises(ValidationError):
        CallableRegistry.config.max_execution_time = -1


def test_config_argument_must_be_an_execution_config():
    @CallableRegistry.register
    def f(x: int) -> int:
        return x

    with pytest.raises(InputValidationError, match="config= takes an ExecutionConfig"):
        CallableRegistry.execute("f", x=1, config={"max_execution_time": 1})


# -- unpacking ----------------------------------------------------------------------------------


def test_registry_default_unpack_and_per_call_override():
    @CallableRegistry.register
    def two(student: Student) -> tuple[Report, Report]:
        return Report(student_name="a"), Report(student_name="b")

    s = registered_student()
    CallableRegistry.config = RegistryConfig(unpack_tuples=False)

    assert isinstance(CallableRegistry.execute("two", student=s), ContainerEntity)
    assert isinstance(CallableRegistry.execute("two", student=s, unpack=True), list)
    assert isinstance(CallableRegistry.execute("two", student=s, config=ExecutionConfig()), list)


# -- timeouts -----------------------------------------------------------------------------------


def _register_slow(release: threading.Event, cancelled: threading.Event | None = None):
    @CallableRegistry.register
    def slow(x: int) -> int:
        release.wait(2.0)  # "sleeps 2 s", but ends early when the test is over
        return x

    @CallableRegistry.register
    async def slow_async(x: int) -> int:
        try:
            await asyncio.sleep(2.0)
        except asyncio.CancelledError:
            if cancelled is not None:
                cancelled.set()
            raise
        return x


def test_sync_function_past_max_execution_time_raises_quickly_and_is_reported_running(rec, release):
    _register_slow(release)
    t0 = time.perf_counter()

    with pytest.raises(ExecutionTimeoutError) as ei:
        CallableRegistry.execute("slow", x=1, config=ExecutionConfig(max_execution_time=0.2))

    elapsed = time.perf_counter() - t0
    assert elapsed < 1.5  # not the 2 s the function would take (a loose bound, not a timing test)
    assert isinstance(ei.value, TimeoutError) and isinstance(ei.value, EcsError)
    assert "slow" in str(ei.value)
    ex = rec.last
    assert (ex.succeeded, ex.error_type, ex.may_still_be_running) == (False, "ExecutionTimeoutError", True)
    assert rec.last_outputs == []


def test_async_function_past_max_execution_time_is_cancelled(rec):
    cancelled = threading.Event()
    _register_slow(threading.Event(), cancelled)
    t0 = time.perf_counter()

    with pytest.raises(ExecutionTimeoutError):
        CallableRegistry.execute("slow_async", x=1, config=ExecutionConfig(max_execution_time=0.2))

    assert time.perf_counter() - t0 < 1.5
    assert cancelled.wait(1.0)
    ex = rec.last
    assert (ex.succeeded, ex.error_type, ex.may_still_be_running) == (False, "ExecutionTimeoutError", False)


def test_registry_default_timeout_applies_to_every_call(rec, release):
    _register_slow(release)
    CallableRegistry.config = RegistryConfig(max_execution_time=0.2)

    with pytest.raises(ExecutionTimeoutError):
        CallableRegistry.execute("slow", x=1)
    assert rec.last.may_still_be_running is True


def test_fast_call_within_max_execution_time_succeeds(rec):
    @CallableRegistry.register
    def quick(x: int) -> int:
        return x + 1

    @CallableRegistry.register
    async def quick_async(x: int) -> int:
        return x + 2

    cfg = ExecutionConfig(max_execution_time=5.0)
    assert CallableRegistry.execute("quick", x=1, config=cfg).result == 2
    assert CallableRegistry.execute("quick_async", x=1, config=cfg).result == 3
    assert [e.succeeded for e in rec.executions] == [True, True]


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_function_raising_timeout_error_itself_is_not_a_timeout(rec, is_async):
    own = TimeoutError("my own timeout")

    if is_async:

        @CallableRegistry.register
        async def gives_up(x: int) -> int:
            raise own

    else:

        @CallableRegistry.register
        def gives_up(x: int) -> int:
            raise own

    with pytest.raises(TimeoutError) as ei:
        CallableRegistry.execute("gives_up", x=1, config=ExecutionConfig(max_execution_time=5.0))

    assert ei.value is own
    assert rec.last.error_type == "TimeoutError"
    assert rec.last.error_message == "my own timeout"
    assert rec.last.may_still_be_running is False


# -- performance --------------------------------------------------------------------------------


def _register_busy():
    @CallableRegistry.register
    def busy(n: int) -> int:
        return sum(i * i for i in range(n))


def test_track_performance_fills_cpu_time(rec):
    _register_busy()

    CallableRegistry.execute("busy", n=200_000, config=ExecutionConfig(track_performance=True))
    tracked = rec.last
    CallableRegistry.execute("busy", n=10, config=ExecutionConfig())
    untracked = rec.last

    assert tracked.cpu_time_s is not None and tracked.cpu_time_s > 0
    assert tracked.duration_s > 0
    assert untracked.cpu_time_s is None


def test_track_performance_records_peak_memory(rec):
    @CallableRegistry.register
    def allocate(n: int) -> int:
        return len(bytearray(n))

    CallableRegistry.execute("allocate", n=5_000_000, config=ExecutionConfig(track_performance=True))

    assert rec.last.peak_memory_bytes is not None and rec.last.peak_memory_bytes >= 5_000_000


def test_function_caching_returns_recorded_outputs(rec):
    calls = []

    @CallableRegistry.register
    def costly(student: Student, k: int) -> Report:
        calls.append(k)
        return Report(student_name=student.name, score=k)

    CallableRegistry.config = RegistryConfig(enable_function_caching=True)
    s = registered_student()
    first = CallableRegistry.execute("costly", student=s, k=1)
    second = CallableRegistry.execute("costly", student=s, k=1)

    assert calls == [1]
    assert second.ecs_id == first.ecs_id
    assert rec.last.cached is True
    assert rec.last.cached_from == first.derived_from_execution_id

    third = CallableRegistry.execute("costly", student=s, k=2)  # other parameters: computed again
    assert calls == [1, 2] and third.score == 2
    assert rec.last.cached is False


def test_execution_tracing_records_a_phase_trace(rec):
    @CallableRegistry.register
    def traced(x: int) -> int:
        return x

    CallableRegistry.config = RegistryConfig(enable_execution_tracing=True)
    CallableRegistry.execute("traced", x=1)

    assert rec.last.trace
