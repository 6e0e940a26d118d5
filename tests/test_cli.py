"""The ``ecs-notebook`` command line: inspect a store without a notebook (run as a real process)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest
from models import Holder, child_env, make_student, register_functions, sqlite_url
from pydantic import create_model

import ecs_notebook
from ecs_notebook import CallableRegistry, Entity, EntityRegistry


def run_cli(tmp_path, *args: str, store: str | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "ecs_notebook.notebook.cli"]
    if store is not None:
        cmd += ["--store", store]
    return subprocess.run(cmd + list(args), capture_output=True, text=True, env=child_env(), cwd=tmp_path, timeout=60)


def run_inline(capsys, *args: str, store: str) -> subprocess.CompletedProcess:
    """The same command through ``cli.main`` in this process (cheaper; the subprocess tests cover the entry)."""
    from ecs_notebook.notebook.cli import main

    capsys.readouterr()
    code = main(["--store", store, *args])
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, out, err)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """A store with two student versions, three executions (one failed) and an unimportable class."""
    from ecs_notebook.testing import fresh_state

    tmp = tmp_path_factory.mktemp("cli")
    url = sqlite_url(tmp / "lineage.db")
    with fresh_state():
        ecs_notebook.connect(url)
        register_functions()
        s = make_student()
        s.promote_to_root()
        v1 = s.ecs_id
        s.name = "Grace"
        EntityRegistry.version_entity(s)
        report = CallableRegistry.execute("report", student=s)
        with pytest.raises(ValueError):
            CallableRegistry.execute("boom", student=s)
        CallableRegistry.execute("report", student=s, bonus=1.0)
        ghost_cls = create_model("CliGhost", __base__=Entity, __module__="cli_ghost_not_importable", label=(str, ...))
        ghost = ghost_cls(label="only-in-the-notebook")
        ghost.promote_to_root()
        holder = Holder(value={"k": [1, 2]}, note="n")
        holder.promote_to_root()
        versions = len(EntityRegistry)
        executions = [str(e.ecs_id) for e in CallableRegistry.executions()]
        ecs_notebook.connect("memory://")
        info = {
            "url": url,
            "tmp": tmp,
            "v1": str(v1),
            "v2": str(s.ecs_id),
            "report": str(report.ecs_id),
            "ghost": str(ghost.ecs_id),
            "holder": str(holder.ecs_id),
            "versions": 0,
            "executions": executions,
        }
        info["versions"] = versions
    return info


def _one_error_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert lines[0].startswith("ecs-notebook:")
    return lines[0]


def test_summary_shows_counts(recorded, tmp_path):
    proc = run_cli(tmp_path, "summary", store=recorded["url"])
    assert proc.returncode == 0, proc.stderr
    counts = dict(line.split(None, 1) for line in proc.stdout.splitlines() if line.strip())
    assert counts["store"] == recorded["url"]
    assert int(counts["versions"]) == recorded["versions"]
    assert int(counts["executions"]) == 3
    assert int(counts["functions"]) == 4


def test_executions_lists_filters_by_function_and_failure(recorded, tmp_path, capsys):
    url = recorded["url"]
    everything = run_cli(tmp_path, "executions", store=url)
    assert everything.returncode == 0, everything.stderr
    rows = everything.stdout.splitlines()[1:]
    assert [r.split()[1] for r in rows] == ["report", "boom", "report"]
    assert [recorded["executions"][i][:8] in rows[i] for i in range(3)] == [True] * 3
    assert recorded["report"][:8] in rows[0], "outputs are listed"
    report_only = run_cli(tmp_path, "executions", "--function", "report", store=url).stdout.splitlines()[1:]
    assert [r.split()[1] for r in report_only] == ["report", "report"]
    failed = run_cli(tmp_path, "executions", "--failed", store=url).stdout.splitlines()[1:]
    assert len(failed) == 1
    assert "boom" in failed[0] and "FAILED" in failed[0]
    last = run_inline(capsys, "executions", "-n", "1", store=url).stdout.splitlines()[1:]
    assert len(last) == 1 and recorded["executions"][2][:8] in last[0]
    none = run_inline(capsys, "executions", "--function", "nothing", store=url)
    assert none.returncode == 0 and len(none.stdout.splitlines()) == 1


def test_show_prints_the_addressed_value(recorded, tmp_path, capsys):
    url = recorded["url"]
    name = run_cli(tmp_path, "show", f"@{recorded['v1']}.name", store=url)
    assert name.returncode == 0, name.stderr
    assert name.stdout.strip() == "'Ada'"
    assert run_inline(capsys, "show", f"@{recorded['v2']}.courses.1.credits", store=url).stdout.strip() == "4"
    whole = run_cli(tmp_path, "show", f"@{recorded['v2'].upper()}", store=url)
    assert whole.returncode == 0, whole.stderr
    assert "models:Student" in whole.stdout and "Grace" in whole.stdout, "the store imports nothing"
    typed = run_cli(tmp_path, "--import", "models", "show", f"@{recorded['v2'].upper()}", store=url)
    assert typed.returncode == 0, typed.stderr
    lines = typed.stdout.splitlines()
    assert lines[0] == f"Student Grace v2  @{recorded['v2']}", "--import defines the classes: a heading with label and full id"
    assert "version 2 of 2" in lines[1]
    rows = {line.split()[0]: line for line in lines[3:]}
    assert lines[2].split() == ["field", "value", "from"]
    assert rows["name"].split()[1] == "Grace"
    assert "courses" in rows and "Student(" not in typed.stdout, "fields as a table, not a repr"
    missing = run_cli(tmp_path, "--import", "no_such_module_xyz", "summary", store=url)
    assert missing.returncode == 1 and "no_such_module_xyz" in missing.stderr and "Traceback" not in missing.stderr
    ghost = run_cli(tmp_path, "show", f"@{recorded['ghost']}.label", store=url)  # untyped in that process
    assert ghost.stdout.strip() == "'only-in-the-notebook'", "untyped entities are navigable too"


def test_history_lists_the_versions_of_a_lineage(recorded, tmp_path, capsys):
    url = recorded["url"]
    proc = run_cli(tmp_path, "history", f"@{recorded['v2']}", store=url)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("v1") and recorded["v1"] in lines[0]
    assert lines[1].startswith("v2") and recorded["v2"] in lines[1]
    out = run_inline(capsys, "history", f"@{recorded['report']}", store=url).stdout
    assert "by report()" in out


@pytest.fixture(scope="module")
def exported(recorded):
    path = recorded["tmp"] / "export.json"
    proc = run_cli(recorded["tmp"], "export", "json", str(path), store=recorded["url"])
    assert proc.returncode == 0, proc.stderr
    assert str(recorded["versions"]) in proc.stdout
    return json.loads(path.read_text())


def test_export_json_writes_every_version(recorded, exported):
    doc = exported
    assert doc["store"] == recorded["url"]
    versions = {v["ecs_id"]: v for v in doc["versions"]}
    assert len(versions) == recorded["versions"]
    v1, v2 = versions[recorded["v1"]], versions[recorded["v2"]]
    assert v1["type"] == "models:Student"
    assert v1["data"]["name"] == "Ada" and v2["data"]["name"] == "Grace"
    assert v2["previous_ecs_id"] == recorded["v1"]
    assert len(v1["children"]) == 2
    assert versions[recorded["report"]]["derived_from_function"] == "report"
    assert versions[recorded["report"]]["derived_from_execution_id"] == recorded["executions"][0]


def test_export_json_keeps_entities_whose_class_is_not_importable(recorded, exported):
    ghost = {v["ecs_id"]: v for v in exported["versions"]}[recorded["ghost"]]
    assert ghost["type"] == "cli_ghost_not_importable:CliGhost"
    assert ghost["data"]["label"] == "only-in-the-notebook"


def test_export_json_keeps_fields_that_may_hold_entities(recorded, exported):
    holder = {v["ecs_id"]: v for v in exported["versions"]}[recorded["holder"]]
    assert holder["data"]["note"] == "n"
    assert holder["data"]["value"] == {"k": [1, 2]}


def test_export_openlineage_writes_a_start_and_an_end_event_per_execution(recorded, tmp_path, capsys):
    path = tmp_path / "events.jsonl"
    proc = run_cli(tmp_path, "export", "openlineage", str(path), "--namespace", "school", "--producer", "urn:test", store=recorded["url"])
    assert proc.returncode == 0, proc.stderr
    assert "6 run events of 3 executions" in proc.stdout
    events = [json.loads(line) for line in path.read_text().splitlines()]
    assert [e["eventType"] for e in events] == ["START", "COMPLETE", "START", "FAIL", "START", "COMPLETE"]
    assert [e["run"]["runId"] for e in events[::2]] == recorded["executions"]
    assert {e["job"]["namespace"] for e in events} == {"school"}
    assert {e["producer"] for e in events} == {"urn:test"}
    assert {e["job"]["name"] for e in events} == {"report", "boom"}
    report_outputs = [o["facets"]["version"]["datasetVersion"] for o in events[1]["outputs"]]
    assert report_outputs == [recorded["report"]]
    defaults = tmp_path / "defaults.jsonl"
    assert run_inline(capsys, "export", "openlineage", str(defaults), store=recorded["url"]).returncode == 0
    assert {json.loads(line)["job"]["namespace"] for line in defaults.read_text().splitlines()} == {"ecs_notebook"}


def test_openlineage_options_are_refused_for_the_json_export(recorded, tmp_path):
    proc = run_cli(tmp_path, "export", "json", str(tmp_path / "x.json"), "--namespace", "school", store=recorded["url"])
    assert proc.returncode == 2
    assert "--namespace and --producer apply to the openlineage format only" in proc.stderr
    assert not (tmp_path / "x.json").exists()


@pytest.mark.parametrize(
    ("command", "address"),
    [
        ("show", "@{v1}.no_such_field"),
        ("show", "@{v1}.courses.9"),
    ],
    ids=["bad-field", "bad-index"],
)
def test_bad_address_exits_1_with_one_clear_line(recorded, tmp_path, capsys, command, address):
    args = (command, address.format(v1=recorded["v1"]))
    if address == "@{v1}.no_such_field":
        proc = run_cli(tmp_path, *args, store=recorded["url"])  # the real entry point
    else:
        proc = run_inline(capsys, *args, store=recorded["url"])
    line = _one_error_line(proc)
    assert len(line) < 400
    assert proc.stdout == ""


@pytest.mark.parametrize(
    ("command", "address", "says"),
    [
        ("show", "@not-a-uuid", "not an ecs_id"),
        ("show", "no-at-sign", "must start with '@'"),
        ("show", "@00000000-0000-4000-8000-000000000000", "No recorded entity version"),
        ("show", "@0000000", "No recorded version or execution has an id starting with 0000000"),
        ("history", "@zz", "not an ecs_id"),
        ("history", "@00000000-0000-4000-8000-000000000000", "No recorded entity version"),
        ("history", "ffff0000", "No recorded version or execution has an id starting with ffff0000"),
    ],
    ids=["malformed", "no-at", "unknown-id", "unknown-prefix", "history-malformed", "history-unknown", "history-unknown-prefix"],
)
def test_an_id_naming_no_version_exits_2_with_one_clear_line(recorded, tmp_path, command, address, says):
    proc = run_cli(tmp_path, command, address, store=recorded["url"])
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("ecs-notebook:"), proc.stderr
    assert says in lines[0]
    assert proc.stdout == ""


@pytest.mark.parametrize(
    "spelling",
    ["{short}", "@{short}", "{p4}", "@{p4}", "{p12}", "@{full}"],
    ids=["as-shown", "at-as-shown", "4-digits", "at-4-digits", "with-dash", "full"],
)
def test_show_and_history_accept_ids_as_listings_show_them(recorded, tmp_path, spelling):
    url = recorded["url"]
    v1 = recorded["v1"]
    unique = _unique_prefix(recorded, v1)
    text = spelling.format(short=v1[:8], p4=unique, p12=v1[:13], full=v1)
    history = run_cli(tmp_path, "history", text, store=url)
    assert history.returncode == 0, history.stderr
    assert [line.split()[1] for line in history.stdout.splitlines()] == [v1, recorded["v2"]]
    name = run_cli(tmp_path, "show", text + ".name", store=url)
    assert (name.returncode, name.stdout.strip()) == (0, "'Ada'"), name.stderr
    whole = run_cli(tmp_path, "show", text, store=url)
    assert whole.stdout.startswith(f"Student Ada v1  @{v1}")


def test_show_accepts_the_short_id_of_an_execution_from_the_listing(recorded, tmp_path):
    url = recorded["url"]
    listing = run_cli(tmp_path, "executions", "--failed", store=url).stdout.splitlines()[1]
    short_id = listing.split()[4]  # the execution column, as listed
    proc = run_cli(tmp_path, "show", short_id, store=url)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("boom()  @")
    rows = {line.split()[0]: line for line in proc.stdout.splitlines()[2:]}
    assert rows["succeeded"].split()[1] == "false" and "ValueError" in rows["error_type"]


def test_an_ambiguous_prefix_exits_2_listing_the_matches(tmp_path):
    from ecs_notebook.testing import fresh_state

    url = sqlite_url(tmp_path / "lineage.db")
    twins = ["3cf40b27-0000-4000-8000-000000000001", "3cf40b27-1000-4000-8000-000000000002"]
    with fresh_state():
        ecs_notebook.connect(url)
        for eid in twins:
            Holder(value={}, note=eid, ecs_id=uuid.UUID(eid)).promote_to_root()
        ecs_notebook.connect("memory://")
    for text in ("3cf4", "@3cf40b27", "3cf40b27.note"):
        proc = run_cli(tmp_path, "show", text, store=url)
        assert proc.returncode == 2, (proc.stdout, proc.stderr)
        lines = proc.stderr.splitlines()
        assert len(lines) == 1 and "ambiguous" in lines[0], proc.stderr
        assert twins[0] in lines[0] and twins[1] in lines[0], "the message lists the matches"
    one = run_cli(tmp_path, "show", "3cf40b27-1.note", store=url)
    assert (one.returncode, one.stdout.strip()) == (0, repr(twins[1])), one.stderr


def _unique_prefix(recorded, eid: str) -> str:
    """The shortest prefix (>= 4 hex digits) of ``eid`` that no other id in the store starts with."""
    from ecs_notebook.store import open_store

    store = open_store(recorded["url"], create=False)
    try:
        for n in range(4, 33):
            p = eid.replace("-", "")[:n]
            if len(store.ids_with_prefix(p, limit=2)) == 1:
                return p
    finally:
        store.close()
    raise AssertionError(eid)


def test_a_corrupt_store_exits_1_and_is_left_untouched(tmp_path):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"not sqlite" * 100)
    line = _one_error_line(run_cli(tmp_path, "summary", store=sqlite_url(bad)))
    assert "bad.db" in line
    assert bad.read_bytes() == b"not sqlite" * 100


def test_unknown_store_url_exits_1(tmp_path, capsys):
    _one_error_line(run_cli(tmp_path, "summary", store="mysql://db/x"))
    line = _one_error_line(run_inline(capsys, "summary", store="postgresql://user:pw@db/x"))
    assert "PostgreSQL" in line and "pw" not in line


def test_store_from_the_environment_variable(recorded, tmp_path):
    env = child_env()
    env["ECS_NOTEBOOK_STORE"] = recorded["url"]
    cli = [sys.executable, "-m", "ecs_notebook.notebook.cli", "summary"]
    proc = subprocess.run(cli, capture_output=True, text=True, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert recorded["url"] in proc.stdout


def test_usage_errors_exit_non_zero(tmp_path):
    proc = run_cli(tmp_path)
    assert proc.returncode == 2
    assert "usage" in proc.stderr.lower()


def test_inspecting_a_missing_store_does_not_create_it(tmp_path):
    missing = tmp_path / "nowhere" / "lineage.db"
    proc = run_cli(tmp_path, "summary", store=sqlite_url(missing))
    assert not missing.exists()
    assert proc.returncode == 1


def test_show_cuts_long_values_to_the_terminal_width(tmp_path):
    from ecs_notebook.testing import fresh_state

    url = sqlite_url(tmp_path / "lineage.db")
    with fresh_state():
        ecs_notebook.connect(url)
        h = Holder(value={"rows": list(range(5000))}, note="x" * 10_000)
        h.promote_to_root()
        hid = str(h.ecs_id)
        ecs_notebook.connect("memory://")
    env = child_env()
    env["COLUMNS"] = "100"
    proc = subprocess.run(
        [sys.executable, "-m", "ecs_notebook.notebook.cli", "--store", url, "show", hid[:8]],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == f"Holder {hid[:8]}  @{hid}"
    rows = {line.split()[0]: line for line in lines[3:]}
    assert set(rows) == {"value", "note"}
    assert all(len(line) <= 100 for line in lines[2:]), "the table fits the terminal"
    assert rows["note"].rstrip().endswith("xxx…") and rows["value"].split()[1].startswith('{"rows":')
