"""Execution figures of DESIGN A10: the overhead of ``CallableRegistry.execute`` over the plain call.

Each figure is the median per-call time of ``execute`` minus the median per-call time of calling the
same function directly, both measured in this run (medians of repeated batches, ``gc.collect()``
between batches). The baseline column shows the plain call.

    python benchmarks/run.py execute [--quick]
    python benchmarks/bench_execute.py [--quick]     # same, this module alone
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Row, calls_per_repeat, format_table, median_time, write_json  # noqa: E402

from ecs_notebook import CallableRegistry, Entity, EntityRegistry, ExecutionConfig  # noqa: E402
from ecs_notebook.testing import fresh_state  # noqa: E402

#: DESIGN A10: execute of a trivial entity -> new entity function, memory store.
TARGET_OVERHEAD_US = 25.0
PLAIN = "plain call"
TREE_CHILDREN = 1_000


class Sample(Entity):
    name: str
    value: float = 0.0


class Summary(Entity):
    label: str
    total: float = 0.0


class Leaf(Entity):
    name: str
    value: int = 0


class Tree(Entity):
    items: list[Leaf] = []


# -- the functions measured (module-level: registered once per fresh state) ------------------------


def summarize(sample: Sample) -> Summary:
    return Summary(label=sample.name, total=sample.value)


def add(a: int, b: int) -> int:
    return a + b


def combine(a: float, b: float) -> Summary:
    return Summary(label="sum", total=a + b)


def bump(tree: Tree) -> Tree:
    tree.items[TREE_CHILDREN // 2].value += 1
    return tree


async def summarize_async(sample: Sample) -> Summary:
    return Summary(label=sample.name, total=sample.value)


def _register() -> None:
    for func in (summarize, add, combine, bump):
        CallableRegistry.register(func)


def _sample(name: str = "s", value: float = 1.0) -> Sample:
    s = Sample(name=name, value=value)
    s.promote_to_root()
    return s


# -- timing ----------------------------------------------------------------------------------------


def _per_call(fn: Callable[[], object], repeats: int) -> float:
    """Median seconds per call of ``fn`` over ``repeats`` batches (gc.collect() before each batch)."""
    number = calls_per_repeat(fn)
    return median_time(lambda _: fn(), repeats=repeats, number=number)


def _interleaved(execute: Callable[[], object], plain: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median seconds per call of ``execute`` and of ``plain``, their batches alternating.

    Alternating the batches exposes both to the same machine noise (these machines drift by up to 2x
    within a run), so their difference is the overhead rather than the drift.
    """
    n_exec, n_plain = calls_per_repeat(execute), calls_per_repeat(plain)
    exec_times, plain_times = [], []
    for _ in range(repeats):
        exec_times.append(median_time(lambda _: execute(), repeats=1, number=n_exec))
        plain_times.append(median_time(lambda _: plain(), repeats=1, number=n_plain))
    return statistics.median(exec_times), statistics.median(plain_times)


def _overhead_row(figure: str, execute: Callable[[], object], plain: Callable[[], object], repeats: int, *, target: float | None) -> Row:
    execute()  # warm up: per-class caches, adapters
    plain()
    execute_s, plain_s = _interleaved(execute, plain, repeats)
    overhead_us = (execute_s - plain_s) * 1e6
    return Row(
        figure,
        None,
        overhead_us,
        "µs",
        plain_s * 1e6,
        PLAIN,
        target,
        "" if target is None else f"<= {target:g} µs over plain",
        note=f"execute {execute_s * 1e6:.2f} µs per call",
    )


def _entity_to_entity(repeats: int) -> Row:
    with fresh_state():
        _register()
        s = _sample()
        return _overhead_row(
            "execute overhead: entity -> new entity",
            lambda: CallableRegistry.execute("summarize", sample=s),
            lambda: summarize(sample=s),
            repeats,
            target=TARGET_OVERHEAD_US,
        )


def _add(repeats: int) -> Row:
    with fresh_state():
        _register()
        return _overhead_row(
            "execute overhead: add(int, int) -> int",
            lambda: CallableRegistry.execute("add", a=1, b=2),
            lambda: add(a=1, b=2),
            repeats,
            target=None,
        )


def _addresses(repeats: int) -> Row:
    with fresh_state():
        _register()
        x, y = _sample("x", 1.5), _sample("y", 2.5)
        ax, ay = f"@{x.ecs_id}.value", f"@{y.ecs_id}.value"
        return _overhead_row(
            "execute overhead: two '@uuid.field' -> entity",
            lambda: CallableRegistry.execute("combine", a=ax, b=ay),
            lambda: combine(a=x.value, b=y.value),
            repeats,
            target=None,
        )


def _tree_mutation(repeats: int) -> Row:
    with fresh_state():
        _register()
        tree = Tree(items=[Leaf(name=f"leaf{k}", value=k) for k in range(TREE_CHILDREN)])
        tree.promote_to_root()
        row = _overhead_row(
            f"execute overhead: mutation in a tree of {TREE_CHILDREN:,} children",
            lambda: CallableRegistry.execute("bump", tree=tree),
            lambda: bump(tree=tree),
            max(3, repeats // 2),
            target=None,
        )
        row.n = TREE_CHILDREN
        return row


def _aexecute_in_loop(repeats: int) -> Row:
    async def measure() -> tuple[float, float]:
        s = _sample()
        CallableRegistry.register(summarize_async)

        async def batch_execute(number: int) -> float:
            t0 = time.perf_counter()
            for _ in range(number):
                await CallableRegistry.aexecute("summarize_async", sample=s)
            return (time.perf_counter() - t0) / number

        async def batch_plain(number: int) -> float:
            t0 = time.perf_counter()
            for _ in range(number):
                await summarize_async(sample=s)
            return (time.perf_counter() - t0) / number

        numbers = []
        for batch in (batch_execute, batch_plain):
            one = await batch(1)
            numbers.append(max(1, int(0.02 / max(one, 1e-7))))
        exec_times, plain_times = [], []
        for _ in range(repeats):  # alternating batches, as in _interleaved
            gc.collect()
            exec_times.append(await batch_execute(numbers[0]))
            gc.collect()
            plain_times.append(await batch_plain(numbers[1]))
        return statistics.median(exec_times), statistics.median(plain_times)

    with fresh_state():
        execute_s, plain_s = asyncio.run(measure())
    return Row(
        "aexecute overhead in a running loop: entity -> new entity",
        None,
        (execute_s - plain_s) * 1e6,
        "µs",
        plain_s * 1e6,
        "plain await",
        None,
        note=f"aexecute {execute_s * 1e6:.2f} µs per call",
    )


def _growth(repeats: int, earlier: int) -> list[Row]:
    """(a) measured in a fresh registry, then again after ``earlier`` recorded calls."""
    with fresh_state():
        _register()
        s = _sample()

        def call() -> Any:
            return CallableRegistry.execute("summarize", sample=s)

        call()
        fresh_s = _per_call(call, repeats)
        t0 = time.perf_counter()
        for _ in range(earlier):
            call()
        bulk_s = (time.perf_counter() - t0) / earlier
        later_s = _per_call(call, repeats)
        versions = len(EntityRegistry)
    return [
        Row(
            "execute entity -> new entity, after 0 earlier calls",
            0,
            fresh_s * 1e6,
            "µs",
            None,
            note="memory store; absolute time per call",
        ),
        Row(
            f"  same, after {earlier:,} earlier calls",
            earlier,
            later_s * 1e6,
            "µs",
            fresh_s * 1e6,
            "after 0 calls",
            1.5 * fresh_s * 1e6,
            "<= 1.5x after 0 (no growth)",
            note=f"{versions:,} versions recorded; mean over the bulk calls {bulk_s * 1e6:.2f} µs",
        ),
    ]


def slow_square(x: int) -> int:
    """A step worth caching: about a millisecond of pure-Python work."""
    checksum = sum(k % (x + 1) for k in range(20_000))
    return x * x if checksum >= 0 else 0


def _extra_row(figure: str, seconds: float, base_s: float) -> Row:
    return Row(figure, None, (seconds - base_s) * 1e6, "µs", base_s * 1e6, "execute, default config", note="extra per call")


def _config_rows(repeats: int) -> list[Row]:
    """Issue 9: a cache hit against running the function; the cost of each option over a plain execute."""
    rows = []
    with fresh_state():
        _register()
        CallableRegistry.register(slow_square)
        cached = ExecutionConfig(cache=True)
        CallableRegistry.execute("slow_square", x=7, config=cached)  # the original the hits are served from
        hit_s = _per_call(lambda: CallableRegistry.execute("slow_square", x=7, config=cached), repeats)
        run_s = _per_call(lambda: CallableRegistry.execute("slow_square", x=7), repeats)
        rows.append(
            Row(
                "cache hit: slow_square (about 1 ms of work)",
                None,
                hit_s * 1e6,
                "µs",
                run_s * 1e6,
                "execute, function run",
                note="hit = lookup by code version and input versions, outputs served as recorded",
            )
        )
        s = _sample()
        base_s = _per_call(lambda: CallableRegistry.execute("summarize", sample=s), repeats)
        options: list[tuple[str, Callable[[], object]]] = [
            ("track_performance=True", lambda: CallableRegistry.execute("summarize", sample=s, config=tracked)),
            ("max_execution_time=5 (sync: worker thread)", lambda: CallableRegistry.execute("summarize", sample=s, config=limited)),
        ]
        tracked = ExecutionConfig(track_performance=True)
        limited = ExecutionConfig(max_execution_time=5.0)
        for name, fn in options:
            fn()
            t = _per_call(fn, repeats)
            rows.append(_extra_row(f"execute with {name}", t, base_s))
        CallableRegistry.config.enable_execution_tracing = True
        try:
            t = _per_call(lambda: CallableRegistry.execute("summarize", sample=s), repeats)
        finally:
            CallableRegistry.config.enable_execution_tracing = False
        rows.append(_extra_row("execute with tracing (per-phase trace)", t, base_s))
    return rows


def run(quick: bool = False) -> list[Row]:
    """Measure every execution figure; ``quick`` uses fewer repeats and 10,000 earlier calls."""
    repeats = 5 if quick else 9
    return [
        _entity_to_entity(repeats),
        _add(repeats),
        _addresses(repeats),
        _tree_mutation(repeats),
        _aexecute_in_loop(repeats),
        *_config_rows(repeats),
        *_growth(repeats, 10_000 if quick else 100_000),
    ]


if __name__ == "__main__":
    quick = "--quick" in sys.argv[1:]
    t0 = time.perf_counter()
    rows = run(quick=quick)
    seconds = round(time.perf_counter() - t0, 2)
    path = write_json("execute-quick" if quick else "execute", rows, {"quick": quick, "seconds": seconds})
    print(format_table(rows))
    print(f"\n{len(rows)} figures in {seconds:.1f} s -> {path}", file=sys.stderr)
