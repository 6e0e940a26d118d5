"""Doctests of the package (``--doctest-modules`` over ``ecs_notebook/``, see pyproject.toml).

Importing a module of the package has no side effects (STYLE 19), so doctest collection may import
every one. A module that needs an optional dependency which is not installed (numpy, pandas and
pyarrow for the value codecs, ...) is left out of collection instead of failing it.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent / "ecs_notebook"


def pytest_ignore_collect(collection_path: Path) -> bool | None:
    path = collection_path.resolve()
    if path.name == "conftest.py":
        # Loaded by pytest as conftests (never test modules); collected as doctest modules they would
        # be imported a second time by basename, and tests/ has two ("import file mismatch").
        return True
    if path.suffix != ".py" or PACKAGE not in path.parents:
        return None
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] != "ecs_notebook":
            return True  # an optional dependency is not installed: nothing of this module to test
        raise
    return None


@pytest.fixture(autouse=True)
def _fresh_state_for_doctests(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each doctest of the package runs on fresh, empty default registries (as each test does)."""
    if not isinstance(request.node, pytest.DoctestItem):
        yield
        return
    from ecs_notebook.testing import fresh_state

    with fresh_state():
        yield
