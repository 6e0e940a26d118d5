"""Shared fixtures: every test runs against fresh, empty ecs_notebook state."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ecs_notebook import EntityRegistry
from ecs_notebook.testing import fresh_state

pytest_plugins = ["pytester"]

# Scripts run as subprocesses or by hand, not test modules: --doctest-modules must not import them
# (make_store_0_1_0.py writes a store when imported).
collect_ignore = ["data"]

# ``tests/models.py`` holds the shared entity classes; make it importable as ``models`` whatever the
# rootdir or import mode.
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(autouse=True)
def _fresh_ecs_state() -> Iterator[None]:
    """Run each test with empty default registries, restored afterwards (no leaks between tests)."""
    with fresh_state():
        yield


@pytest.fixture
def registry_state():
    """Return a function that captures what the registry holds, to compare before/after a failure."""

    def capture(*lineage_ids):
        return len(EntityRegistry), {lid: EntityRegistry.history(lid) for lid in lineage_ids}

    return capture
