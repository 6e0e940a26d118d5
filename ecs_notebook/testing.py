"""Test helpers: fresh, isolated ecs_notebook state.

Use the context manager directly, or the pytest fixture ``ecs_state`` (registered as a pytest plugin
when ecs_notebook is installed)::

    def test_something(ecs_state):
        ...  # EntityRegistry, CallableRegistry, the graph and the store start empty here
"""

from __future__ import annotations

from collections.abc import Iterator

from .core._state import fresh_state

__all__ = ["fresh_state"]

try:
    import pytest
except ImportError:  # pragma: no cover - pytest is optional at runtime
    pass
else:

    @pytest.fixture
    def ecs_state() -> Iterator[None]:
        """Fresh registries, graph, store and hooks for one test."""
        with fresh_state():
            yield
