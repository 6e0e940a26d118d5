"""Running coroutines and time-limited calls from synchronous code, inside or outside an event loop."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_bg_loop: asyncio.AbstractEventLoop | None = None
_local = threading.local()
_pool: concurrent.futures.ThreadPoolExecutor | None = None


def _background_loop() -> asyncio.AbstractEventLoop:
    """One event loop in a daemon thread, started on first use and reused for every call."""
    global _bg_loop
    with _lock:
        if _bg_loop is None:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="ecs-notebook-async", daemon=True).start()
            _bg_loop = loop
        return _bg_loop


def _thread_loop() -> asyncio.AbstractEventLoop:
    loop = getattr(_local, "loop", None)
    if loop is None or loop.is_closed():
        loop = _local.loop = asyncio.new_event_loop()
    return loop


def run_coroutine(coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
    """Run ``coro`` to completion from sync code and return its result.

    Outside a running loop it runs on a loop kept for this thread (no ``asyncio.run`` per call);
    inside one (a Jupyter cell) it runs on a background loop while this thread waits.

    Raises:
        TimeoutError: past ``timeout`` seconds (the coroutine is cancelled).
    """
    limited = asyncio.wait_for(coro, timeout) if timeout is not None else coro
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _thread_loop().run_until_complete(limited)
    future = asyncio.run_coroutine_threadsafe(limited, _background_loop())
    return future.result()


def call_with_timeout(func: Callable[..., T], kwargs: dict[str, Any], timeout: float) -> T:
    """Call ``func(**kwargs)`` in a worker thread and wait at most ``timeout`` seconds.

    Raises:
        TimeoutError: the call did not finish in time (it may still be running in its thread).
    """
    global _pool
    with _lock:
        if _pool is None:
            _pool = concurrent.futures.ThreadPoolExecutor(thread_name_prefix="ecs-notebook-call")
    future = _pool.submit(func, **kwargs)
    try:
        return future.result(timeout)
    except concurrent.futures.TimeoutError:
        raise TimeoutError from None
