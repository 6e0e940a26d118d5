"""OpenLineage export (DESIGN A6 ``%ecs_export openlineage``): recorded executions as OpenLineage run events.

Every event is validated with ``jsonschema`` against the OpenLineage 2-0-2 schemas in
``tests/data/openlineage/`` (offline), and every facet against the schema its ``_schemaURL`` names.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit
from uuid import UUID

import pytest
from models import Item, Report, Student, make_student, register_functions, sqlite_url
from pg_support import fresh_schema

import ecs_notebook
from ecs_notebook import CallableRegistry, EntityRegistry, ExecutionSemantics
from ecs_notebook.lineage.openlineage import (
    ECS_FACETS_SCHEMA,
    RUN_EVENT_SCHEMA,
    facets_schema,
    iter_events,
    to_client_event,
    to_openlineage,
)

jsonschema = pytest.importorskip("jsonschema")
referencing = pytest.importorskip("referencing")

SCHEMAS = Path(__file__).parent / "data" / "openlineage"
PRODUCER = "https://example.org/ecs-notebook-tests"


# -- validation ------------------------------------------------------------------------------------

_DATE_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def _format_checker() -> jsonschema.FormatChecker:
    """Strict checks of the formats OpenLineage uses, independent of jsonschema's optional extras."""
    checker = jsonschema.FormatChecker(())

    @checker.checks("date-time", raises=ValueError)
    def date_time(value: object) -> bool:
        if not isinstance(value, str):
            return True
        if not _DATE_TIME.match(value):
            raise ValueError(f"not an RFC 3339 date-time with offset: {value!r}")
        datetime.fromisoformat(value.replace("Z", "+00:00"))
        return True

    @checker.checks("uri", raises=ValueError)
    def uri(value: object) -> bool:
        if isinstance(value, str) and (not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", value) or re.search(r"\s", value)):
            raise ValueError(f"not an absolute URI: {value!r}")
        return True

    @checker.checks("uuid", raises=ValueError)
    def uuid_(value: object) -> bool:
        if isinstance(value, str) and str(UUID(value)) != value.lower():
            raise ValueError(f"not a UUID in its canonical form: {value!r}")
        return True

    return checker


def _load_schemas():
    schemas = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(SCHEMAS.glob("*.json"))]
    schemas.append(facets_schema())  # shipped with the package: the _schemaURL of our facets names its $id
    registry = referencing.Registry().with_resources((s["$id"], referencing.Resource.from_contents(s)) for s in schemas)
    core = next(s for s in schemas if s["$id"].endswith("/2-0-2/OpenLineage.json"))
    return core, registry


CORE, REGISTRY = _load_schemas()
KNOWN = {json.loads(p.read_text(encoding="utf-8"))["$id"] for p in SCHEMAS.glob("*.json")}
CHECKER = _format_checker()


def _facets(event: dict) -> list[dict]:
    found = [*event["run"].get("facets", {}).values(), *event["job"].get("facets", {}).values()]
    for d in [*event.get("inputs", []), *event.get("outputs", [])]:
        for key in ("facets", "inputFacets", "outputFacets"):
            found.extend(d.get(key, {}).values())
    return found


def validate(event: dict, ours_only: bool = False) -> None:
    """Validate a run event against OpenLineage.json, and each facet against its own schema.

    ``ours_only``: skip facets whose schema is not in tests/data/openlineage (added by a client).
    """
    jsonschema.Draft202012Validator(CORE, registry=REGISTRY, format_checker=CHECKER).validate(event)
    jsonschema.Draft202012Validator({"$ref": RUN_EVENT_SCHEMA}, registry=REGISTRY, format_checker=CHECKER).validate(event)
    for facet in _facets(event):
        if ours_only and facet["_schemaURL"].split("#")[0] not in KNOWN:
            continue
        schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$ref": facet["_schemaURL"]}
        jsonschema.Draft202012Validator(schema, registry=REGISTRY, format_checker=CHECKER).validate(facet)


# -- recording some executions -----------------------------------------------------------------------


@pytest.fixture(params=["memory", "sqlite-reopened", "postgres-reopened"])
def store_kind(request, tmp_path):
    """The store the executions are recorded in; '-reopened': exported from a fresh connection."""
    kind = request.param
    if kind.startswith("postgres"):
        with fresh_schema() as url:
            ecs_notebook.connect(url)
            yield kind, url
        return
    url = "memory://" if kind == "memory" else sqlite_url(tmp_path / "lineage.db")
    ecs_notebook.connect(url)
    yield kind, url


def _record_calls(store_kind) -> dict:
    kind, url = store_kind
    register_functions()
    s = make_student()
    s.promote_to_root()
    report = CallableRegistry.execute("report", student=s, bonus=0.5)
    with pytest.raises(ValueError, match="no report for Ada"):
        CallableRegistry.execute("boom", student=s)
    renamed = CallableRegistry.execute("rename", student=s, name="Grace")
    calls = {
        "student": s,
        "report": report,
        "renamed": renamed,
        "code_version": {n: CallableRegistry.get_metadata(n).code_version for n in ("report", "boom", "rename")},
        "executions": [e.ecs_id for e in CallableRegistry.executions()],
    }
    if kind.endswith("-reopened"):
        ecs_notebook.connect(url)  # a later session: nothing cached
        assert not EntityRegistry._records
    return calls


def _read(path: Path) -> list[dict]:
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n") or text == ""
    return [json.loads(line) for line in text.splitlines()]


def test_every_execution_becomes_a_start_and_a_complete_or_fail_event(store_kind, tmp_path):
    calls = _record_calls(store_kind)
    out_dir = tmp_path / "export"
    out_dir.mkdir()
    path = to_openlineage(out_dir / "lineage.jsonl", producer=PRODUCER)
    assert path == out_dir / "lineage.jsonl"
    events = _read(path)
    assert [(e["eventType"], e["job"]["name"]) for e in events] == [
        ("START", "report"),
        ("COMPLETE", "report"),
        ("START", "boom"),
        ("FAIL", "boom"),
        ("START", "rename"),
        ("COMPLETE", "rename"),
    ]
    assert [e["run"]["runId"] for e in events[::2]] == [str(x) for x in calls["executions"]]
    assert all(a["run"]["runId"] == b["run"]["runId"] for a, b in zip(events[::2], events[1::2]))
    for start, end in zip(events[::2], events[1::2]):
        assert datetime.fromisoformat(start["eventTime"]) <= datetime.fromisoformat(end["eventTime"])
    for event in events:
        assert event["producer"] == PRODUCER
        assert event["schemaURL"] == RUN_EVENT_SCHEMA
        validate(event)
    assert list(out_dir.iterdir()) == [path], "nothing but the file is left behind"


def test_jobs_carry_the_function_and_its_code_version(store_kind, tmp_path):
    calls = _record_calls(store_kind)
    events = _read(to_openlineage(tmp_path / "ol.jsonl", namespace="team-a"))
    for event in events:
        job = event["job"]
        assert job["namespace"] == "team-a"
        facet = job["facets"]["ecsNotebook_function"]
        assert facet["functionName"] == job["name"]
        assert facet["codeVersion"] == calls["code_version"][job["name"]]
        assert facet["_schemaURL"] == f"{ECS_FACETS_SCHEMA}#/$defs/FunctionJobFacet"
        assert urlsplit(event["producer"]).scheme, "a default producer URI"
        validate(event)


def test_inputs_and_outputs_are_entity_lineages_with_the_version_as_facet(store_kind, tmp_path):
    calls = _record_calls(store_kind)
    s, report, renamed = calls["student"], calls["report"], calls["renamed"]
    events = _read(to_openlineage(tmp_path / "ol.jsonl", producer=PRODUCER))
    student_ds = f"{Student.__ecs_type__}/{s.lineage_id}"

    start, complete = events[0], events[1]
    for event in (start, complete):
        assert [(d["namespace"], d["name"]) for d in event["inputs"]] == [("ecs_notebook", student_ds)]
        assert event["inputs"][0]["facets"]["version"]["datasetVersion"] == str(s.ecs_id)
    assert start["outputs"] == []
    (out,) = complete["outputs"]
    assert out["name"] == f"{Report.__ecs_type__}/{report.lineage_id}"
    assert out["facets"]["version"]["datasetVersion"] == str(report.ecs_id)
    assert out["outputFacets"]["ecsNotebook_output"]["semantics"] == ExecutionSemantics.CREATION.value

    mutation = events[5]
    (out,) = mutation["outputs"]
    assert out["name"] == student_ds, "a MUTATION is a new version of the same dataset"
    assert out["facets"]["version"]["datasetVersion"] == str(renamed.ecs_id) != str(s.ecs_id)
    assert out["outputFacets"]["ecsNotebook_output"]["semantics"] == ExecutionSemantics.MUTATION.value
    run = mutation["run"]["facets"]["ecsNotebook_execution"]
    assert run["cached"] is False and run["durationS"] >= 0


def test_a_failed_run_carries_its_error(store_kind, tmp_path):
    _record_calls(store_kind)
    fail = next(e for e in _read(to_openlineage(tmp_path / "ol.jsonl", producer=PRODUCER)) if e["eventType"] == "FAIL")
    error = fail["run"]["facets"]["errorMessage"]
    assert error["message"] == "ValueError: no report for Ada"
    assert error["programmingLanguage"] == "python"
    assert "ValueError: no report for Ada" in error["stackTrace"]
    assert "in boom" in error["stackTrace"]
    assert fail["outputs"] == []
    validate(fail)
    ok = [e for e in _read(tmp_path / "ol.jsonl") if e["eventType"] != "FAIL"]
    assert all("errorMessage" not in e["run"].get("facets", {}) for e in ok)


def test_cached_runs_say_where_their_outputs_come_from(tmp_path):
    ecs_notebook.connect(sqlite_url(tmp_path / "lineage.db"))
    register_functions()
    CallableRegistry.config.enable_function_caching = True
    item = Item(name="a")
    first = CallableRegistry.execute("make_item", item=item, k=1)
    again = CallableRegistry.execute("make_item", item=item, k=1)
    assert again.ecs_id == first.ecs_id
    events = _read(to_openlineage(tmp_path / "ol.jsonl", producer=PRODUCER))
    runs = [e["run"] for e in events if e["eventType"] == "COMPLETE"]
    assert [r["facets"]["ecsNotebook_execution"]["cached"] for r in runs] == [False, True]
    assert runs[1]["facets"]["ecsNotebook_execution"]["cachedFrom"] == runs[0]["runId"]
    for event in events:
        validate(event)


def test_an_empty_store_gives_an_empty_file_and_a_file_is_replaced_whole(tmp_path):
    path = tmp_path / "ol.jsonl"
    path.write_text("old content\n")
    assert to_openlineage(path).read_text() == ""
    register_functions()
    CallableRegistry.execute("make_item", item=Item(name="a"), k=1)
    assert len(_read(to_openlineage(path))) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ol.jsonl"]


def test_the_validator_rejects_what_the_spec_does_not_allow(tmp_path):
    register_functions()
    with pytest.raises(ValueError):
        CallableRegistry.execute("boom", student=make_student())
    fail = next(e for e in iter_events(PRODUCER) if e["eventType"] == "FAIL")
    validate(fail)
    broken = [
        lambda e: e.pop("producer"),
        lambda e: e.update(eventTime="2024-01-01 10:00"),
        lambda e: e["run"].update(runId="not-a-uuid"),
        lambda e: e.update(eventType="DONE"),
        lambda e: e["job"].pop("name"),
        lambda e: e["run"]["facets"]["errorMessage"].pop("programmingLanguage"),
        lambda e: e["run"]["facets"]["errorMessage"].pop("_producer"),
        lambda e: e["job"]["facets"]["ecsNotebook_function"].pop("codeVersion"),
        lambda e: e["inputs"][0]["facets"]["version"].update(datasetVersion=3),
    ]
    for breaker in broken:
        event = json.loads(json.dumps(fail))
        breaker(event)
        with pytest.raises(jsonschema.ValidationError):
            validate(event)


# -- openlineage-python --------------------------------------------------------------------------------


def _assert_within(ours, theirs, where="event"):
    """Everything we wrote is in what the client sent (it drops empty values and may add facets of its own)."""
    if isinstance(ours, dict):
        for k, v in ours.items():
            if v in ({}, [], None):
                continue
            assert k in theirs, f"{where}.{k} missing"
            _assert_within(v, theirs[k], f"{where}.{k}")
    elif isinstance(ours, list):
        assert len(ours) == len(theirs), where
        for i, (a, b) in enumerate(zip(ours, theirs)):
            _assert_within(a, b, f"{where}[{i}]")
    else:
        assert ours == theirs, where


def test_events_go_through_an_openlineage_client_transport(tmp_path):
    pytest.importorskip("openlineage.client")
    from openlineage.client import OpenLineageClient
    from openlineage.client.serde import Serde
    from openlineage.client.transport.transport import Transport

    class Capture(Transport):
        kind = "capture"

        def __init__(self) -> None:
            self.events: list = []

        def emit(self, event):
            self.events.append(json.loads(Serde.to_json(event)))

    register_functions()
    s = make_student()
    CallableRegistry.execute("report", student=s)
    with pytest.raises(ValueError):
        CallableRegistry.execute("boom", student=s)
    transport = Capture()
    client = OpenLineageClient(transport=transport, config={"transport": {"type": "console"}})
    path = to_openlineage(tmp_path / "ol.jsonl", producer=PRODUCER, client=client)
    written = _read(path)
    assert len(transport.events) == len(written) == 4
    for sent, event in zip(transport.events, written):
        _assert_within(event, sent)
        validate(sent, ours_only=True)


def test_to_client_event_keeps_each_facets_own_schema():
    pytest.importorskip("openlineage.client")
    register_functions()
    with pytest.raises(ValueError):
        CallableRegistry.execute("boom", student=make_student())
    fail = next(e for e in iter_events(PRODUCER) if e["eventType"] == "FAIL")
    obj = to_client_event(fail)
    assert obj.run.facets["errorMessage"]._schemaURL == fail["run"]["facets"]["errorMessage"]["_schemaURL"]
    assert obj.job.facets["ecsNotebook_function"].codeVersion == fail["job"]["facets"]["ecsNotebook_function"]["codeVersion"]


def test_each_notebook_variable_is_one_dataset_named_notebook_colon_variable(tmp_path, monkeypatch):
    from ipython_shell import interactive_shell, run

    with interactive_shell(tmp_path, monkeypatch) as ip:
        ip.run_line_magic("config", "EcsNotebook.notebook = 'analysis.ipynb'")
        ip.user_ns["__session__"] = "ignored because the option wins"
        for cell in ("xs = [1, 2]", "total = sum(xs)", "xs.append(3)", "total = sum(xs)"):
            assert run(ip, f"%%ecs_exec step\n{cell}").error is None
        events = list(iter_events(PRODUCER))
    for e in events:
        validate(e)
    ends = [e for e in events if e["eventType"] == "COMPLETE"]
    names = [[d["name"] for d in e["inputs"]] + [d["name"] for d in e["outputs"]] for e in ends]
    xs, total = "analysis.ipynb:xs", "analysis.ipynb:total"
    assert names == [[xs], [xs, total], [xs, xs], [xs, total]]
    versions = [d["facets"]["version"]["datasetVersion"] for d in ends[2]["inputs"] + ends[2]["outputs"]]
    assert versions[0] != versions[1], "an in-place change is a new version of the same dataset"
