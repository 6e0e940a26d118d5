"""Running coroutines and time-limited calls from synchronous code, inside or outside an event loop."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_local = threading.local()
_pools: dict[str, concurrent.futures.ThreadPoolExecutor] = {}


def _pool(kind: str) -> concurrent.futures.ThreadPoolExecutor:
    with _lock:
        pool = _pools.get(kind)
        if pool is None:
            pool = _pools[kind] = concurrent.futures.ThreadPoolExecutor(max_workers=64, thread_name_prefix=f"ecs-notebook-{kind}")
        return pool


def _thread_loop() -> asyncio.AbstractEventLoop:
    """An event loop kept for the calling thread (created once, reused by every call)."""
    loop = getattr(_local, "loop", None)
    if loop is None or loop.is_closed():
        loop = _local.loop = asyncio.new_event_loop()
    return loop


def _run_here(coro: Coroutine[Any, Any, T], timeout: float | None) -> T:
    __tracebackhide__ = True
    limited = asyncio.wait_for(coro, timeout) if timeout is not None else coro
    return _thread_loop().run_until_complete(limited)


def run_coroutine(coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
    """Run ``coro`` to completion from sync code and return its result.

    Outside a running loop it runs on a loop kept for this thread (no ``asyncio.run`` per call).
    Inside one (a Jupyter cell, or an async registered function calling ``execute``) that loop is
    busy running the caller, so the coroutine runs on a worker thread's own loop while this
    thread waits; nesting works to any depth.

    Raises:
        TimeoutError: past ``timeout`` seconds (the coroutine is cancelled).
    """
    __tracebackhide__ = True
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _run_here(coro, timeout)
    return _pool("async").submit(_run_here, coro, timeout).result()


def call_with_timeout(func: Callable[..., T], kwargs: dict[str, Any], timeout: float) -> T:
    """Call ``func(**kwargs)`` in a worker thread and wait at most ``timeout`` seconds.

    Exceptions of ``func`` (TimeoutError included) are re-raised unchanged.

    Raises:
        ExecutionDeadline: the call did not finish in time (it may still be running in its thread).
    """
    __tracebackhide__ = True
    future = _pool("call").submit(func, **kwargs)
    done, _ = concurrent.futures.wait([future], timeout)
    if not done:
        raise ExecutionDeadline(timeout)
    return future.result()


class ExecutionDeadline(Exception):
    """The time limit of a call passed."""
