"""``python -m ecs_notebook.notebook.demo``: run the quickstart notebook headlessly and show what it recorded.

``--lab`` opens it in JupyterLab instead (``--check``: start JupyterLab, make sure it serves the
notebook and runs a kernel, then stop it; for tests and CI).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _notebook_text(cell: dict) -> str:  # type: ignore[type-arg]
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(out.get("text", ""))
        elif "data" in out and "text/plain" in out["data"]:
            parts.append(out["data"]["text/plain"])
    return "".join(parts).rstrip()


def _kernel_manager(sockets: str) -> object:
    """A python3 kernel talking over local IPC sockets where the OS has them.

    Over TCP (Jupyter's default) the kernel warns on every start that its traffic is not encrypted;
    IPC sockets are files only this user can open, so nothing goes over the network to encrypt.
    """
    from jupyter_client.manager import KernelManager

    if os.name == "posix":
        return KernelManager(kernel_name="python3", transport="ipc", ip=str(Path(sockets) / "kernel"))
    return KernelManager(kernel_name="python3")


def main(argv: list[str] | None = None) -> int:
    root = Path(__file__).resolve().parents[2]  # the repository (ecs_notebook/notebook/demo.py)
    p = argparse.ArgumentParser(prog="python -m ecs_notebook.notebook.demo", description=__doc__)
    p.add_argument("--notebook", default=str(root / "notebooks" / "quickstart.ipynb"))
    p.add_argument("--out", default="demo-output", help="folder for the executed notebook, the store and the export")
    p.add_argument("--lab", action="store_true", help="open the notebook in JupyterLab instead of running it headlessly")
    p.add_argument("--check", action="store_true", help="with --lab: start JupyterLab, check it serves the notebook, stop it")
    args = p.parse_args(argv)
    if args.check and not args.lab:
        p.error("--check applies to --lab only")
    if args.lab:
        from ._lab import open_lab

        return open_lab(Path(args.notebook), check=args.check)
    try:
        import nbformat
        from nbclient import NotebookClient
    except ImportError:
        print("The demo needs nbclient and ipykernel: pip install -e '.[notebook]'", file=sys.stderr)
        return 1
    src = Path(args.notebook)
    if not src.exists():
        print(f"Notebook {src} not found (run the demo from a checkout of the repository).", file=sys.stderr)
        return 1
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    nb = nbformat.read(src, as_version=4)
    print(f"Running {src.name} in {out} ...")
    t0 = time.perf_counter()
    env_store = os.environ.pop("ECS_NOTEBOOK_STORE", None)
    try:
        with tempfile.TemporaryDirectory(prefix="ecs-demo-") as sockets:
            km: Any = _kernel_manager(sockets)
            try:
                NotebookClient(nb, timeout=300, km=km, resources={"metadata": {"path": str(out)}}).execute()
            finally:
                # A kernel manager handed in is ours to stop. A graceful shutdown lets the kernel
                # close its lineage store, so lineage.db is complete on its own.
                if km.has_kernel:
                    km.shutdown_kernel(now=False)
    except Exception as exc:  # show where it failed, keep the partial notebook
        nbformat.write(nb, out / src.name)
        print(f"The notebook failed: {str(exc)[-2000:]}", file=sys.stderr)
        return 1
    finally:
        if env_store is not None:
            os.environ["ECS_NOTEBOOK_STORE"] = env_store
    nbformat.write(nb, out / src.name)
    print(f"Done in {time.perf_counter() - t0:.1f} s.\n")
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        text = _notebook_text(cell)
        if text and "LineageExplorer" not in text:
            print(f">>> {cell.source.splitlines()[0]}")
            print(text[:1200])
            print()
    print(f"Executed notebook: {out / src.name}")
    print(
        f"Lineage store:     {out / '.ecs_notebook' / 'lineage.db'}\n"
        f"                   (inspect: ecs-notebook -s sqlite:///{out}/.ecs_notebook/lineage.db summary)"
    )
    print(f"Offline lineage:   {out / 'lineage.html'}  (open it in a browser)")
    print("Interactive:       bash scripts/demo.sh --lab   (installs JupyterLab into .venv and opens this notebook)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
