"""``postgresql://`` stores: not part of this version."""

from __future__ import annotations

from ..errors import StoreError


class PostgresStore:
    """Placeholder that refuses clearly: the PostgreSQL store is not implemented in this version."""

    def __init__(self, url: str) -> None:
        msg = (
            f"Cannot open {url.rsplit('@', maxsplit=1)[-1]!r}: the PostgreSQL store is not available in this version "
            "of ecs_notebook. Use sqlite:///path.db (shared file) or memory:// for now."
        )
        raise StoreError(msg)
