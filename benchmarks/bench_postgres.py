"""PostgreSQL store figures, each beside the SQLite store measured in the same run; OpenLineage export rate.

- ``execute`` of a trivial entity -> new entity function: overhead over the plain call, durable per
  call (one commit) and inside ``with ecs_notebook.batch():``, PostgreSQL beside SQLite;
- recording throughput (versions/s, executions/s), durable and in ``batch()``, PostgreSQL beside SQLite;
- OpenLineage export (``to_openlineage``): events/s with every record cached, beside serialising the
  same events with ``json.dumps``; and from a fresh connection (every record read from the store),
  PostgreSQL beside SQLite.

Needs a server: ``eval "$(scripts/postgres.sh)"`` sets ``ECS_TEST_POSTGRES_URL``; without it the
module prints why and measures nothing. Each run works in a schema of its own, dropped afterwards.
The server's ``fsync``/``synchronous_commit`` settings are printed in the notes (durable figures
depend on them; SQLite runs in WAL mode with ``synchronous=NORMAL``).

    python benchmarks/run.py postgres [--quick]
    python benchmarks/bench_postgres.py [--quick]     # same, this module alone
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Row, calls_per_repeat, format_table, median_time, write_json  # noqa: E402

import ecs_notebook  # noqa: E402
from ecs_notebook import CallableRegistry, Entity  # noqa: E402
from ecs_notebook.testing import fresh_state  # noqa: E402

ENV_VAR = "ECS_TEST_POSTGRES_URL"
PLAIN = "plain call"


class Item(Entity):
    name: str
    value: int = 0


def make_item(item: Item) -> Item:
    return Item(name=item.name, value=item.value + 1)


def fail_item(item: Item) -> Item:
    raise ValueError(f"no item for {item.name}")


# -- stores ------------------------------------------------------------------------------------------


def _with_search_path(url: str, schema: str) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    options = " ".join([*(v for k, v in query if k == "options"), f"-csearch_path={schema}"])
    query = [(k, v) for k, v in query if k != "options"] + [("options", options)]
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


@contextmanager
def _pg_schema(server: str) -> Iterator[str]:
    """A fresh schema on the server; yields a store URL selecting it; dropped afterwards."""
    import psycopg

    name = f"ecs_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    try:
        yield _with_search_path(server, name)
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{name}" CASCADE')


@contextmanager
def _stores(server: str) -> Iterator[dict[str, str]]:
    """Store URLs by kind: a new SQLite file and a new PostgreSQL schema."""
    with tempfile.TemporaryDirectory(prefix="ecs-bench-") as tmp, _pg_schema(server) as pg:
        yield {"sqlite": f"sqlite:///{Path(tmp) / 'lineage.db'}", "postgres": pg}


@contextmanager
def _session(url: str) -> Iterator[None]:
    """Fresh registries recording into ``url`` (its earlier contents stay)."""
    with fresh_state():
        ecs_notebook.connect(url)
        CallableRegistry.register(make_item)
        CallableRegistry.register(fail_item)
        yield


def _settings(server: str) -> str:
    import psycopg

    with psycopg.connect(server, autocommit=True) as conn:
        values = [conn.execute(f"SHOW {name}").fetchone()[0] for name in ("server_version", "fsync", "synchronous_commit")]  # type: ignore[index]
    return f"PostgreSQL {values[0]} at {urlsplit(server).hostname}, fsync={values[1]}, synchronous_commit={values[2]}"


def _interleaved(a: Callable[[], object], b: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median seconds per call of ``a`` and of ``b``, their batches alternating (same machine noise)."""
    a(), b()
    n_a, n_b = calls_per_repeat(a), calls_per_repeat(b)
    ta, tb = [], []
    for _ in range(repeats):
        ta.append(median_time(lambda _: a(), repeats=1, number=n_a))
        tb.append(median_time(lambda _: b(), repeats=1, number=n_b))
    return statistics.median(ta), statistics.median(tb)


# -- execute overhead ----------------------------------------------------------------------------------


def _overhead(url: str, repeats: int, calls_per_batch: int = 200) -> tuple[float, float, float]:
    """(durable overhead, batch overhead per call, plain call) in seconds, on the store at ``url``."""
    with _session(url):
        item = Item(name="x")
        item.promote_to_root()

        def durable() -> object:
            return CallableRegistry.execute("make_item", item=item)

        def plain() -> object:
            return make_item(item)

        def batched() -> object:
            with ecs_notebook.batch():
                for _ in range(calls_per_batch):
                    CallableRegistry.execute("make_item", item=item)
            return None

        def plain_batch() -> object:
            for _ in range(calls_per_batch):
                make_item(item)
            return None

        exec_s, plain_s = _interleaved(durable, plain, repeats)
        batch_s, plain_b = _interleaved(batched, plain_batch, repeats)
    return exec_s - plain_s, (batch_s - plain_b) / calls_per_batch, plain_s


# -- throughput ------------------------------------------------------------------------------------------


def _throughput(url: str, repeats: int, n: int) -> dict[str, float]:
    """Versions/s and executions/s, durable and in batch(), on the store at ``url``."""
    with _session(url):
        source = Item(name="src")
        source.promote_to_root()

        def versions(_: object) -> None:
            for i in range(n):
                Item(name=f"i{i}").promote_to_root()

        def executes(_: object) -> None:
            for _ in range(n):
                CallableRegistry.execute("make_item", item=source)

        def versions_batch(_: object) -> None:
            with ecs_notebook.batch():
                versions(None)

        def executes_batch(_: object) -> None:
            with ecs_notebook.batch():
                executes(None)

        work = {"versions": versions, "versions batch": versions_batch, "executions": executes, "executions batch": executes_batch}
        return {name: n / median_time(fn, repeats=repeats) for name, fn in work.items()}


# -- OpenLineage export ------------------------------------------------------------------------------------


def _record_for_export(n: int) -> None:
    source = Item(name="src")
    source.promote_to_root()
    with ecs_notebook.batch():
        for k in range(n):
            if k % 10 == 9:
                try:
                    CallableRegistry.execute("fail_item", item=source)
                except ValueError:
                    pass
            else:
                CallableRegistry.execute("make_item", item=source)


def _export_warm(url: str, path: Path, repeats: int, n: int) -> Row:
    """Export rate with every record cached, beside json.dumps of the same events."""
    from ecs_notebook.lineage.openlineage import iter_events, to_openlineage

    with _session(url):
        _record_for_export(n)
        warm = median_time(lambda _: to_openlineage(path, producer="urn:bench"), repeats=repeats)
        built = list(iter_events("urn:bench"))
        dumps = median_time(lambda _: [json.dumps(e, separators=(",", ":")) for e in built], repeats=repeats)
    events = 2 * n
    return Row("OpenLineage export, records cached (events/s)", events, events / warm, "/s", events / dumps,
               "json.dumps of the same events", note=f"{n} executions (1 in 10 failed); higher is better")  # fmt: skip


def _export_cold(url: str, path: Path, repeats: int, n: int) -> float:
    """Events/s exported from a fresh connection (every record read from the store)."""
    from ecs_notebook.lineage.openlineage import to_openlineage

    with _session(url):
        _record_for_export(n)

        def reopened(_: object) -> None:
            ecs_notebook.connect(url)  # a new connection: nothing cached
            to_openlineage(path, producer="urn:bench")

        return 2 * n / median_time(reopened, repeats=max(3, repeats // 2))


def _export(server: str, repeats: int, n: int) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="ecs-bench-") as tmp:
        path = Path(tmp) / "lineage.jsonl"
        warm = _export_warm(f"sqlite:///{Path(tmp) / 'warm.db'}", path, repeats, n)
    with _stores(server) as urls, tempfile.TemporaryDirectory(prefix="ecs-bench-") as tmp:
        path = Path(tmp) / "lineage.jsonl"
        cold = {kind: _export_cold(url, path, repeats, n) for kind, url in urls.items()}
    return [
        warm,
        Row("OpenLineage export, fresh connection, PostgreSQL (events/s)", 2 * n, cold["postgres"], "/s", cold["sqlite"],
            "same, SQLite", note="every execution and entity record read from the store; higher is better"),
    ]  # fmt: skip


def run(quick: bool = False) -> list[Row]:
    """Measure every figure; without a server URL, print why and return no rows."""
    server = os.environ.get(ENV_VAR, "").strip()
    if not server:
        print(f"bench_postgres: skipped: set {ENV_VAR} (scripts/postgres.sh starts a server)", file=sys.stderr)
        return []
    try:
        import psycopg  # noqa: F401
    except ImportError:
        print("bench_postgres: skipped: psycopg 3 is not installed (pip install 'psycopg[binary]')", file=sys.stderr)
        return []
    repeats = 5 if quick else 9
    n = 300 if quick else 1_000
    settings = _settings(server)
    print(f"bench_postgres: {settings}", file=sys.stderr)
    with _stores(server) as urls:
        over = {kind: _overhead(url, repeats) for kind, url in urls.items()}
    with _stores(server) as urls:
        rates = {f"{name} {kind}": rate for kind, url in urls.items() for name, rate in _throughput(url, 3 if quick else 5, n).items()}
    export_rows = _export(server, 3 if quick else 5, 500 if quick else 2_000)
    (pg_d, pg_b, plain_pg), (sq_d, sq_b, plain_sq) = over["postgres"], over["sqlite"]
    higher = "higher is better; baseline: SQLite, same run"
    return [
        Row("execute overhead, SQLite, durable per call", None, sq_d * 1e6, "µs", plain_sq * 1e6, PLAIN),
        Row("execute overhead, PostgreSQL, durable per call", None, pg_d * 1e6, "µs", sq_d * 1e6, "SQLite, same run",
            note=f"plain call {plain_pg * 1e6:.1f} µs; {settings}"),
        Row("execute overhead, SQLite, in batch() (200 calls, one commit)", None, sq_b * 1e6, "µs", plain_sq * 1e6, PLAIN),
        Row("execute overhead, PostgreSQL, in batch() (200 calls, one commit)", None, pg_b * 1e6, "µs", sq_b * 1e6,
            "SQLite, same run"),
        Row("versions/s, PostgreSQL, durable (one promote_to_root = one commit)", n, rates["versions postgres"], "/s",
            rates["versions sqlite"], "SQLite", note=higher),
        Row("  versions/s, PostgreSQL, in batch()", n, rates["versions batch postgres"], "/s", rates["versions batch sqlite"],
            "SQLite", note=higher),
        Row("executions/s, PostgreSQL, durable (one commit per call)", n, rates["executions postgres"], "/s",
            rates["executions sqlite"], "SQLite", note=higher + " (each call records 3 versions)"),
        Row("  executions/s, PostgreSQL, in batch()", n, rates["executions batch postgres"], "/s",
            rates["executions batch sqlite"], "SQLite", note=higher),
        *export_rows,
    ]  # fmt: skip


if __name__ == "__main__":
    quick = "--quick" in sys.argv[1:]
    t0 = time.perf_counter()
    rows = run(quick=quick)
    seconds = round(time.perf_counter() - t0, 2)
    if rows:
        path = write_json("postgres-quick" if quick else "postgres", rows, {"quick": quick, "seconds": seconds})
        print(format_table(rows))
        print(f"\n{len(rows)} figures in {seconds:.1f} s -> {path}", file=sys.stderr)
