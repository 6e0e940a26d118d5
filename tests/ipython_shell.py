"""A real in-process IPython shell with ``%load_ext ecs_notebook``, for the notebook-surface tests."""

from __future__ import annotations

import atexit
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import ExecutionResult, InteractiveShell
from IPython.utils.capture import capture_output
from traitlets.config import Config


@dataclass
class Ran:
    """What one cell did: its ExecutionResult and everything it showed."""

    result: ExecutionResult
    outputs: list[dict[str, Any]] = field(default_factory=list)  # display_data bundles, in order
    stdout: str = ""
    stderr: str = ""
    metadata: list[dict[str, Any]] = field(default_factory=list)  # the metadata of each bundle in outputs

    @property
    def error(self) -> BaseException | None:
        return self.result.error_in_exec or self.result.error_before_exec

    def text(self) -> str:
        """The text/plain of every displayed output, joined."""
        return "\n".join(o.get("text/plain", "") for o in self.outputs)

    def html(self) -> str:
        return "\n".join(o.get("text/html", "") for o in self.outputs)


def run(shell: InteractiveShell, source: str) -> Ran:
    """Run one cell as Jupyter would, capturing its displays, stdout and stderr."""
    with capture_output() as cap:
        result = shell.run_cell(source)
    return Ran(result, [dict(o.data) for o in cap.outputs], cap.stdout, cap.stderr, [dict(o.metadata or {}) for o in cap.outputs])


@contextmanager
def interactive_shell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, load: bool = True) -> Iterator[InteractiveShell]:
    """A fresh InteractiveShell whose cwd and IPYTHONDIR are temp folders (the store lands in tmp_path/work).

    The extension is loaded unless ``load=False``; on exit it is unloaded and the instance cleared.
    """
    monkeypatch.delenv("ECS_NOTEBOOK_STORE", raising=False)
    ipdir = tmp_path / "ipython"
    ipdir.mkdir(exist_ok=True)
    monkeypatch.setenv("IPYTHONDIR", str(ipdir))
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    monkeypatch.chdir(work)
    # InteractiveShell installs its user module as sys.modules["__main__"]; give pytest's back after.
    monkeypatch.setitem(sys.modules, "__main__", sys.modules["__main__"])
    cfg = Config()
    cfg.HistoryManager.enabled = False  # no history database or saving thread per test
    InteractiveShell.clear_instance()
    shell = InteractiveShell.instance(config=cfg)
    try:
        if load:
            shell.run_line_magic("load_ext", "ecs_notebook")
        yield shell
    finally:
        if "ecs_notebook" in shell.extension_manager.loaded:
            shell.run_line_magic("unload_ext", "ecs_notebook")
        # Each shell registers an atexit reset (a gc.collect() each): dozens of them add seconds at exit.
        atexit.unregister(shell.atexit_operations)
        InteractiveShell.clear_instance()


def one_line_usage_error(ran: Ran) -> str:
    """Assert the cell failed with a one-line UsageError (shown without traceback); return its message."""
    from IPython.core.error import UsageError

    err = ran.result.error_in_exec
    assert isinstance(err, UsageError), f"expected a UsageError, got {err!r}\n{ran.stdout}{ran.stderr}"
    msg = str(err)
    assert msg and "\n" not in msg.strip(), f"UsageError message is not one line: {msg!r}"
    assert "Traceback" not in ran.stdout + ran.stderr
    return msg
