"""Process-wide default objects, and swapping in fresh ones (for tests and isolated sessions)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_STATEFUL: list[Any] = []


def stateful(obj: Any) -> Any:
    """Declare ``obj`` (a default registry, graph, ...) as process state that fresh_state() resets."""
    _STATEFUL.append(obj)
    return obj


@contextmanager
def fresh_state() -> Iterator[None]:
    """Run the block with empty default registries (and graph, store, hooks); restore them after.

    The default objects keep their identity (``from ecs_notebook import EntityRegistry`` stays
    valid); only their contents are swapped.
    """
    saved = [dict(obj.__dict__) for obj in _STATEFUL]
    try:
        for obj in _STATEFUL:
            obj.__dict__.clear()
            type(obj).__init__(obj)
        yield
    finally:
        for obj, state in zip(_STATEFUL, saved):
            close = getattr(obj, "_close_state", None)
            if close is not None:
                close()
            obj.__dict__.clear()
            obj.__dict__.update(state)
