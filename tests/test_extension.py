"""The IPython extension (ecs_notebook.notebook.magics): loading, unloading, %config options, the store it opens, restarts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from ipython_shell import interactive_shell, one_line_usage_error, run

from ecs_notebook import CallableRegistry, Entity, EntityRegistry, connect, get
from ecs_notebook.notebook.magics import EcsNotebook, load_ipython_extension, unload_ipython_extension

DEFAULT_DB = Path(".ecs_notebook") / "lineage.db"


class Probe(Entity):
    label: str = "probe"


@pytest.fixture
def ip(tmp_path, monkeypatch):
    with interactive_shell(tmp_path, monkeypatch) as shell:
        yield shell


@pytest.fixture
def bare(tmp_path, monkeypatch):
    """A shell without the extension loaded (cwd and IPYTHONDIR in tmp_path)."""
    with interactive_shell(tmp_path, monkeypatch, load=False) as shell:
        yield shell


def ecs_magics(shell) -> dict[str, list[str]]:
    magics = shell.magics_manager.magics
    return {kind: sorted(n for n in magics[kind] if n.startswith("ecs_")) for kind in ("line", "cell")}


def options(shell) -> list[EcsNotebook]:
    return [c for c in shell.configurables if isinstance(c, EcsNotebook)]


def store_path() -> Path:
    return Path(EntityRegistry.store.path)


# -- load / unload -------------------------------------------------------------------------------

MAGICS = {
    "line": sorted(
        [
            "ecs_diff",
            "ecs_exec",
            "ecs_executions",
            "ecs_export",
            "ecs_history",
            "ecs_lineage",
            "ecs_record",
            "ecs_rerun",
            "ecs_show",
            "ecs_stale",
            "ecs_store",
        ]
    ),
    "cell": ["ecs_exec"],
}


def test_load_registers_magics_displays_and_the_default_store(ip):
    assert ecs_magics(ip) == MAGICS
    assert "text/html" in ip.display_formatter.format(Probe())[0]
    assert len(options(ip)) == 1
    assert store_path() == (Path.cwd() / DEFAULT_DB).resolve()
    assert store_path().exists()


def test_loading_twice_is_harmless(ip):
    run(ip, "%load_ext ecs_notebook")
    load_ipython_extension(ip)
    assert ecs_magics(ip) == MAGICS
    assert len(options(ip)) == 1
    ran = run(ip, "%%ecs_exec once\nx = 1")
    assert ran.error is None
    assert len(ran.outputs) == 1  # one summary line, not two
    assert len(CallableRegistry.executions(function="once")) == 1


def test_unload_removes_magics_formatters_and_options(ip):
    run(ip, "%unload_ext ecs_notebook")
    assert ecs_magics(ip) == {"line": [], "cell": []}
    assert "text/html" not in ip.display_formatter.format(Probe())[0]
    assert options(ip) == []
    msg = one_line_usage_error(run(ip, "%%ecs_exec f\nx = 1"))
    assert "ecs_exec" in msg and "not found" in msg
    unload_ipython_extension(ip)  # a second unload is harmless too


def test_reload_restores_everything(ip):
    run(ip, "%reload_ext ecs_notebook")
    assert ecs_magics(ip) == MAGICS
    assert len(options(ip)) == 1
    assert run(ip, "%%ecs_exec after_reload\ny = 2").error is None
    assert ip.user_ns["y"] == 2


# -- which store the extension opens (DESIGN A8) ------------------------------------------------------


def test_env_var_replaces_the_default_store(bare, tmp_path, monkeypatch):
    target = tmp_path / "from_env" / "env.db"
    monkeypatch.setenv("ECS_NOTEBOOK_STORE", f"sqlite:///{target}")
    run(bare, "%load_ext ecs_notebook")
    assert store_path() == target
    assert not (Path.cwd() / DEFAULT_DB).exists()


def test_explicit_connect_before_loading_wins(bare, tmp_path, monkeypatch):
    target = tmp_path / "explicit.db"
    monkeypatch.setenv("ECS_NOTEBOOK_STORE", f"sqlite:///{tmp_path / 'env.db'}")
    connect(f"sqlite:///{target}")
    run(bare, "%load_ext ecs_notebook")
    assert store_path() == target
    assert not (tmp_path / "env.db").exists() and not (Path.cwd() / DEFAULT_DB).exists()


def test_explicit_memory_store_is_kept(bare):
    connect("memory://")
    run(bare, "%load_ext ecs_notebook")
    assert not EntityRegistry.store.persistent
    assert not (Path.cwd() / DEFAULT_DB).exists()


def test_unsaved_memory_records_keep_the_memory_store_with_a_warning(bare):
    Probe().promote_to_root()
    with pytest.warns(UserWarning, match="in memory"):
        bare.run_line_magic("load_ext", "ecs_notebook")
    assert not EntityRegistry.store.persistent
    assert EntityRegistry.store.counts()["versions"] >= 1


def test_config_store_url_in_the_profile_is_used_at_load(bare, tmp_path, monkeypatch):
    monkeypatch.setenv("ECS_NOTEBOOK_STORE", f"sqlite:///{tmp_path / 'env.db'}")
    bare.config.EcsNotebook.store_url = f"sqlite:///{tmp_path / 'configured.db'}"
    run(bare, "%load_ext ecs_notebook")
    assert store_path() == tmp_path / "configured.db"
    assert not (tmp_path / "env.db").exists()


def test_config_store_url_switches_the_store_and_beats_the_env_var(ip, tmp_path, monkeypatch):
    monkeypatch.setenv("ECS_NOTEBOOK_STORE", f"sqlite:///{tmp_path / 'env.db'}")
    target = tmp_path / "cfg" / "switched.db"
    assert run(ip, f"%config EcsNotebook.store_url = 'sqlite:///{target}'").error is None
    assert store_path() == target
    assert run(ip, "%%ecs_exec recorded_here --quiet\nv = 1").error is None
    assert EntityRegistry.store.counts()["executions"] == 1
    ip.run_line_magic("reload_ext", "ecs_notebook")
    assert store_path() == target  # the explicit choice survives a reload


def test_bad_store_url_in_config_keeps_the_current_store(ip):
    before = store_path()
    run(ip, "%config EcsNotebook.store_url = 'bogus://nowhere'")
    assert store_path() == before
    assert run(ip, "%%ecs_exec still_recording --quiet\nv = 1").error is None
    assert EntityRegistry.store.counts()["executions"] == 1


def test_rejected_store_url_is_not_kept_in_the_options(ip):
    run(ip, "%config EcsNotebook.store_url = 'bogus://nowhere'")
    assert ip.run_line_magic("config", "EcsNotebook.store_url") != "bogus://nowhere"


def test_ecs_store_magic_beats_the_default(ip, tmp_path):
    target = tmp_path / "magic.db"
    ip.run_line_magic("ecs_store", f"sqlite:///{target}")
    assert store_path() == target


# -- %config options ----------------------------------------------------------------------------------


def test_config_quiet_hides_the_summary_line(ip):
    run(ip, "%config EcsNotebook.quiet = True")
    ran = run(ip, "%%ecs_exec silent\nv = 1")
    assert ran.error is None and ran.outputs == []
    run(ip, "%config EcsNotebook.quiet = False")
    assert run(ip, "%%ecs_exec loud\nv = 2").outputs


def test_config_explorer_depth_and_direction_are_the_lineage_defaults(ip):
    run(ip, "%config EcsNotebook.explorer_depth = 4")
    run(ip, "%config EcsNotebook.explorer_direction = 'down'")
    explorer = ip.run_line_magic("ecs_lineage", "")
    try:
        assert (explorer.depth, explorer.direction) == (4, "down")
    finally:
        explorer.close()
    run(ip, "%config EcsNotebook.explorer_direction = 'sideways'")  # rejected by the Enum trait
    assert options(ip)[0].explorer_direction == "down"


def test_config_lists_the_options(ip):
    ran = run(ip, "%config EcsNotebook")
    for name in ("store_url", "quiet", "explorer_depth", "explorer_direction", "cache", "max_execution_time"):
        assert f"EcsNotebook.{name}" in ran.stdout


# -- a kernel restart: a new process, then %load_ext on the same store -------------------------------

SESSION_ONE = textwrap.dedent(
    """
    import json, sys
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    cfg = Config()
    cfg.HistoryManager.enabled = False
    shell = InteractiveShell.instance(config=cfg)
    shell.run_line_magic("load_ext", "ecs_notebook")
    cells = [
        "from ecs_notebook import Entity\\n"
        "class RestartPupil(Entity):\\n"
        "    name: str\\n"
        "    score: float = 0.0\\n"
        "pupil = RestartPupil(name='Ada', score=1.0)\\n"
        "pupil.promote_to_root()\\n"
        "first = pupil.ecs_id",
        "%%ecs_exec bump_score --quiet\\npupil.score = 2.0\\nlabel = pupil.name.upper()",
        "%%ecs_exec fails_once --quiet\\nraise ValueError('first session')",
    ]
    for cell in cells:
        result = shell.run_cell(cell)
        if cell.startswith("%%ecs_exec fails"):
            assert isinstance(result.error_in_exec, ValueError)
        else:
            assert result.error_in_exec is None, result.error_in_exec
    ns = shell.user_ns
    from ecs_notebook import CallableRegistry
    bump = CallableRegistry.executions(function="bump_score")[-1]
    print(json.dumps({
        "first": str(ns["first"]),
        "latest": str(ns["pupil"].ecs_id),
        "lineage": str(ns["pupil"].lineage_id),
        "outputs": [str(i) for i in bump.output_entity_ids],
        "execution": str(bump.ecs_id),
        "code_version": bump.code_version,
    }))
    """
)


def _first_session(cwd: Path, tmp_path: Path) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if k != "ECS_NOTEBOOK_STORE"}
    env["IPYTHONDIR"] = str(tmp_path / "ipython-session-one")
    proc = subprocess.run([sys.executable, "-c", SESSION_ONE], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_after_a_restart_load_ext_brings_back_versions_executions_and_addresses(tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    one = _first_session(work, tmp_path)
    with interactive_shell(tmp_path, monkeypatch) as shell:
        assert store_path() == (work / DEFAULT_DB).resolve()
        executions = shell.run_line_magic("ecs_executions", "")
        assert [r[1] for r in executions.rows] == ["bump_score", "fails_once"]
        failed = shell.run_line_magic("ecs_executions", "--failed")
        assert [r[1] for r in failed.rows] == ["fails_once"]
        bump = CallableRegistry.executions(function="bump_score")[-1]
        assert str(bump.ecs_id) == one["execution"] and bump.code_version == one["code_version"]
        assert CallableRegistry.code_versions("bump_score") == [one["code_version"]]
        # Versions and addresses, old and new; RestartPupil is not defined in this process yet.
        assert get(f"@{one['first']}.score") == 1.0
        assert get(f"@{one['latest']}.score") == 2.0
        assert [str(v) for v in EntityRegistry.history(one["lineage"])] == [one["first"], one["latest"]]
        latest = shell.run_line_magic("ecs_show", one["latest"])
        assert latest.from_storage
        assert latest.untyped_data["name"] == "Ada"
        history = shell.run_line_magic("ecs_history", f"@{one['latest']}")
        assert [r[0] for r in history.rows] == ["v1", "v2"]
        # Defining the class again re-types the stored versions on the next access.
        assert (
            run(shell, "from ecs_notebook import Entity\nclass RestartPupil(Entity):\n    name: str\n    score: float = 0.0").error is None
        )
        typed = shell.run_line_magic("ecs_show", one["latest"])
        assert type(typed).__name__ == "RestartPupil" and typed.score == 2.0 and typed.from_storage
        # The session goes on from there: a new cell links to the earlier version.
        shell.user_ns["pupil"] = typed
        assert run(shell, "%%ecs_exec bump_score --quiet\npupil.score = 3.0\nlabel = pupil.name.upper()").error is None
        assert [str(v) for v in EntityRegistry.history(one["lineage"])][:2] == [one["first"], one["latest"]]
        assert len(EntityRegistry.history(one["lineage"])) == 3
        assert len(CallableRegistry.executions(function="bump_score")) == 2
