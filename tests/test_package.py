"""The package surface (DESIGN A1, STYLE 2-3): public names, lazy heavy imports, typing marker, state."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import resources

import pytest
from models import Course

import ecs_notebook
from ecs_notebook import EntityRegistry
from ecs_notebook.testing import fresh_state

#: Names of the foundation (entity core) that ``import ecs_notebook`` must expose.
CORE_NAMES = [
    "AddressError",
    "ContainerEntity",
    "EcsError",
    "EdgeType",
    "Entity",
    "EntityEdge",
    "EntityNotFoundError",
    "EntityRegistry",
    "EntityTree",
    "ExecutionTimeoutError",
    "FunctionNotFoundError",
    "InputValidationError",
    "OutputValidationError",
    "ParameterEntity",
    "RegistrationError",
    "StoreError",
    "ValueNotStoredError",
    "build_entity_tree",
    "create_composite_entity",
    "find_modified_entities",
    "get",
    "is_address",
    "put",
]

HEAVY = ["IPython", "ipywidgets", "anywidget", "pyvis"]


def test_import_does_not_load_notebook_or_widget_libraries():
    code = f"import json, sys, ecs_notebook; print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_every_name_in_all_exists():
    missing = [name for name in ecs_notebook.__all__ if not hasattr(ecs_notebook, name)]
    assert missing == []


def test_all_is_sorted_and_has_no_duplicates():
    assert list(ecs_notebook.__all__) == sorted(ecs_notebook.__all__)
    assert len(set(ecs_notebook.__all__)) == len(ecs_notebook.__all__)


@pytest.mark.parametrize("name", CORE_NAMES)
def test_core_name_is_public(name):
    assert name in ecs_notebook.__all__
    assert getattr(ecs_notebook, name) is not None


def test_star_import_gives_exactly_all():
    namespace: dict = {}
    exec("from ecs_notebook import *", namespace)
    assert {k for k in namespace if k != "__builtins__"} == set(ecs_notebook.__all__)


def test_py_typed_ships():
    marker = resources.files("ecs_notebook") / "py.typed"
    assert marker.is_file()


def test_version_is_a_string():
    assert isinstance(ecs_notebook.__version__, str)
    assert ecs_notebook.__version__.count(".") >= 1


def test_fresh_state_empties_and_restores_the_default_registry():
    c = Course(name="kept")
    c.promote_to_root()
    registry = EntityRegistry
    with fresh_state():
        assert len(EntityRegistry) == 0
        assert c.ecs_id not in EntityRegistry
        inner = Course(name="inner")
        inner.promote_to_root()
        assert inner.ecs_id in EntityRegistry
    # Same object (``from ecs_notebook import EntityRegistry`` stays valid), old contents back.
    assert EntityRegistry is registry
    assert c.ecs_id in EntityRegistry
    assert inner.ecs_id not in EntityRegistry


def test_fresh_state_restores_even_when_the_block_raises():
    c = Course(name="kept")
    c.promote_to_root()
    with pytest.raises(RuntimeError), fresh_state():
        raise RuntimeError("boom")
    assert c.ecs_id in EntityRegistry


def test_ecs_state_fixture_is_available_to_users(pytester):
    # Installed packages register ``ecs_notebook.testing`` as a pytest plugin (entry point).
    pytester.makepyfile(
        """
        from ecs_notebook import Entity, EntityRegistry

        class A(Entity):
            x: int = 0

        def test_one(ecs_state):
            A().promote_to_root()
            assert len(EntityRegistry) == 1

        def test_two(ecs_state):
            assert len(EntityRegistry) == 0
        """
    )
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_execution_type_constant_names_function_execution():
    """Stores and queries recognise execution records by this type path, below the execution layer."""
    from ecs_notebook.core.records import EXECUTION_TYPE
    from ecs_notebook.execution.model import FunctionExecution

    assert FunctionExecution.__ecs_type__ == EXECUTION_TYPE
