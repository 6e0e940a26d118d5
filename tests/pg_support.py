"""A real PostgreSQL server for the store tests: its URL from ``ECS_TEST_POSTGRES_URL``, a fresh schema per test.

Each test gets a schema of its own (``CREATE SCHEMA``), selected through the URL's
``options=-csearch_path=...``, and dropped afterwards: tests never see each other's data. Without the
variable every PostgreSQL test is skipped with the reason below.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import pytest

ENV_VAR = "ECS_TEST_POSTGRES_URL"
SKIP_REASON = "set ECS_TEST_POSTGRES_URL (scripts/postgres.sh starts a server)"


def server_url() -> str:
    """The test server's URL, or skip the test."""
    url = os.environ.get(ENV_VAR, "").strip()
    if not url:
        pytest.skip(SKIP_REASON)
    pytest.importorskip("psycopg", reason="the postgresql:// store needs psycopg 3 (pip install 'psycopg[binary]')")
    return url


def with_search_path(url: str, schema: str) -> str:
    """``url`` with ``-csearch_path=schema`` added to its ``options`` query parameter."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    options = " ".join([*(v for k, v in query if k == "options"), f"-csearch_path={schema}"])
    query = [(k, v) for k, v in query if k != "options"] + [("options", options)]
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


def admin() -> Any:
    """A plain psycopg connection (autocommit) to the test server, outside any test schema."""
    import psycopg

    return psycopg.connect(server_url(), autocommit=True)


@contextmanager
def fresh_schema(prefix: str = "t") -> Iterator[str]:
    """Create an empty schema; yield a store URL that selects it; drop it (and everything in it) after."""
    name = f"ecs_{prefix}_{uuid.uuid4().hex[:12]}"
    with admin() as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    try:
        yield with_search_path(server_url(), name)
    finally:
        close_current_store()
        with admin() as conn:
            conn.execute("SET lock_timeout = '20s'")
            conn.execute(f'DROP SCHEMA "{name}" CASCADE')


def close_current_store() -> None:
    """Close the default registry's store (a connection left inside a batch would block DROP SCHEMA)."""
    from ecs_notebook import EntityRegistry

    EntityRegistry.store.close()


def backend_pid(store: Any) -> int:
    """The server process serving a PostgresStore's connection."""
    return int(store._query("SELECT pg_backend_pid()", one=True)[0])


def terminate(pid: int) -> None:
    """Kill one server backend from another connection (what a restart or a network cut does to a client)."""
    import time

    with admin() as conn:
        assert conn.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0]
        deadline = time.time() + 10
        while conn.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone() and time.time() < deadline:
            time.sleep(0.01)
