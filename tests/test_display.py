"""Rich displays (ecs_notebook.notebook.display) as the notebook shows them: entity cards, execution rows, tables, escaping."""

from __future__ import annotations

import html
import re

import pytest
from ipython_shell import interactive_shell, run

from ecs_notebook import CallableRegistry, Entity, EntityRegistry, FunctionExecution
from ecs_notebook.notebook.display import Table, Text, entity_html, entity_text, execution_html, execution_text

PAYLOAD = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert('x')</script>"

SETUP = """
from ecs_notebook import Entity, CallableRegistry

class Course(Entity):
    name: str
    grade: float = 0.0

class Student(Entity):
    name: str
    gpa: float = 0.0
    courses: list[Course] = []
    notes: dict[str, str] = {}

class Report(Entity):
    who: str
    honors: bool = False

ada = Student(name="Ada", gpa=3.4, courses=[Course(name="Algebra"), Course(name="Logic")])
ada.promote_to_root()
first_version = ada.ecs_id
"""


@pytest.fixture
def ip(tmp_path, monkeypatch):
    with interactive_shell(tmp_path, monkeypatch) as shell:
        ran = run(shell, SETUP)
        assert ran.error is None, ran.stdout
        yield shell


def formats(shell, obj) -> dict[str, str]:
    data, _ = shell.display_formatter.format(obj)
    return data


def short(x) -> str:
    return str(x)[:8]


# -- entity card ---------------------------------------------------------------------------------


def test_entity_card_shows_type_ids_version_and_fields(ip):
    ada = ip.user_ns["ada"]
    data = formats(ip, ada)
    text, page = data["text/plain"], data["text/html"]
    for shown in (text, page):
        assert "Student" in shown
        assert f"@{short(ada.ecs_id)}" in shown
        assert f"lineage {short(ada.lineage_id)}" in shown
        assert "version 1 of 1" in shown
        assert "[2 x Course]" in shown
    assert "name = 'Ada'" in text and "gpa = 3.4" in text
    assert "derived from" not in text  # made by hand, not by a function
    assert text == entity_text(ada)
    assert page == entity_html(ada)


def test_entity_card_of_a_derived_version_says_which_function_made_it_and_when(ip):
    ran = run(ip, "%%ecs_exec raise_gpa\nada.gpa = 3.9")
    assert ran.error is None
    ada = ip.user_ns["ada"]
    x = CallableRegistry.executions(function="raise_gpa")[-1]
    when = f"{x.started_at:%H:%M:%S}"
    data = formats(ip, ada)
    for shown in (data["text/plain"], data["text/html"]):
        assert "version 2 of 2" in shown
        assert f"derived from raise_gpa() at {when}" in shown
    old = EntityRegistry.get(ip.user_ns["first_version"])
    assert "version 1 of 2" in formats(ip, old)["text/plain"]


def test_entity_card_shows_provenance_of_borrowed_fields(ip):
    ran = run(ip, "report = Report(who='?')\nreport.borrow_attribute_from(ada, 'name', 'who')\nreport.promote_to_root()")
    assert ran.error is None
    ada, report = ip.user_ns["ada"], ip.user_ns["report"]
    data = formats(ip, report)
    who_line = next(line for line in data["text/plain"].splitlines() if line.strip().startswith("who ="))
    assert f"from @{short(ada.ecs_id)}" in who_line
    honors_line = next(line for line in data["text/plain"].splitlines() if line.strip().startswith("honors ="))
    assert "from" not in honors_line  # given literally: no provenance
    row = re.search(r"<tr><td class='k'>who</td>.*?</tr>", data["text/html"])
    assert row and f"from @{short(ada.ecs_id)}" in row.group(0)


def test_entity_card_shortens_long_values(ip):
    ran = run(ip, "long = Report(who='x' * 500)")
    assert ran.error is None
    text = formats(ip, ip.user_ns["long"])["text/plain"]
    who_line = next(line for line in text.splitlines() if "who =" in line)
    assert who_line.endswith("…") and len(who_line) < 200


def test_nested_entity_values_show_type_and_short_id(ip):
    ran = run(ip, "class Holder(Entity):\n    course: Course\nh = Holder(course=ada.courses[0])")
    assert ran.error is None
    course = ip.user_ns["h"].course
    assert f"course = Course @{short(course.ecs_id)}" in formats(ip, ip.user_ns["h"])["text/plain"]


# -- execution rows -------------------------------------------------------------------------------


def test_execution_row_for_success_and_failure(ip):
    assert run(ip, "%%ecs_exec analyze --quiet\nreport = Report(who=ada.name)").error is None
    run(ip, "%%ecs_exec broken --quiet\nraise KeyError('missing')")
    ok_x = CallableRegistry.executions(function="analyze")[-1]
    bad_x = CallableRegistry.executions(function="broken")[-1]
    assert isinstance(ok_x, FunctionExecution)
    ok_data, bad_data = formats(ip, ok_x), formats(ip, bad_x)
    report = ip.user_ns["report"]
    assert ok_data["text/plain"].startswith("analyze() ")
    assert f"@{short(report.ecs_id)} (creation)" in ok_data["text/plain"]
    assert f"@{short(ip.user_ns['ada'].ecs_id)}" in ok_data["text/plain"]
    assert "  ok  " in ok_data["text/plain"] and re.search(r"\d+\.\d\d ms", ok_data["text/plain"])
    assert "ecs-ok" in ok_data["text/html"]
    assert "FAILED KeyError" in bad_data["text/plain"]
    assert "ecs-fail" in bad_data["text/html"] and "KeyError" in bad_data["text/html"]
    assert ok_data["text/plain"] == execution_text(ok_x)
    assert bad_data["text/html"] == execution_html(bad_x)


# -- tables ---------------------------------------------------------------------------------------


def _rows(page: str) -> int:
    return page.count("<tr>") - 1  # minus the header row


@pytest.mark.parametrize(
    ("line", "header", "n_rows"),
    [
        pytest.param("%ecs_history ada", "version", 2, id="history"),
        pytest.param("%ecs_executions", "function", 2, id="executions"),
        pytest.param("%ecs_executions --stats", "p95", 2, id="stats"),
        pytest.param("%ecs_diff first_version ada", "field", 1, id="diff"),
    ],
)
def test_tables_have_html_and_plain_text(ip, line, header, n_rows):
    assert run(ip, "%%ecs_exec raise_gpa --quiet\nada.gpa = 3.9").error is None
    assert run(ip, "%%ecs_exec analyze --quiet\nreport = Report(who=ada.name)").error is None
    table = ip.run_line_magic(line.split()[0][1:], line.partition(" ")[2])
    assert isinstance(table, Table)
    data = formats(ip, table)
    assert f"<th>{header}</th>" in data["text/html"]
    assert _rows(data["text/html"]) == n_rows == len(table.rows)
    plain = data["text/plain"].splitlines()
    assert header in plain[1] if table.title else header in plain[0]
    assert len(plain) == n_rows + 1 + (1 if table.title else 0)


def test_text_line_has_html_and_plain_text(ip):
    data = formats(ip, Text("stored 3 versions"))
    assert data["text/plain"] == "stored 3 versions"
    assert "stored 3 versions" in data["text/html"]


# -- escaping (DESIGN A7: no entity data is ever interpreted as HTML) ------------------------------

EVIL = f"""
evil = Student(name={PAYLOAD!r}, courses=[Course(name={SCRIPT!r})], notes={{{PAYLOAD!r}: {SCRIPT!r}}})
evil.promote_to_root()
"""


def _assert_escaped(page: str) -> None:
    """No markup from the data survives in ``page`` (only our own tags)."""
    assert PAYLOAD not in page and "<img" not in page
    assert "<script>alert" not in page and "<i>" not in page


def test_entity_card_escapes_field_values(ip):
    assert run(ip, EVIL).error is None
    evil = ip.user_ns["evil"]
    page = formats(ip, evil)["text/html"]
    _assert_escaped(page)
    assert html.escape(repr(PAYLOAD), quote=True) in page
    assert PAYLOAD in formats(ip, evil)["text/plain"]  # plain text shows the data as it is


def test_every_rich_output_escapes_entity_data(ip):
    assert run(ip, EVIL).error is None
    outputs = []
    for cell in (
        f"%%ecs_exec rename\nevil.name = {SCRIPT!r}\nlabel = evil.name",
        f"%%ecs_exec failing\nraise ValueError({PAYLOAD!r})",
        "%ecs_show evil",
        "%ecs_history evil",
        "%ecs_executions",
        "%ecs_executions --failed",
        "%ecs_diff evil.previous_ecs_id evil",
    ):
        ran = run(ip, cell)
        outputs += ran.outputs
        if ran.result.result is not None:
            outputs.append(formats(ip, ran.result.result))
    failed = CallableRegistry.executions(failed=True)[-1]
    outputs.append(formats(ip, failed))
    pages = [o["text/html"] for o in outputs if "text/html" in o]
    assert len(pages) >= 7
    for page in pages:
        _assert_escaped(page)
    assert sum("&lt;img src=x onerror=alert(1)&gt;" in page for page in pages) >= 2  # the card and the failure
    diff_page = formats(ip, ip.run_line_magic("ecs_diff", "evil.previous_ecs_id evil"))["text/html"]
    assert "&lt;script&gt;" in diff_page


def test_function_names_and_error_messages_are_escaped(ip):
    @CallableRegistry.register("<i>evil</i>")
    def evil_fn(n: int) -> int:
        raise RuntimeError(SCRIPT)

    with pytest.raises(RuntimeError):
        CallableRegistry.execute("<i>evil</i>", n=1)
    x = CallableRegistry.executions()[-1]
    for page in (execution_html(x), formats(ip, ip.run_line_magic("ecs_executions", ""))["text/html"]):
        assert "<i>evil" not in page and "<script>" not in page
        assert "&lt;i&gt;evil" in page


def test_plain_entity_display_without_recording(ip):
    class Loose(Entity):
        label: str

    loose = Loose(label=PAYLOAD)
    data = formats(ip, loose)
    assert "version" not in data["text/plain"]  # never recorded: no version number
    _assert_escaped(data["text/html"])
    assert "Loose" in data["text/html"]
