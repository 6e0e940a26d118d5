"""The notebooks in notebooks/ and the demo, executed for real by nbclient in a python3 kernel (cwd: a temp copy)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
TIMEOUT = 120
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
PAYLOAD = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def kernel_env(tmp_path_factory) -> Iterator[None]:
    """Kernels start without ECS_NOTEBOOK_STORE and with a throwaway IPython profile."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("ECS_NOTEBOOK_STORE", raising=False)
        mp.setenv("IPYTHONDIR", str(tmp_path_factory.mktemp("ipython")))
        yield


def execute(nb, workdir: Path):
    client = nbclient.NotebookClient(nb, timeout=TIMEOUT, kernel_name="python3", resources={"metadata": {"path": str(workdir)}})
    client.execute()
    return nb


def run_copy(name: str, workdir: Path):
    """Copy notebooks/<name> into ``workdir`` and execute it there."""
    shutil.copy(NOTEBOOKS / name, workdir / name)
    nb = nbformat.read(workdir / name, as_version=4)
    return execute(nb, workdir)


def cell(nb, source_start: str):
    """The code cell whose source starts with ``source_start`` (the first one, or the n-th with ``#n``)."""
    start, _, nth = source_start.partition("#")
    found = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith(start)]
    assert found, f"no cell starting with {start!r}"
    return found[int(nth) - 1 if nth else 0]


def text(c) -> str:
    parts = []
    for out in c.outputs:
        if out.output_type == "stream":
            parts.append(out.text)
        elif "data" in out:
            parts.append(out.data.get("text/plain", ""))
    return "\n".join(parts)


def htmls(nb) -> list[str]:
    return [out.data["text/html"] for c in nb.cells if c.cell_type == "code" for out in c.outputs if "text/html" in out.get("data", {})]


def errors(nb) -> list[tuple[int, str]]:
    return [(i, out.ename) for i, c in enumerate(nb.cells) if c.cell_type == "code" for out in c.outputs if out.output_type == "error"]


def assert_offline_page(path: Path) -> str:
    page = path.read_text(encoding="utf-8")
    assert page.lstrip().lower().startswith("<!doctype html") or "<html" in page[:500].lower()
    assert not re.findall(r"<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=", page, re.I), "the page loads something"
    return page


# -- quickstart --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def quickstart(kernel_env, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("quickstart")
    return run_copy("quickstart.ipynb", workdir), workdir


def test_quickstart_runs_without_errors_and_records_in_its_folder(quickstart):
    nb, workdir = quickstart
    assert errors(nb) == []
    assert str(workdir / ".ecs_notebook" / "lineage.db") in text(cell(nb, "%load_ext ecs_notebook"))
    assert (workdir / ".ecs_notebook" / "lineage.db").exists()


def test_quickstart_shows_entity_cards_and_summary_lines(quickstart):
    nb, _ = quickstart
    card = text(cell(nb, "from ecs_notebook import Entity"))
    assert re.search(r"Student @[0-9a-f]{8} \(lineage [0-9a-f]{8}, version 1 of 1\)", card)
    summary = text(cell(nb, "%%ecs_exec analyze"))
    assert re.search(r"^analyze: Report, ada, threshold → report@[0-9a-f]{8} \(creation\), note@[0-9a-f]{8} · [\d.]+ ms", summary)
    report = text(cell(nb, "report"))
    assert "Report @" in report and "derived from analyze() at" in report and "honors = False" in report
    assert re.search(r"raise_gpa: ada → ada@[0-9a-f]{8} \(mutation\)", text(cell(nb, "%%ecs_exec raise_gpa")))


def test_quickstart_versions_addresses_history_and_diff(quickstart):
    nb, _ = quickstart
    assert text(cell(nb, "print(ada.gpa")).strip() == "3.6 True True"
    assert text(cell(nb, "print(get(")).strip() == "3.4 3.6 Algebra"
    history = text(cell(nb, "%ecs_history ada"))
    assert re.search(r"^v1 ", history, re.M) and re.search(r"^v2 .*raise_gpa\(\)", history, re.M)
    assert re.search(r"^gpa\s+3\.4\s+3\.6$", text(cell(nb, "%ecs_diff first_version ada")), re.M)
    up = text(cell(nb, "upstream(report)"))
    assert "Student Ada" in up and "threshold" in up and "Report" in up
    stale = text(cell(nb, "%ecs_stale"))
    assert re.search(r"^note\s+@[0-9a-f]{8}\s+analyze$", stale, re.M) and re.search(r"^report\s+@[0-9a-f]{8}\s+analyze$", stale, re.M)


def test_quickstart_executions_explorer_and_export(quickstart):
    nb, workdir = quickstart
    executions = text(cell(nb, "%ecs_executions"))
    assert "3 of 3 executions" in executions
    assert [line.split()[2] for line in executions.splitlines()[2:]] == ["analyze", "raise_gpa", "analyze"]
    explorer = cell(nb, "explorer = %ecs_lineage")
    assert any(WIDGET_MIME in out.get("data", {}) for out in explorer.outputs)
    assert "wrote lineage.html" in text(cell(nb, "%ecs_export html"))
    page = assert_offline_page(workdir / "lineage.html")
    assert "Ada" in page
    for html_out in htmls(nb):
        assert "<script" not in html_out.lower()


# -- student pipeline ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pipeline(kernel_env, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("pipeline")
    return run_copy("student_pipeline.ipynb", workdir), workdir


def test_pipeline_failing_cell_is_the_only_error_and_leaves_the_namespace(pipeline):
    nb, _ = pipeline
    failing = next(c for c in nb.cells if "raises-exception" in c.metadata.get("tags", []))
    errs = [out for out in failing.outputs if out.output_type == "error"]
    assert len(errs) == 1 and errs[0].ename == "AttributeError" and "scor" in errs[0].evalue
    assert [name for _, name in errors(nb)] == ["AttributeError"]
    assert text(cell(nb, "print('stats' in dir())")).strip() == "False"


def test_pipeline_rerun_after_the_fix_and_the_report(pipeline):
    nb, _ = pipeline
    fixed = text(cell(nb, "%%ecs_exec course_stats#2"))
    assert fixed.startswith("course_stats: students → ") and "stats@" in fixed
    assert text(cell(nb, "stats")).strip() == "{'Algebra': 3.367, 'Logic': 3.733, 'Physics': 3.033}"
    report = text(cell(nb, "report"))
    assert "SemesterReport @" in report and "derived from semester_report()" in report
    assert "top_student = 'Ada'" in report and "hardest_course = 'Physics'" in report and "n_students = 3" in report


def test_pipeline_execution_tables(pipeline):
    nb, _ = pipeline
    rows = {line.split()[0]: line.split()[1:3] for line in text(cell(nb, "%ecs_executions --stats")).splitlines()[2:]}
    assert rows == {"analyze": ["3", "0"], "course_stats": ["2", "1"], "semester_report": ["1", "0"]}
    failed = text(cell(nb, "%ecs_executions --failed")).splitlines()
    assert failed[0] == "1 of 1 executions"
    assert "course_stats" in failed[2] and "FAILED AttributeError" in failed[2]


def test_pipeline_stale_and_explorer(pipeline):
    nb, _ = pipeline
    stale = text(cell(nb, "ada = students[0]"))
    assert stale.startswith("stale because of") and "Analysis" in stale
    assert any(WIDGET_MIME in out.get("data", {}) for out in cell(nb, "%ecs_lineage report").outputs)


def test_pipeline_report_upstream_includes_the_analyses(pipeline):
    nb, _ = pipeline
    assert "Analysis" in text(cell(nb, "upstream(report)"))


# -- a kernel restart: a new kernel on the quickstart's store ------------------------------------------

RESTART_CELLS = [
    "%load_ext ecs_notebook\n"
    "from ecs_notebook import CallableRegistry, EntityRegistry, get\n"
    "xs = CallableRegistry.executions()\n"
    "print(sorted({x.function_name for x in xs}), len(xs))",
    "report_id = CallableRegistry.executions(function='analyze')[-1].output_entity_ids[0]\n"
    "print(get(f'@{report_id}.student_name'), EntityRegistry.get(report_id).from_storage)",
    "%ecs_executions",
    "%%ecs_exec waited\nimport asyncio\nawait asyncio.sleep(0.01)\nanswer = 42",
    "print(answer)",
    f"from ecs_notebook import Entity\nclass Note(Entity):\n    text: str\nevil = Note(text={PAYLOAD!r})\nevil.promote_to_root()\nevil",
    "%%ecs_exec shout\nloud = Note(text=evil.text.upper() + '<script>alert(2)</script>')",
    "loud",
    # a function name is data too: it reaches execution nodes and the exported page
    f"@CallableRegistry.register({PAYLOAD!r})\n"
    "def copy_note(note: Note) -> Note:\n"
    "    return Note(text=note.text)\n"
    f"CallableRegistry.execute({PAYLOAD!r}, note=evil)",
    "%ecs_export html evil.html",
    "%ecs_export json evil.json",
]


@pytest.fixture(scope="module")
def restarted(quickstart):
    _, workdir = quickstart
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in RESTART_CELLS]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return execute(nb, workdir), workdir


def test_new_kernel_on_the_same_store_finds_earlier_executions_and_addresses(restarted):
    nb, _ = restarted
    assert errors(nb) == []
    assert text(nb.cells[0]).strip() == "['analyze', 'raise_gpa'] 3"
    assert text(nb.cells[1]).strip() == "Ada True"
    assert "3 of 3 executions" in text(nb.cells[2])


def test_top_level_await_in_a_running_kernel(restarted):
    nb, _ = restarted
    assert text(nb.cells[3]).startswith("waited: - → answer@")
    assert text(nb.cells[4]).strip() == "42"


def test_entity_data_is_escaped_in_kernel_outputs_and_exports(restarted):
    nb, workdir = restarted
    pages = htmls(nb)
    assert pages
    for page in pages:
        assert "<img" not in page and "<script>alert" not in page
    assert any("&lt;img src=x onerror=alert(1)&gt;" in page for page in pages)
    exported = assert_offline_page(workdir / "evil.html")
    assert PAYLOAD not in exported and "<script>alert(2)" not in exported
    assert "onerror=alert(1)" in exported  # the function name is on the page, escaped
    data = json.loads((workdir / "evil.json").read_text(encoding="utf-8"))
    assert PAYLOAD in {node.get("function_name") for node in data["nodes"]}


# -- python -m ecs_notebook.notebook.demo ----------------------------------------------------------------------


def test_demo_runs_the_quickstart_and_writes_notebook_store_and_page(kernel_env, tmp_path):
    out = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items() if k != "ECS_NOTEBOOK_STORE"}
    proc = subprocess.run(
        [sys.executable, "-m", "ecs_notebook.notebook.demo", "--out", str(out)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=2 * TIMEOUT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Executed notebook:" in proc.stdout
    executed = nbformat.read(out / "quickstart.ipynb", as_version=4)
    assert errors(executed) == []
    assert "3 of 3 executions" in text(cell(executed, "%ecs_executions"))
    assert (out / ".ecs_notebook" / "lineage.db").exists()
    assert not (out / ".ecs_notebook" / "lineage.db-wal").exists(), "the kernel closed its store: the .db is complete alone"
    assert "without encryption" not in proc.stdout + proc.stderr, "the demo's kernel talks over local IPC, not TCP"
    assert "Parent appears to have exited" not in proc.stderr, "the demo shuts its kernel down"
    assert_offline_page(out / "lineage.html")


# -- data science: a real analysis, every cell recorded, against a plain run ---------------------------

SUMMARY_MIME_KEY = "ecs_notebook.summary"


def _plain_copy(nb):
    """The same notebook without ecs_notebook: magic lines removed, lineage-only cells dropped."""
    plain = nbformat.from_dict(json.loads(json.dumps(nb)))
    cells = []
    for c in plain.cells:
        if c.cell_type != "code":
            continue
        if "lineage" in c.metadata.get("tags", []):
            continue
        lines = [ln for ln in c.source.splitlines() if not ln.startswith(("%%ecs_exec", "%load_ext ecs_notebook", "%ecs_"))]
        c.source = "\n".join(lines)
        cells.append(c)
    plain.cells = cells
    return plain


def _shown(c) -> list:
    """What a cell showed, without the summary line and ecs_notebook's warnings (PNG bytes: only that there is one)."""
    out = []
    for o in c.outputs:
        if o.output_type == "stream":
            kept = "".join(ln for ln in o.text.splitlines(True) if not ln.startswith("ecs_notebook:"))
            if kept:
                out.append((o.name, re.sub(r"ipykernel_\d+/\d+", "ipykernel", kept)))
        elif o.output_type == "error":
            out.append(("error", o.ename, o.evalue))
        elif not o.get("metadata", {}).get(SUMMARY_MIME_KEY):
            data = {k: ("<png>" if k == "image/png" else v) for k, v in o.data.items()}
            out.append((o.output_type, data))
    return out


@pytest.fixture(scope="module")
def data_science(kernel_env, tmp_path_factory):
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    workdir = tmp_path_factory.mktemp("data_science")
    recorded = run_copy("data_science.ipynb", workdir)
    plain_dir = tmp_path_factory.mktemp("data_science_plain")
    plain = execute(_plain_copy(nbformat.read(NOTEBOOKS / "data_science.ipynb", as_version=4)), plain_dir)
    return recorded, plain, workdir, plain_dir


def test_data_science_notebook_runs_every_cell_recorded_without_errors(data_science):
    recorded, _, workdir, plain_dir = data_science
    assert errors(recorded) == []
    summaries = [c for c in recorded.cells if c.cell_type == "code" and c.source.startswith("%%ecs_exec")]
    assert summaries and all(any(o.get("metadata", {}).get(SUMMARY_MIME_KEY) for o in c.outputs) for c in summaries)
    assert not (plain_dir / ".ecs_notebook").exists()


def test_data_science_outputs_equal_a_plain_run_of_the_same_cells(data_science):
    recorded, plain, _, _ = data_science
    rec_cells = [c for c in _plain_copy(recorded).cells if c.source.strip()]
    plain_cells = [c for c in plain.cells if c.source.strip()]
    assert [c.source for c in rec_cells] == [c.source for c in plain_cells]
    # the recorded run's own outputs, by the same cell order (outputs are kept by _plain_copy)
    for r, p in zip(rec_cells, plain_cells):
        assert _shown(r) == _shown(p), f"cell {r.source.splitlines()[0]!r} showed something else when recorded"
    figures = [o for c in recorded.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(figures) == 2, "the figure is shown once by the plot cell and once when %ecs_rerun re-runs it"


def test_data_science_records_in_place_changes_and_reruns_stale_cells(data_science):
    recorded, _, _, _ = data_science
    assert re.search(r"clean: df → df@[0-9a-f]{8} \(changed in place\)", text(cell(recorded, "%%ecs_exec clean")))
    assert re.search(r"scaler@[0-9a-f]{8}", text(cell(recorded, "%%ecs_exec scale")))
    stale = text(cell(recorded, "%ecs_stale"))
    assert re.search(r"^accuracy\s+@[0-9a-f]{8}\s+fit$", stale, re.M)
    assert "%ecs_rerun runs: explore, split, scale, fit, confusion, plot" in stale
    assert "re-ran 6 cell(s)" in text(cell(recorded, "%ecs_rerun"))
    assert "Nothing is stale" in text(cell(recorded, "%ecs_stale#2"))
    assert text(cell(recorded, "accuracy, is_stale")).strip().endswith("False)")


RESTART_HISTORY_CELLS = [
    "%load_ext ecs_notebook",
    "%%ecs_exec make\nxs = [1, 2]",
    "%%ecs_exec grow\nxs.append(len(xs) + 1)",
    "from ecs_notebook import history\nprint(' '.join(history(xs)))",
]


def test_a_new_kernel_on_the_same_notebook_continues_each_variables_history(kernel_env, tmp_path, monkeypatch):
    monkeypatch.setenv("JPY_SESSION_NAME", "analysis/restart.ipynb")  # what Jupyter gives the kernel
    runs = []
    for _ in range(2):
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in RESTART_HISTORY_CELLS])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        execute(nb, tmp_path)
        assert errors(nb) == []
        runs.append(text(nb.cells[-1]).split())
    first, second = runs
    assert len(first) == 2 and len(second) == 4
    assert second[:2] == first, "the second kernel's versions of xs continue the first kernel's lineage"
