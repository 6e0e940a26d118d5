"""Short ids in the magics (issue 15, DESIGN A6): ids as listings show them, in a real IPython shell.

The resolution itself (``ecs_notebook.lineage.queries.resolve_id`` / ``address.resolve_ecs_id``) is
covered for every store in test_store_contract.py; this checks what a notebook user types.
"""

from __future__ import annotations

import uuid

import pytest
from ipython_shell import interactive_shell, one_line_usage_error, run

TWINS = ["3cf40b27-0000-4000-8000-000000000001", "3cf40b27-1000-4000-8000-000000000002"]

SETUP = f"""
import uuid
from models import Student
ada = Student(name="Ada", gpa=3.0)
ada.promote_to_root()
first = str(ada.ecs_id)
ada.gpa = 3.5
from ecs_notebook import EntityRegistry
EntityRegistry.version_entity(ada)
second = str(ada.ecs_id)
for t in {TWINS!r}:
    Student(name="twin", ecs_id=uuid.UUID(t)).promote_to_root()
"""


@pytest.fixture
def shell(tmp_path, monkeypatch):
    with interactive_shell(tmp_path, monkeypatch) as sh:
        ran = run(sh, SETUP)
        assert ran.error is None, ran.error
        yield sh


def _everything(ran) -> str:
    return ran.stdout + ran.text() + ran.html()


def _unique(shell, full: str) -> str:
    """The shortest prefix (>= 4 hex digits) of ``full`` that names it alone in this store."""
    from ecs_notebook import EntityRegistry

    digits = full.replace("-", "")
    return next(digits[:n] for n in range(4, 33) if len(EntityRegistry.store.ids_with_prefix(digits[:n], limit=2)) == 1)


@pytest.mark.parametrize("spelling", ["@{s8}", "@{u}"], ids=["as-shown", "shortest-unique"])
def test_history_show_and_diff_accept_at_prefixed_short_ids(shell, spelling):
    first, second = shell.user_ns["first"], shell.user_ns["second"]
    a = spelling.format(s8=first[:8], u=_unique(shell, first))
    b = spelling.format(s8=second[:8], u=_unique(shell, second))
    history = run(shell, f"%ecs_history {a}")
    assert history.error is None, history.error
    shown_text = _everything(history)
    assert first[:8] in shown_text and second[:8] in shown_text
    shown = run(shell, f"%ecs_show {a}.gpa")
    assert shown.error is None and shown.result.result == 3.0
    diff = run(shell, f"%ecs_diff {a} {b}")
    assert diff.error is None, diff.error
    assert "gpa" in _everything(diff)


def test_an_ambiguous_prefix_is_a_usage_error_listing_the_matches(shell):
    for line in ("%ecs_history @3cf4", "%ecs_show @3cf40b27.name"):
        msg = one_line_usage_error(run(shell, line))
        assert "ambiguous" in msg and TWINS[0] in msg and TWINS[1] in msg


def test_an_unknown_prefix_is_a_usage_error(shell):
    msg = one_line_usage_error(run(shell, "%ecs_history @0000ffff"))
    assert "starting with 0000ffff" in msg


def test_bare_short_ids_without_at(shell):
    first = shell.user_ns["first"]
    ran = run(shell, f"%ecs_history {first[:8]}")
    assert ran.error is None, ran.error
    assert str(uuid.UUID(first))[:8] in _everything(ran)
