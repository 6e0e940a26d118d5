"""What the explorer shows where there is no widget: a text tree in terminal IPython and in repr (issue 15)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from models import Course, Report, Student, child_env

from ecs_notebook import CallableRegistry, EntityRegistry
from ecs_notebook.lineage.text import payload_tree
from ecs_notebook.notebook.widget import LineageExplorer


def _record_ada() -> dict[str, str]:
    @CallableRegistry.register("analyze")
    def analyze(student: Student, threshold: float = 3.5) -> Report:
        return Report(student_name=student.name, score=student.gpa)

    @CallableRegistry.register("fail")
    def fail(student: Student) -> Report:
        raise RuntimeError("no report today")

    ada = Student(name="Ada", gpa=3.6, courses=[Course(name="Algebra")])
    ada.promote_to_root()
    v1 = str(ada.ecs_id)
    ada.gpa = 3.9
    EntityRegistry.version_entity(ada)
    report = CallableRegistry.execute("analyze", student=ada)
    with pytest.raises(RuntimeError):
        CallableRegistry.execute("fail", student=ada)
    return {"v1": v1, "v2": str(ada.ecs_id), "report": str(report.ecs_id)}


def test_explorer_repr_is_one_line_naming_the_view():
    ids = _record_ada()
    w = LineageExplorer(ids["v2"])
    try:
        text = repr(w)
        assert "\n" not in text and "object at 0x" not in text
        assert text.startswith("<Lineage explorer: around Student Ada v2 @" + ids["v2"][:8])
        assert "depth 2" in text and f"{len(w.graph['nodes'])} nodes" in text
    finally:
        w.close()


def test_the_tree_shows_versions_calls_outputs_and_failures():
    ids = _record_ada()
    w = LineageExplorer(ids["v2"], depth=3)
    try:
        lines = payload_tree(w.graph).splitlines()
    finally:
        w.close()
    text = "\n".join(lines)
    assert lines[0].startswith("Lineage explorer: around Student Ada v2")
    assert lines[1] == f"Student Ada v1 @{ids['v1'][:8]}", "roots first: the oldest version"
    assert f"next version: Student Ada v2 @{ids['v2'][:8]} (focus)" in text
    assert "analyze() @" in text and f"Report @{ids['report'][:8]} (creation)" in text
    assert "fail() @" in text and "(FAILED)" in text
    assert any(line.lstrip("│ ").startswith(("├─ ", "└─ ")) for line in lines[2:]), "indented as a tree"


def test_a_long_tree_is_cut_and_counted():
    nodes = [{"id": f"{k:08x}-0000", "kind": "entity", "label": f"Item {k}", "level": k} for k in range(100)]
    edges = [{"from": nodes[k]["id"], "to": nodes[k + 1]["id"], "kind": "version"} for k in range(99)]
    lines = payload_tree({"nodes": nodes, "edges": edges}, max_lines=10).splitlines()
    assert len(lines) == 1 + 10 + 1
    assert lines[-1] == "… 90 more node(s) (the widget shows them all)"


TERMINAL_SESSION = """\
%load_ext ecs_notebook
from models import Course, Student
ada = Student(name="Ada", gpa=3.0, courses=[Course(name="Algebra"), Course(name="Biology")])
ada.promote_to_root()
ada.gpa = 3.5
from ecs_notebook import EntityRegistry
_ = EntityRegistry.version_entity(ada)
%ecs_lineage ada
"""


def test_ecs_lineage_in_terminal_ipython_prints_the_tree(tmp_path):
    env = child_env()
    env["IPYTHONDIR"] = str(tmp_path / "ipython")
    env["ECS_NOTEBOOK_STORE"] = "memory://"
    proc = subprocess.run(
        [sys.executable, "-m", "IPython", "--no-banner", "--simple-prompt", "--HistoryManager.enabled=False", "--colors=NoColor"],
        input=TERMINAL_SESSION, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    out = proc.stdout
    assert "object at 0x" not in out
    shown = out[out.index("Out[") :]
    assert "Lineage explorer: around Student Ada v2 @" in shown
    assert "Student Ada v1 @" in shown and "next version: Student Ada v2 @" in shown
    assert "(focus)" in shown
