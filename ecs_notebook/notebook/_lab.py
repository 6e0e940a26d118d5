"""``python -m ecs_notebook.notebook.demo --lab``: open a notebook of the checkout in JupyterLab (``--check``: prove it works, stop)."""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

START_TIMEOUT = 120.0  # seconds for JupyterLab to answer (its first start builds nothing, but imports a lot)


def open_lab(notebook: Path, check: bool = False) -> int:
    """Run JupyterLab on ``notebook`` (served from the folder above its own: the repository).

    Without ``check`` JupyterLab runs in the foreground and opens a browser, as ``jupyter lab`` does.
    With ``check`` it starts on a free local port without a browser; this waits until it serves the
    notebook and the Lab page and runs a python3 kernel, prints what it saw, and stops it.
    """
    if importlib.util.find_spec("jupyterlab") is None:
        print(
            "JupyterLab is not installed in this environment: `bash scripts/demo.sh --lab` installs it into .venv "
            "(or: pip install -e '.[lab]').",
            file=sys.stderr,
        )
        return 1
    notebook = notebook.resolve()
    if not notebook.exists():
        print(f"Notebook {notebook} not found (run the demo from a checkout of the repository).", file=sys.stderr)
        return 1
    root = notebook.parent.parent
    rel = notebook.relative_to(root).as_posix()
    cmd = [sys.executable, "-m", "jupyterlab", rel, "--ServerApp.ip=127.0.0.1", f"--ServerApp.root_dir={root}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # containers often run as root; JupyterLab refuses to start otherwise
    if not check:
        print(f"Opening {rel} in JupyterLab (Ctrl-C twice to stop) ...", flush=True)
        try:
            return subprocess.call(cmd, cwd=root)
        except KeyboardInterrupt:
            return 0
    return _check(cmd, root, rel)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _request(url: str, token: str, method: str = "GET", body: dict[str, Any] | None = None) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Authorization": f"token {token}"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _kernel_state(url: str, token: str) -> str:
    """The kernel's state a few seconds after it was started (a kernel that fails to start is "dead" or gone)."""
    time.sleep(3)
    status, body = _request(url, token)
    return str(json.loads(body).get("execution_state", "?")) if status == 200 else f"gone (HTTP {status})"


def _check(cmd: list[str], root: Path, rel: str) -> int:
    port, token = _free_port(), secrets.token_hex(16)
    base = f"http://127.0.0.1:{port}/"
    cmd = [*cmd, f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}"]
    cmd.append("--ServerApp.open_browser=False")
    # JupyterLab's log goes to a file: a pipe nobody reads could fill up and stall it.
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd, cwd=root, stdout=log, stderr=subprocess.STDOUT)
        try:
            return _probe(proc, log, base, token, rel)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _probe(proc: subprocess.Popen[bytes], log: Any, base: str, token: str, rel: str) -> int:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if proc.poll() is not None:
            log.seek(0)
            out = log.read().decode(errors="replace")
            print(f"JupyterLab exited ({proc.returncode}) before serving:\n{out[-3000:]}", file=sys.stderr)
            return 1
        try:
            status, body = _request(f"{base}api/contents/{rel}?content=0", token)
            if status == 200:
                break
        except OSError:
            pass
        if time.monotonic() > deadline:
            print(f"JupyterLab did not answer on {base} within {START_TIMEOUT:.0f} s.", file=sys.stderr)
            return 1
        time.sleep(0.5)
    print(f"JupyterLab is up: {base}lab/tree/{rel}")
    print(f"  serves {rel} ({json.loads(body)['type']})")
    status, page = _request(f"{base}lab/tree/{rel}", token)
    if status != 200 or b"JupyterLab" not in page:
        print(f"  the Lab page answered {status}", file=sys.stderr)
        return 1
    print("  the Lab page loads")
    status, body = _request(f"{base}api/kernels", token, "POST", {"name": "python3"})
    if status != 201:
        print(f"  starting a python3 kernel failed ({status}): {body[:300]!r}", file=sys.stderr)
        return 1
    kernel = json.loads(body)["id"]
    state = _kernel_state(f"{base}api/kernels/{kernel}", token)
    _request(f"{base}api/kernels/{kernel}", token, "DELETE")
    if state not in ("starting", "idle", "busy"):
        print(f"  the python3 kernel did not stay up (state: {state})", file=sys.stderr)
        return 1
    print("  a python3 kernel starts")
    print("Stopping JupyterLab (--check).")
    return 0
