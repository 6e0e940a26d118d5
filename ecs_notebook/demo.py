"""``python -m ecs_notebook.demo``: run the quickstart notebook headlessly and show what it recorded."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path


def _notebook_text(cell: dict) -> str:  # type: ignore[type-arg]
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(out.get("text", ""))
        elif "data" in out and "text/plain" in out["data"]:
            parts.append(out["data"]["text/plain"])
    return "".join(parts).rstrip()


def main(argv: list[str] | None = None) -> int:
    root = Path(__file__).resolve().parents[1]
    p = argparse.ArgumentParser(prog="python -m ecs_notebook.demo", description=__doc__)
    p.add_argument("--notebook", default=str(root / "notebooks" / "quickstart.ipynb"))
    p.add_argument("--out", default="demo-output", help="folder for the executed notebook, the store and the export")
    args = p.parse_args(argv)
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
        NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(out)}}).execute()
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
    print(f"Interactive:       jupyter lab {src}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
