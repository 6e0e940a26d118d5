"""Regenerate docs/explorer.png, the lineage explorer picture of the README.

Run from the repository root (needs the ``browser`` extra and a system Chromium, as tests/browser):

    .venv/bin/python scripts/screenshot.py

It starts a private JupyterLab (temporary directories, in-memory store) with the harness of
tests/browser, runs a small student pipeline in a notebook (students -> analyses -> course stats ->
report, one failed cell, one grade correction that makes earlier results stale), shows the explorer
around the first version of Ada with depth 2, selects her corrected version, opens the legend, fits
the graph and saves a screenshot of the widget.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "browser"))

from browser_support import (  # noqa: E402
    CHROMIUM_ARGS,
    Lab,
    cell_output,
    chromium_path,
    missing_requirement,
    node_point,
    run_new_cell,
    running_lab,
    wait_for_kernel_idle,
    write_json,
)

OUT = ROOT / "docs" / "explorer.png"
EXPLORER = ".ecs-explorer"

SETUP = """\
%load_ext ecs_notebook
from ecs_notebook import CallableRegistry, Entity, show_lineage

class Grade(Entity):
    course: str
    score: float

class Student(Entity):
    name: str
    grades: list[Grade] = []

class Analysis(Entity):
    student: str
    mean: float
    best_course: str

class SemesterReport(Entity):
    title: str
    top_student: str
    hardest_course: str
    n_students: int

@CallableRegistry.register()
def analyze(student: Student) -> Analysis:
    best = max(student.grades, key=lambda g: g.score)
    mean = sum(g.score for g in student.grades) / len(student.grades)
    return Analysis(student=student.name, mean=round(mean, 3), best_course=best.course)

@CallableRegistry.register()
def correct_grade(student: Student, course: str, score: float) -> Student:
    for g in student.grades:
        if g.course == course:
            g.score = score
    return student

raw = {
    "Ada": {"Algebra": 3.9, "Logic": 3.5, "Physics": 3.2},
    "Grace": {"Algebra": 3.4, "Logic": 3.8, "Physics": 2.9},
    "Alan": {"Algebra": 2.8, "Logic": 3.9, "Physics": 3.0},
}
students = [Student(name=n, grades=[Grade(course=c, score=s) for c, s in g.items()]) for n, g in raw.items()]
for st in students:
    st.promote_to_root()
analyses = [CallableRegistry.execute("analyze", student=st) for st in students]
print("READY")
"""

# (code, text its output contains): run one by one, in new cells, after SETUP.
STEPS = [
    (  # a typo: this run fails and is recorded as failed
        "%%ecs_exec course_stats --out stats\nby_course = {}\nfor st in students:\n    for g in st.grades:\n"
        "        by_course.setdefault(g.course, []).append(g.scor)\n"
        "stats = {c: round(sum(v) / len(v), 3) for c, v in by_course.items()}",
        "AttributeError",
    ),
    (
        "%%ecs_exec course_stats --out stats\nby_course = {}\nfor st in students:\n    for g in st.grades:\n"
        "        by_course.setdefault(g.course, []).append(g.score)\n"
        "stats = {c: round(sum(v) / len(v), 3) for c, v in by_course.items()}",
        "course_stats:",
    ),
    (
        "%%ecs_exec semester_report --out report\ntop = max(analyses, key=lambda a: a.mean)\nhardest = min(stats, key=stats.get)\n"
        'report = SemesterReport(title="Fall semester", top_student=top.student, hardest_course=hardest, n_students=len(analyses))',
        "semester_report:",
    ),
    (  # a late grade correction: a new version of Ada, the report is now stale
        'ada = students[0]\nada2 = CallableRegistry.execute("correct_grade", student=ada, course="Algebra", score=4.0)\n'
        'analyses[0] = CallableRegistry.execute("analyze", student=ada2)\nprint("CORRECTED", ada2.ecs_id)',
        "CORRECTED",
    ),
]


# The open legend floats over the lower left of the canvas, and Fit ignores it: move the graph up
# (at the same scale) until its nodes clear the legend, as far as the space above them allows.
CLEAR_LEGEND = """() => {
    const el = document.querySelector('.ecs-explorer'), net = el.ecsNetwork;
    const canvasTop = el.querySelector('.ecs-canvas').getBoundingClientRect().top;
    const legendTop = el.querySelector('.ecs-legend').getBoundingClientRect().top - canvasTop;
    const boxes = net.body.data.nodes.getIds().map((id) => net.getBoundingBox(id));
    const top = net.canvasToDOM({x: 0, y: Math.min(...boxes.map((b) => b.top))}).y;
    const bottom = net.canvasToDOM({x: 0, y: Math.max(...boxes.map((b) => b.bottom))}).y;
    const shift = Math.min(bottom + 12 - legendTop, top - 8);
    if (shift > 0) net.moveTo({position: {x: net.getViewPosition().x, y: net.getViewPosition().y + shift / net.getScale()}});
}"""


def write_notebook(notebooks: Path) -> None:
    """The notebook whose one cell sets the session up (SETUP)."""
    cell = {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": SETUP}
    kernel = {"name": "python3", "display_name": "Python 3", "language": "python"}
    write_json(notebooks / "explorer.ipynb", {"cells": [cell], "metadata": {"kernelspec": kernel}, "nbformat": 4, "nbformat_minor": 5})


def take(lab: Lab, browser) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.goto(lab.notebook_url())
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=60_000)
    wait_for_kernel_idle(page)
    page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current").click()  # collapse the file browser
    page.locator(".jp-NotebookPanel .jp-Cell").first.locator(".jp-InputPrompt").click()
    page.keyboard.press("Shift+Enter")
    cell_output(page, 0, "READY", timeout=60_000)
    for code, expect in STEPS:
        out = run_new_cell(page, code, expect)
    corrected = out.split()[-1]
    run_new_cell(page, 'explorer = show_lineage(ada, depth=2)\nprint("SHOWN", len(explorer.graph["nodes"]))', "SHOWN")
    explorer = page.locator(EXPLORER)
    explorer.wait_for()
    page.wait_for_selector(f"{EXPLORER}[data-ecs-ready='1']", timeout=30_000)
    explorer.scroll_into_view_if_needed()
    p = node_point(page, corrected)
    page.mouse.click(p["x"], p["y"])  # select Ada's corrected version: the details panel opens
    page.wait_for_function("() => /versions \\(2\\)/i.test(document.querySelector('.ecs-explorer .ecs-details')?.innerText || '')")
    page.locator(f"{EXPLORER} .ecs-legend summary").click()
    page.locator(f"{EXPLORER} .ecs-fit").click()
    page.mouse.move(5, 5)
    page.add_style_tag(content=".ecs-explorer .vis-tooltip { visibility: hidden !important; }")  # vis can leave one up
    page.wait_for_timeout(600)  # the fit animation
    page.evaluate(CLEAR_LEGEND)
    page.wait_for_timeout(200)
    explorer.screenshot(path=str(OUT))


def main() -> None:
    reason = missing_requirement()
    if reason:
        sys.exit(reason)
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="ecs-screenshot-") as tmp:
        notebooks = Path(tmp) / "notebooks"
        write_notebook(notebooks)
        with running_lab(Path(tmp), notebooks) as lab, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
            try:
                take(lab, browser)
            finally:
                browser.close()
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
