"""OpenLineage export: every recorded FunctionExecution as a run (START, then COMPLETE or FAIL).

A registered function (or a recorded cell) is the job; each input and output entity version is a
dataset named by its entity type and lineage (``module:Class/<lineage_id>``), and each notebook
variable one dataset named ``<notebook>:<variable>``, with the version's ecs_id in the standard
``version`` facet. Events follow OpenLineage spec 2-0-2 and are written as JSON lines; with an
openlineage-python ``client`` they are also emitted through its transport.

>>> ENTITY_DATASET.format(type="models:Student", lineage="3f2a")
'models:Student/3f2a'
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID

from ..core.entity import UntypedEntity
from ..core.records import VersionRecord
from ..core.variable import Variable

SPEC_VERSION = "2-0-2"
RUN_EVENT_SCHEMA = f"https://openlineage.io/spec/{SPEC_VERSION}/OpenLineage.json#/$defs/RunEvent"
ERROR_FACET_SCHEMA = "https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet"
VERSION_FACET_SCHEMA = "https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet"
#: Our custom facets' schema (ecsNotebook_function, ecsNotebook_execution, ecsNotebook_output): the ``$id``
#: of ``schemas/EcsNotebookFacets.json``, shipped in this package (:func:`facets_schema` reads it).
ECS_FACETS_SCHEMA = "urn:ecs-notebook:openlineage:facets:1-0-0"
FACETS_SCHEMA_FILE = Path(__file__).parent / "schemas" / "EcsNotebookFacets.json"
ENTITY_DATASET = "{type}/{lineage}"
#: A notebook variable's dataset: stable across sessions, its versions the dataset's versions.
VARIABLE_DATASET = "{notebook}:{variable}"
DEFAULT_NAMESPACE = "ecs_notebook"


def default_producer() -> str:
    """The ``producer`` URI of the events: this package and its version."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"urn:ecs-notebook:{version('ecs-notebook')}"
    except PackageNotFoundError:  # pragma: no cover - running from a source tree that is not installed
        return "urn:ecs-notebook:unknown"


def facets_schema() -> dict[str, Any]:
    """The JSON Schema of our custom facets, whose ``$id`` their ``_schemaURL`` names.

    >>> facets_schema()["$id"] == ECS_FACETS_SCHEMA
    True
    """
    schema: dict[str, Any] = json.loads(FACETS_SCHEMA_FILE.read_text(encoding="utf-8"))
    return schema


def to_openlineage(
    path: str | os.PathLike[str],
    producer: str | None = None,
    namespace: str = DEFAULT_NAMESPACE,
    *,
    client: Any = None,
    executions: Iterable[UUID] | None = None,
) -> Path:
    """Write the OpenLineage run events of every recorded execution to ``path`` (JSON lines).

    Args:
        path: the file to write (replaced as a whole, only once every event is built).
        producer: URI naming the producer of the events (default: this package and version).
        namespace: namespace of the jobs and datasets.
        client: an ``openlineage.client.OpenLineageClient``; each event is also emitted through it.
        executions: ecs_ids of the executions to export (default: every one in the store, oldest first).

    Returns:
        The path written.
    """
    from .files import write_atomically

    producer = producer or default_producer()

    def write(f: Any) -> None:
        for event in iter_events(producer, namespace, executions):
            f.write(json.dumps(event, separators=(",", ":")))
            f.write("\n")
            if client is not None:
                client.emit(to_client_event(event))

    return write_atomically(path, write)


def iter_events(
    producer: str | None = None, namespace: str = DEFAULT_NAMESPACE, executions: Iterable[UUID] | None = None
) -> Iterator[dict[str, Any]]:
    """The run events (plain JSON data) of the given executions, or of every recorded one, in order."""
    from ..core.registry import EntityRegistry

    producer = producer or default_producer()
    ids = EntityRegistry.store.executions() if executions is None else executions
    datasets = _Datasets(namespace, producer)
    for eid in ids:
        yield from run_events(EntityRegistry.record(eid), producer, namespace, datasets)


def run_events(
    rec: VersionRecord, producer: str, namespace: str = DEFAULT_NAMESPACE, datasets: _Datasets | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The START and the COMPLETE (or FAIL) event of one recorded FunctionExecution."""
    datasets = datasets or _Datasets(namespace, producer)
    v = rec.plain_dict()
    started: datetime = v["started_at"] or rec.created_at
    if started.tzinfo is None:
        started = started.replace(tzinfo=timezone.utc)
    ended = started + timedelta(seconds=max(v["duration_s"] or 0.0, 0.0))
    job = {
        "namespace": namespace,
        "name": v["function_name"],
        "facets": {
            "ecsNotebook_function": _facet(
                producer, f"{ECS_FACETS_SCHEMA}#/$defs/FunctionJobFacet", functionName=v["function_name"], codeVersion=v["code_version"]
            )
        },
    }
    inputs = [datasets.get(i) for i in v["input_entity_ids"]]
    outputs = [
        {
            **datasets.get(o),
            "outputFacets": {
                "ecsNotebook_output": _facet(
                    producer, f"{ECS_FACETS_SCHEMA}#/$defs/OutputDatasetFacet", semantics=str(_value(sem)), outputIndex=k
                )
            },
        }
        for k, (o, sem) in enumerate(zip(v["output_entity_ids"], v["semantics"]))
    ]
    run_facets: dict[str, Any] = {
        "ecsNotebook_execution": _facet(
            producer,
            f"{ECS_FACETS_SCHEMA}#/$defs/ExecutionRunFacet",
            durationS=float(v["duration_s"] or 0.0),
            cached=bool(v["cached"]),
            wasUnpacked=bool(v["was_unpacked"]),
            **({"cachedFrom": str(v["cached_from"])} if v["cached_from"] else {}),
        )
    }
    if not v["succeeded"]:
        error_type = v["error_type"] or "Error"
        message = f"{error_type}: {v['error_message']}" if v["error_message"] else error_type
        extra = {"stackTrace": v["traceback"]} if v["traceback"] else {}
        run_facets["errorMessage"] = _facet(producer, ERROR_FACET_SCHEMA, message=message, programmingLanguage="python", **extra)
    run_id = str(rec.ecs_id)
    start = {
        "eventType": "START",
        "eventTime": started.isoformat(),
        "run": {"runId": run_id},
        "job": job,
        "inputs": inputs,
        "outputs": [],
        "producer": producer,
        "schemaURL": RUN_EVENT_SCHEMA,
    }
    end = {
        "eventType": "COMPLETE" if v["succeeded"] else "FAIL",
        "eventTime": ended.isoformat(),
        "run": {"runId": run_id, "facets": run_facets},
        "job": job,
        "inputs": inputs,
        "outputs": outputs,
        "producer": producer,
        "schemaURL": RUN_EVENT_SCHEMA,
    }
    return start, end


class _Datasets:
    """Dataset objects of entity versions, built once per version."""

    def __init__(self, namespace: str, producer: str) -> None:
        self.namespace, self.producer = namespace, producer
        self._cache: dict[int, dict[str, Any]] = {}

    def get(self, ecs_id: UUID) -> dict[str, Any]:
        found = self._cache.get(ecs_id.int)
        if found is None:
            from ..core.registry import EntityRegistry

            rec = EntityRegistry.record(ecs_id)
            if rec.cls is Variable:  # a notebook variable: one dataset per variable, named as users know it
                v = rec.plain_dict()
                name = VARIABLE_DATASET.format(notebook=v["notebook"], variable=v["name"])
            else:
                type_path = rec.plain[0] if rec.cls is UntypedEntity else rec.type_path
                name = ENTITY_DATASET.format(type=type_path, lineage=rec.lineage_id)
            found = self._cache[ecs_id.int] = {
                "namespace": self.namespace,
                "name": name,
                "facets": {"version": _facet(self.producer, VERSION_FACET_SCHEMA, datasetVersion=str(ecs_id))},
            }
        return found


def _facet(producer: str, schema: str, **fields: Any) -> dict[str, Any]:
    return {"_producer": producer, "_schemaURL": schema, **fields}


def _value(x: Any) -> Any:
    return getattr(x, "value", x)


# -- openlineage-python --------------------------------------------------------------------------


def to_client_event(event: dict[str, Any]) -> Any:
    """The openlineage-python ``RunEvent`` of one event (what ``OpenLineageClient.emit`` takes)."""
    from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
    from openlineage.client.generated.base import DatasetFacet, JobFacet, OutputDatasetFacet, RunFacet

    def facets(data: dict[str, Any] | None, base: type) -> dict[str, Any]:
        out = {}
        for name, facet in (data or {}).items():
            fields = {k: val for k, val in facet.items() if not k.startswith("_")}
            obj = base(producer=facet["_producer"]).with_additional_properties(**fields)
            obj._schemaURL = facet["_schemaURL"]  # the facet's own schema, not the base class's
            out[name] = obj
        return out

    def dataset(d: dict[str, Any], cls: type) -> Any:
        kw: dict[str, Any] = {"facets": facets(d.get("facets"), DatasetFacet)}
        if "outputFacets" in d:
            kw["outputFacets"] = facets(d["outputFacets"], OutputDatasetFacet)
        return cls(namespace=d["namespace"], name=d["name"], **kw)

    return RunEvent(
        eventType=RunState(event["eventType"]),
        eventTime=event["eventTime"],
        run=Run(runId=event["run"]["runId"], facets=facets(event["run"].get("facets"), RunFacet)),
        job=Job(namespace=event["job"]["namespace"], name=event["job"]["name"], facets=facets(event["job"].get("facets"), JobFacet)),
        inputs=[dataset(d, InputDataset) for d in event.get("inputs", [])],
        outputs=[dataset(d, OutputDataset) for d in event.get("outputs", [])],
        producer=event["producer"],
    )
