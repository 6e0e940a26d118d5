"""Choosing the lineage store: ``connect(url)``, the defaults, and ``batch()``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..core.errors import StoreError
from .base import MemoryStore, Store
from .sqlite import SQLiteStore, parse_sqlite_url

ENV_VAR = "ECS_NOTEBOOK_STORE"
LIBRARY_DEFAULT = "memory://"
EXTENSION_DEFAULT = "sqlite:///.ecs_notebook/lineage.db"

__all__ = ["EXTENSION_DEFAULT", "MemoryStore", "SQLiteStore", "Store", "batch", "connect", "open_store"]


def open_store(url: str, base: Path | None = None, create: bool = True) -> Store:
    """Open (and validate) the store a URL names, without making it the current one.

    ``create=False``: a missing SQLite file is an error instead of a new, empty store.
    """
    if not isinstance(url, str):
        msg = f"A store URL is a string, got {type(url).__name__}"
        raise StoreError(msg)
    if url != url.strip():
        msg = f"Store URL {url!r} has spaces around it: remove them (e.g. sqlite:///lineage.db)."
        raise StoreError(msg)
    if url in ("memory://", "memory:"):
        return MemoryStore()
    if url.startswith("sqlite:///"):
        path = parse_sqlite_url(url, base)
        if not create and not path.exists():
            msg = f"No lineage store at {path}. Check the path (or the folder you run this in)."
            raise StoreError(msg)
        return SQLiteStore(path, url)
    if url.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresStore

        return PostgresStore(url, create=create)
    msg = f"Unknown store URL {url!r}. Use sqlite:///relative/path.db, sqlite:////absolute/path.db, postgresql://user@host/db or memory://."
    raise StoreError(msg)


def default_url(extension: bool = False) -> str:
    """The store used when none was chosen: ``$ECS_NOTEBOOK_STORE``, else the library/extension default."""
    return os.environ.get(ENV_VAR, "").strip() or (EXTENSION_DEFAULT if extension else LIBRARY_DEFAULT)


def connect(url: str) -> Store:
    """Make the store at ``url`` the current lineage store of this process and return it.

    The store is validated at once: a corrupt or foreign file raises StoreError and is left as it
    was. Earlier versions, executions and addresses of that store become available (loaded lazily).
    """
    from ..core.registry import EntityRegistry

    store = open_store(url)
    EntityRegistry.use_store(store, explicit=True)
    return store


def current_store() -> Store:
    """The store the default registries write to."""
    from ..core.registry import EntityRegistry

    return EntityRegistry.store


@contextmanager
def batch() -> Iterator[Store]:
    """Group the records of every call in the block into one transaction.

    Durable when the block exits; an exception in the block still commits what was recorded
    before it. The SQLite store keeps the batch in memory and writes it when the block exits, so
    the code inside the block never holds the file's write lock. If that commit fails, StoreError is
    raised and the session forgets the records that did not land (the in-memory registry never runs
    ahead of the store).
    """
    from ..core.registry import EntityRegistry

    store = current_store()
    store.begin_batch()
    try:
        yield store
    finally:
        try:
            store.end_batch()
        except StoreError as exc:
            EntityRegistry.forget(getattr(exc, "lost_ids", ()))
            raise


def _open_default() -> Store:
    return open_store(default_url())


def _register_default() -> None:
    from ..core.registry import set_default_store

    set_default_store(_open_default)


_register_default()
