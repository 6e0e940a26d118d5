"""Every code block of README.md runs (issue 15): a newcomer copying them must not hit an error.

Each fenced block is claimed by exactly one test below; a block no test claims fails
``test_every_readme_block_is_run_by_a_test``, so a new README command comes with its test.
Shell blocks run with bash from the repository root, as a user types them, with these honest
differences: ``--lab`` gets ``--check`` (start JupyterLab, check it serves the notebook and runs a
kernel, stop: a test cannot wait for someone to close a browser); ``pip install`` lines are not
run (they would change the environment under test) but their extra must exist and be installed;
``bash .ci/run`` is this test run itself; example server URLs become the test server's.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest
from ipython_shell import interactive_shell, run

import ecs_notebook

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


@dataclass(frozen=True)
class Block:
    lang: str
    code: str
    line: int  # where it starts in README.md

    def __str__(self) -> str:
        return f"README.md:{self.line} ({self.lang or 'text'}): {self.code.splitlines()[0] if self.code else ''}"


def readme_blocks() -> list[Block]:
    text = README.read_text(encoding="utf-8")
    return [
        Block(m["lang"], m["code"], text[: m.start()].count("\n") + 1)
        for m in re.finditer(r"^```(?P<lang>\w*)\n(?P<code>.*?)^```$", text, flags=re.S | re.M)
    ]


BLOCKS = readme_blocks()


def blocks(predicate) -> list[Block]:
    return [b for b in BLOCKS if predicate(b)]


# -- which test runs which block ---------------------------------------------------------------------

NOTEBOOK = lambda b: b.lang == "python" and (b.code.lstrip().startswith("%") or "ada = Student" in b.code)  # noqa: E731
NOTEBOOK_OUTPUT = lambda b: b.lang == "" and b.code.startswith("analyze:")  # noqa: E731
LIBRARY = lambda b: b.lang == "python" and "CallableRegistry.execute(" in b.code  # noqa: E731
OPENLINEAGE_CLIENT = lambda b: b.lang == "python" and "to_openlineage(" in b.code  # noqa: E731
FRESH_STATE = lambda b: b.lang == "python" and "fresh_state()" in b.code  # noqa: E731
TWO_COMMANDS = lambda b: b.lang == "bash" and "bash .ci/run" in b.code  # noqa: E731
NEXT_STEPS = lambda b: b.lang == "bash" and "demo.sh --lab" in b.code  # noqa: E731
POSTGRES = lambda b: b.lang == "bash" and "ECS_NOTEBOOK_STORE=postgresql" in b.code  # noqa: E731
CLAIMS = [NOTEBOOK, NOTEBOOK_OUTPUT, LIBRARY, OPENLINEAGE_CLIENT, FRESH_STATE, TWO_COMMANDS, NEXT_STEPS, POSTGRES]


def test_every_readme_block_is_run_by_a_test():
    assert len(BLOCKS) >= 10, "the README's blocks were not found"
    for b in BLOCKS:
        claimed = sum(bool(claim(b)) for claim in CLAIMS)
        assert claimed == 1, f"{b} is claimed by {claimed} tests in tests/test_readme.py (exactly one must run it)"


# -- shell blocks -------------------------------------------------------------------------------------


def _venv_env(tmp_path: Path) -> dict[str, str]:
    """The environment the README's shell commands run in: this interpreter's virtualenv as .venv."""
    if Path(ecs_notebook.__file__).resolve().parent.parent != ROOT:
        pytest.skip("ecs_notebook is imported from outside this checkout: demo.sh would reinstall it into the environment")
    env = {k: v for k, v in os.environ.items() if k != "ECS_NOTEBOOK_STORE"}
    env["ECS_NOTEBOOK_VENV"] = sys.prefix  # CI: this is <repo>/.venv itself
    env["IPYTHONDIR"] = str(tmp_path / "ipython")
    env["JUPYTER_CONFIG_DIR"] = str(tmp_path / "jupyter-config")
    env["JUPYTER_RUNTIME_DIR"] = str(tmp_path / "jupyter-runtime")
    env["JUPYTERLAB_WORKSPACES_DIR"] = str(tmp_path / "jupyter-workspaces")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    return env


def _as_ci_runs_it(code: str) -> str:
    """The block's commands as this test runs them (see the module docstring for every difference)."""
    lines = []
    for line in code.splitlines():
        cmd = line.split("#", 1)[0].strip()
        if not cmd:
            continue
        if cmd == "bash .ci/run":
            continue  # this test run is .ci/run
        if cmd.startswith("pip install"):
            continue  # checked by test_pip_install_lines_name_extras_that_exist_and_are_installed
        if "demo.sh --lab" in cmd:
            cmd = cmd + " --check"
        cmd = cmd.replace("source .venv/bin/activate", 'source "$ECS_NOTEBOOK_VENV/bin/activate"')
        lines.append(cmd)
    return "\n".join(["set -euo pipefail", *lines])


def _bash(script: str, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_the_two_commands_and_the_next_steps_run(tmp_path):
    env = _venv_env(tmp_path)
    out = ROOT / "demo-output"
    if out.exists():
        shutil.rmtree(out)
    (first,) = blocks(TWO_COMMANDS)
    demo = _bash(_as_ci_runs_it(first.code), env)
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-3000:]
    assert "Executed notebook:" in demo.stdout
    assert "without encryption" not in demo.stdout + demo.stderr
    assert (out / ".ecs_notebook" / "lineage.db").exists() and (out / "lineage.html").exists()

    (steps,) = blocks(NEXT_STEPS)
    proc = _bash(_as_ci_runs_it(steps.code), env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "JupyterLab is up" in proc.stdout and "serves notebooks/quickstart.ipynb" in proc.stdout
    assert "a python3 kernel starts" in proc.stdout
    assert re.search(r"^versions\s+\d+", proc.stdout, flags=re.M), "ecs-notebook summary ran (from the activated .venv)"
    assert re.search(r"^\S+\s+analyze\s+ok", proc.stdout, flags=re.M), "ecs-notebook executions listed the demo's cells"


def test_lab_without_jupyterlab_says_how_to_get_it(tmp_path):
    code = (
        "import sys, importlib.util, runpy\n"
        "real = importlib.util.find_spec\n"
        "importlib.util.find_spec = lambda name, *a: None if name == 'jupyterlab' else real(name, *a)\n"
        "sys.argv = ['demo', '--lab', '--check']\n"
        "runpy.run_module('ecs_notebook.notebook.demo', run_name='__main__')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "bash scripts/demo.sh --lab" in proc.stderr and "pip install -e '.[lab]'" in proc.stderr


def test_pip_install_lines_name_extras_that_exist_and_are_installed():
    lines = [line for b in BLOCKS if b.lang == "bash" for line in b.code.splitlines() if line.strip().startswith("pip install")]
    inline = re.findall(r"`(pip install [^`]+)`", README.read_text(encoding="utf-8"))
    assert lines and inline
    dist = metadata.distribution("ecs-notebook")
    extras = set(dist.metadata.get_all("Provides-Extra") or [])
    for line in lines + inline:
        m = re.fullmatch(r"pip install -e '\.\[(?P<extras>[\w,]+)\]'", line.split("#", 1)[0].strip())
        assert m, f"{line!r}: install from the checkout (-e '.[extra]'); the package is not on PyPI"
        for extra in m["extras"].split(","):
            assert extra in extras, f"{line!r}: pyproject.toml has no extra {extra!r}"
            for req in dist.requires or []:
                if f'extra == "{extra}"' in req:
                    name = re.split(r"[<>=\[;! ]", req, maxsplit=1)[0]
                    metadata.version(name)  # raises PackageNotFoundError when the extra is not installed


@pytest.mark.postgres
def test_the_postgresql_block_runs_against_a_real_server(tmp_path):
    url = os.environ.get("ECS_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("ECS_TEST_POSTGRES_URL is not set (scripts/postgres.sh starts a server)")
    from pg_support import fresh_schema

    (block,) = blocks(POSTGRES)
    example = re.search(r"postgresql://\S+", block.code)
    assert example
    env = _venv_env(tmp_path)
    with fresh_schema() as schema_url:
        ecs_notebook.connect(schema_url)  # the schema exists once a kernel has used it
        ecs_notebook.connect("memory://")
        # The block follows the steps above, in the shell where .venv was activated.
        script = 'source "$ECS_NOTEBOOK_VENV/bin/activate"\n' + block.code.replace(example[0], schema_url)
        proc = _bash(_as_ci_runs_it(script), env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"^versions\s+0$", proc.stdout, flags=re.M), proc.stdout


# -- python blocks --------------------------------------------------------------------------------


def _summary_pattern(shown: str) -> re.Pattern[str]:
    """The README's summary line with its ids and timing as wildcards."""
    pattern = re.escape(shown.strip())
    pattern = re.sub(r"@[0-9a-f]{8}", "@[0-9a-f]{8}", pattern)
    pattern = re.sub(r"0\\\.1\\ ms", r"[\\d.]+\\ (?:µs|ms|s)", pattern)
    return re.compile(pattern)


def test_the_notebook_blocks_run_in_a_real_ipython_shell(tmp_path, monkeypatch):
    cells = blocks(NOTEBOOK)
    assert len(cells) >= 4
    (shown,) = blocks(NOTEBOOK_OUTPUT)
    openlineage_magic = [b for b in cells if "%ecs_export openlineage" in b.code]
    with interactive_shell(tmp_path, monkeypatch, load=False) as shell:
        for b in cells:
            for cell in _cells(b.code):
                ran = run(shell, cell)
                assert ran.error is None, f"{b}: {cell!r} failed: {ran.error!r}\n{ran.stdout}{ran.stderr}"
                if cell.startswith("%%ecs_exec analyze"):
                    assert _summary_pattern(shown.code).search(ran.stdout + ran.text()), (shown.code, ran.stdout, ran.text())
        assert openlineage_magic and (Path.cwd() / "lineage.jsonl").stat().st_size > 0
        # The OpenLineage client block, in the same session (its client prints events to the console).
        (client,) = blocks(OPENLINEAGE_CLIENT)
        ran = run(shell, client.code)
        assert ran.error is None, f"{client}: {ran.error!r}"


def _cells(code: str) -> list[str]:
    """A block as the cells a user runs: a %%cell magic takes the rest of the block; line magics run one by one."""
    code = code.strip()
    if code.startswith("%%"):
        return [code]
    if all(line.startswith("%") or not line.strip() for line in code.splitlines()):
        return [line.split("  #", 1)[0].strip() for line in code.splitlines() if line.strip()]
    return [code]


def test_the_library_block_runs_as_a_script_and_means_what_its_comments_say(tmp_path):
    (block,) = blocks(LIBRARY)
    checks = (
        "\nassert r.derived_from_function == 'report'"
        "\nassert r.function_input_entities == [s.ecs_id]"
        "\nassert get(f'@{s.ecs_id}.gpa') == 3.9"
        "\nassert upstream(r) == [str(s.ecs_id)]"
        "\nprint('ok')\n"
    )
    proc = subprocess.run([sys.executable, "-c", block.code + checks], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("ok")


def test_the_fresh_state_block_runs():
    (block,) = blocks(FRESH_STATE)
    exec(compile(block.code, str(README), "exec"), {})
