"""The import layers (DESIGN Part B, STYLE 2 and 19): lower layers never import higher ones at import time.

Checked on the source: every import a module runs when it is imported (module level, ``if``/``try``
blocks included; ``if TYPE_CHECKING:`` blocks and imports inside functions excluded, those run on
first use).
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

import ecs_notebook

PACKAGE = Path(ecs_notebook.__file__).resolve().parent

LAYERS = ("core", "store", "execution", "lineage", "notebook")  # lowest first: the folders of the package


def _layer(module: str) -> str:
    """The layer of ``ecs_notebook.<module>`` (dotted, without the package name): its folder."""
    top = module.split(".")[0]
    return top if top in LAYERS else "package"  # __init__, testing


def test_every_module_lives_in_a_layer_folder():
    loose = sorted(m for m in ALL if _layer(m) == "package" and m not in ("", "testing"))
    assert loose == [], "a module outside the layer folders (DESIGN Part B)"


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts:
            out[".".join(parts)] = path
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_time_imports(module: str, path: Path) -> set[str]:
    """The ecs_notebook modules (dotted, without the package name) ``module`` imports when imported."""
    is_package = path.name == "__init__.py"
    package = module.split(".") if is_package else module.split(".")[:-1]
    found: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("ecs_notebook."):
                        found.add(alias.name.removeprefix("ecs_notebook."))
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package[: len(package) - (node.level - 1)]
                    target = [*base, *(node.module.split(".") if node.module else [])]
                elif node.module and node.module.startswith("ecs_notebook"):
                    target = node.module.split(".")[1:]
                else:
                    continue
                if target:
                    found.add(".".join(target))
                for alias in node.names:  # ``from . import _async``: a module of the package
                    candidate = ".".join([*target, alias.name])
                    if candidate in ALL:
                        found.add(candidate)
            elif isinstance(node, ast.If):
                if not _is_type_checking(node.test):
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for handler in node.handlers:
                    visit(handler.body)
                visit(node.orelse)
                visit(node.finalbody)
            elif isinstance(node, (ast.With, ast.ClassDef)):
                visit(node.body)

    visit(ast.parse(path.read_text(encoding="utf-8")).body)
    found.discard(module)
    return found


ALL = _modules()
IMPORTS = {m: _import_time_imports(m, p) for m, p in ALL.items()}

# What each layer may not import at import time: only layers below it (DESIGN Part B).
FORBIDDEN = {
    "core": {"store", "execution", "lineage", "notebook"},
    "store": {"execution", "lineage", "notebook"},
    "execution": {"lineage", "notebook"},
    "lineage": {"notebook"},
}


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_never_imports_a_higher_one_at_import_time(layer):
    bad = sorted(
        f"{m} imports {target}"
        for m, targets in IMPORTS.items()
        if _layer(m) == layer
        for target in targets
        if _layer(target) in FORBIDDEN[layer]
    )
    assert bad == []


def test_the_import_scan_sees_the_package():
    assert _layer("lineage.queries") == "lineage" and "core.records" in IMPORTS["lineage.graph"]
    assert "lineage.details" in IMPORTS["notebook.widget"]  # the notebook layer does import the lineage layer
    assert all(_layer(m) != "package" for m in ALL if m not in {"", "testing"})  # every module has a layer


SCAN_CASES = {
    "relative module": ("from ..notebook.magics import EcsMagics", ["notebook.magics"]),
    "module of a package": ("from ..notebook import widget", ["notebook", "notebook.widget"]),
    "absolute": ("import ecs_notebook.notebook.cli", ["notebook.cli"]),
    "inside try": ("try:\n    from .graph import default_graph\nexcept ImportError:\n    pass", ["lineage.graph"]),
    "TYPE_CHECKING only": ("if TYPE_CHECKING:\n    from ..notebook.recorder import Recorder", []),
    "inside a function": ("def f():\n    from ..notebook.display import entity_html", []),
}


@pytest.mark.parametrize("case", SCAN_CASES, ids=list(SCAN_CASES))
def test_the_scan_finds_import_time_imports_only(tmp_path, case):
    code, expected = SCAN_CASES[case]
    path = tmp_path / "text.py"
    path.write_text(code + "\n", encoding="utf-8")
    assert sorted(_import_time_imports("lineage.text", path)) == expected


def test_heavy_imports_of_lower_layers_happen_inside_functions():
    heavy = ("IPython", "ipywidgets", "anywidget", "pyvis")
    bad = []
    for m, path in ALL.items():
        if _layer(m) in {"core", "store", "execution", "lineage"}:
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in tree.body:
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom):
                    names = [node.module or ""]
                else:
                    continue
                bad += [f"{m}: {n}" for n in names if n.split(".")[0] in heavy]
    assert bad == []


def test_importing_the_package_with_a_store_configured_creates_no_file(tmp_path):
    db = tmp_path / "lineage.db"
    env = {**os.environ, "ECS_NOTEBOOK_STORE": f"sqlite:///{db}", "PYTHONPATH": os.pathsep.join(sys.path)}
    subprocess.run([sys.executable, "-c", "import ecs_notebook"], cwd=tmp_path, env=env, check=True, timeout=60)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_importing_every_module_of_the_package_creates_no_file(tmp_path):
    """STYLE 19 (and doctest collection imports every module): no file, database or folder appears."""
    code = (
        "import importlib, pkgutil, ecs_notebook\n"
        "for m in pkgutil.walk_packages(ecs_notebook.__path__, 'ecs_notebook.'):\n"
        "    importlib.import_module(m.name)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "ECS_NOTEBOOK_STORE"}
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, check=True, timeout=120)
    assert sorted(p.name for p in tmp_path.iterdir()) == []
