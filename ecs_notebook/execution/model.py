"""What one function call leaves behind: semantics, the FunctionExecution record, configuration."""

from __future__ import annotations

import enum
from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt

from ..core.entity import Entity


class ExecutionSemantics(str, enum.Enum):
    """How a returned entity relates to the call's inputs (decided by object identity)."""

    MUTATION = "mutation"  # (the copy of) an input: a new version of that input's lineage
    CREATION = "creation"  # a new object: a new lineage
    DETACHMENT = "detachment"  # an entity from inside an input's tree, now a root of its own


class FunctionExecution(Entity):
    """The record of one call of a registered function, successful or not."""

    __ecs_stored_as__ = "ecs_notebook.execution:FunctionExecution"  # its name in every store (records.EXECUTION_TYPE)

    function_name: str
    code_version: str = ""
    input_entity_id: UUID | None = None
    input_entity_ids: list[UUID] = Field(default_factory=list)
    output_entity_ids: list[UUID] = Field(default_factory=list)
    semantics: list[ExecutionSemantics] = Field(default_factory=list)
    started_at: datetime | None = None
    duration_s: float = 0.0
    succeeded: bool = False
    error_type: str | None = None
    error_message: str | None = None
    traceback: str | None = None
    was_unpacked: bool = False
    cached: bool = False
    cached_from: UUID | None = None
    cpu_time_s: float | None = None
    peak_memory_bytes: int | None = None
    may_still_be_running: bool = False
    trace: dict[str, float] | None = None
    cache_key: str | None = None

    def __repr__(self) -> str:
        status = "ok" if self.succeeded else f"failed: {self.error_type}"
        outs = ", ".join(str(o)[:8] for o in self.output_entity_ids)
        return (
            f"FunctionExecution({self.function_name}, {status}, {self.duration_s * 1e3:.2f} ms, outputs=[{outs}]) @{str(self.ecs_id)[:8]}"
        )


class ExecutionConfig(BaseModel):
    """Per-call options (defaults on ``CallableRegistry.config``)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    unpack_tuples: bool = True
    max_execution_time: PositiveFloat | None = None
    track_performance: bool = False
    force_parameter_entities: bool = False
    #: Serve this call from the cache of recorded executions (None: the registry's setting).
    cache: bool | None = None


class RegistryConfig(ExecutionConfig):
    """Registry-wide options, plus the registry's default ExecutionConfig options.

    ``CallableRegistry.config`` is one of these, so ``CallableRegistry.config.max_execution_time``
    sets the default for every call.
    """

    enable_function_caching: bool = False
    max_cached_executions: PositiveInt = 10_000
    enable_execution_tracing: bool = False

    def execution_defaults(self) -> ExecutionConfig:
        """The ExecutionConfig part of these options."""
        return ExecutionConfig(**{k: getattr(self, k) for k in ExecutionConfig.model_fields})
