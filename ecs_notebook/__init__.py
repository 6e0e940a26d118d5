"""ecs_notebook: interactive data lineage for Jupyter, built on versioned pydantic entities."""

from __future__ import annotations

from .core.address import create_composite_entity, get, is_address, put
from .core.entity import ContainerEntity, Entity, ParameterEntity
from .core.errors import (
    AddressError,
    EcsError,
    EntityNotFoundError,
    ExecutionTimeoutError,
    FunctionNotFoundError,
    InputValidationError,
    OutputValidationError,
    RegistrationError,
    StoreError,
    ValueNotStoredError,
)
from .core.registry import EntityRegistry
from .core.tree import EdgeType, EntityEdge, EntityTree, build_entity_tree, find_modified_entities
from .execution.callable_registry import CallableRegistry
from .execution.model import ExecutionConfig, ExecutionSemantics, FunctionExecution, RegistryConfig
from .lineage.graph import lineage_graph
from .lineage.queries import diff, downstream, history, is_stale, ref, stale, upstream
from .store import batch, connect

__version__ = "0.1.0"

# The notebook layer (IPython, anywidget, pyvis) loads only when one of its names is used.
_LAZY = {
    "LineageExplorer": ("ecs_notebook.notebook.widget", "LineageExplorer"),
    "show_lineage": ("ecs_notebook.notebook.widget", "show_lineage"),
    "load_ipython_extension": ("ecs_notebook.notebook.magics", "load_ipython_extension"),
    "unload_ipython_extension": ("ecs_notebook.notebook.magics", "unload_ipython_extension"),
}


def __getattr__(name: str) -> object:
    target = _LAZY.get(name)
    if target is None:
        msg = f"module 'ecs_notebook' has no attribute {name!r}"
        raise AttributeError(msg)
    import importlib

    value = getattr(importlib.import_module(target[0]), target[1])
    globals()[name] = value
    return value


__all__ = [
    "AddressError",
    "CallableRegistry",
    "ContainerEntity",
    "EcsError",
    "EdgeType",
    "Entity",
    "EntityEdge",
    "EntityNotFoundError",
    "EntityRegistry",
    "EntityTree",
    "ExecutionConfig",
    "ExecutionSemantics",
    "ExecutionTimeoutError",
    "FunctionExecution",
    "FunctionNotFoundError",
    "InputValidationError",
    "LineageExplorer",
    "OutputValidationError",
    "ParameterEntity",
    "RegistrationError",
    "RegistryConfig",
    "StoreError",
    "ValueNotStoredError",
    "batch",
    "build_entity_tree",
    "connect",
    "create_composite_entity",
    "diff",
    "downstream",
    "find_modified_entities",
    "get",
    "history",
    "is_address",
    "is_stale",
    "lineage_graph",
    "load_ipython_extension",
    "put",
    "ref",
    "show_lineage",
    "stale",
    "unload_ipython_extension",
    "upstream",
]
