"""Reading a notebook cell: which names it reads before assigning (inputs) and assigns (outputs)."""

from __future__ import annotations

import ast
import builtins
import inspect
import types
from dataclasses import dataclass, field
from typing import Any

_BUILTINS = frozenset(dir(builtins))


@dataclass
class CellNames:
    """Names a cell reads first and names it assigns at top level, in order of appearance."""

    reads: list[str] = field(default_factory=list)
    assigns: list[str] = field(default_factory=list)
    is_async: bool = False


class _Reader(ast.NodeVisitor):
    """Walks statements in execution order, tracking names bound so far (per scope)."""

    def __init__(self) -> None:
        self.bound: set[str] = set()
        self.reads: list[str] = []
        self.assigns: list[str] = []
        self.is_async = False
        self.depth = 0  # > 0 inside function/class bodies and comprehensions

    def _read(self, name: str) -> None:
        if name not in self.bound and name not in self.reads:
            self.reads.append(name)

    def _bind(self, name: str) -> None:
        self.bound.add(name)  # inner scopes restore ``bound`` when they end
        if self.depth == 0 and name not in self.assigns:
            self.assigns.append(name)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self._read(node.id)
        elif isinstance(node.ctx, ast.Store):
            self._bind(node.id)

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)  # the right side runs first
        for t in node.targets:
            self.visit(t)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        if isinstance(node.target, ast.Name):
            self._read(node.target.id)  # x += 1 reads x first
            self._bind(node.target.id)
        else:
            self.visit(node.target)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)
            self.visit(node.target)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        self.visit(node.target)

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        if isinstance(node, ast.AsyncFor) and self.depth == 0:
            self.is_async = True
        self.visit(node.iter)
        self.visit(node.target)
        for stmt in node.body + node.orelse:
            self.visit(stmt)

    visit_AsyncFor = visit_For

    def visit_With(self, node: ast.With | ast.AsyncWith) -> None:
        if isinstance(node, ast.AsyncWith) and self.depth == 0:
            self.is_async = True
        for item in node.items:
            self.visit(item.context_expr)
            if item.optional_vars is not None:
                self.visit(item.optional_vars)
        for stmt in node.body:
            self.visit(stmt)

    visit_AsyncWith = visit_With

    def visit_Await(self, node: ast.Await) -> None:
        if self.depth == 0:
            self.is_async = True
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            name = alias.asname or alias.name.split(".")[0]
            if self.depth == 0:
                self.bound.add(name)  # modules are never outputs

    visit_ImportFrom = visit_Import

    def _scope(self, node: ast.AST, name: str | None, args: ast.arguments | None = None) -> None:
        for d in getattr(node, "decorator_list", []):
            self.visit(d)
        if args is not None:
            for default in args.defaults + [d for d in args.kw_defaults if d is not None]:
                self.visit(default)
        if name is not None and self.depth == 0:
            self.bound.add(name)  # functions and classes defined in a cell are not outputs
        outer = set(self.bound)
        if args is not None:
            for a in args.posonlyargs + args.args + args.kwonlyargs + [x for x in (args.vararg, args.kwarg) if x]:
                self.bound.add(a.arg)
        self.depth += 1
        body = node.body if isinstance(node.body, list) else [node.body]  # type: ignore[attr-defined]
        for stmt in body:
            self.visit(stmt)
        self.depth -= 1
        self.bound = outer | ({name} if name and self.depth == 0 else set())

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self._scope(node, node.name, node.args)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for b in node.bases:
            self.visit(b)
        self._scope(node, node.name)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._scope(node, None, node.args)

    def _comprehension(self, node: Any) -> None:
        outer = set(self.bound)
        self.depth += 1
        for gen in node.generators:
            self.visit(gen.iter)
            self.visit(gen.target)
            for cond in gen.ifs:
                self.visit(cond)
        for part in ("elt", "key", "value"):
            if hasattr(node, part):
                self.visit(getattr(node, part))
        self.depth -= 1
        self.bound = outer

    visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = _comprehension

    def visit_Global(self, node: ast.Global) -> None:
        for name in node.names:
            self._read(name)

    def visit_Delete(self, node: ast.Delete) -> None:
        for t in node.targets:
            if isinstance(t, ast.Name):
                self._read(t.id)


def analyse(source: str) -> CellNames:
    """Names a cell reads before assigning them, and the names it assigns at top level.

    Raises:
        SyntaxError: the cell does not parse.
    """
    tree = ast.parse(source, mode="exec")
    reader = _Reader()
    for stmt in tree.body:
        reader.visit(stmt)
    return CellNames(reads=reader.reads, assigns=reader.assigns, is_async=reader.is_async)


def is_input_value(value: Any) -> bool:
    """Whether a namespace value counts as data (not a module, function, class or builtin)."""
    return not isinstance(
        value,
        (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.MethodType, type),
    ) and not inspect.isroutine(value)


def is_builtin_name(name: str) -> bool:
    return name in _BUILTINS
