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
    #: Assigned names bound only as ``for``/``with``/``async for`` targets (bound, not recorded).
    target_only: list[str] = field(default_factory=list)
    #: Assigned names bound on every path through the cell (when it does not raise).
    definite: list[str] = field(default_factory=list)


class _Reader(ast.NodeVisitor):
    """Walks statements in execution order, tracking the names *definitely* bound so far (per scope).

    A name bound on only some paths (one branch of an ``if``, a loop body, a ``try`` body) is not
    definitely bound after them, so a later read of it is still a read: the cell may need the
    namespace's value (a conservative answer: a needless input is harmless, a missing one fails).
    """

    def __init__(self) -> None:
        self.bound: set[str] = set()
        self.reads: list[str] = []
        self.assigns: list[str] = []
        self.is_async = False
        self.depth = 0  # > 0 inside function/class bodies and comprehensions
        self.in_target = 0  # > 0 while visiting a for/with target
        self.targets: set[str] = set()  # top-level names bound as for/with targets
        self.regular: set[str] = set()  # top-level names bound any other way
        self.fn_depth = 0  # > 0 inside function/class bodies and lambdas (where await is not top level)

    def _read(self, name: str) -> None:
        if name not in self.bound and name not in self.reads:
            self.reads.append(name)

    def _bind(self, name: str) -> None:
        self.bound.add(name)  # inner scopes restore ``bound`` when they end
        if self.depth == 0:
            (self.targets if self.in_target else self.regular).add(name)
            if name not in self.assigns:
                self.assigns.append(name)

    def _target(self, node: ast.AST) -> None:
        """Visit a for/with target: names bound there alone are not recorded."""
        self.in_target += 1
        self.visit(node)
        self.in_target -= 1

    def _visit_all(self, nodes: list[Any]) -> None:
        for n in nodes:
            self.visit(n)

    def _branches(self, *branches: list[Any]) -> None:
        """Visit alternative paths from the same state; afterwards only names bound on every path are bound."""
        start = set(self.bound)
        after: set[str] | None = None
        for body in branches:
            self.bound = set(start)
            self._visit_all(body)
            after = self.bound if after is None else after & self.bound
        self.bound = start if after is None else after

    def _maybe(self, body: list[Any]) -> None:
        """Visit code that may not run at all (a loop body): what it binds is not definitely bound after it."""
        start = set(self.bound)
        self._visit_all(body)
        self.bound = start

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

    def visit_If(self, node: ast.If) -> None:
        self.visit(node.test)
        self._branches(node.body, node.orelse)

    def visit_IfExp(self, node: ast.IfExp) -> None:
        self.visit(node.test)
        self._branches([node.body], [node.orelse])

    def visit_BoolOp(self, node: ast.BoolOp) -> None:
        self.visit(node.values[0])
        self._maybe(node.values[1:])  # short-circuit: the other operands may not run

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        if isinstance(node, ast.AsyncFor) and self.fn_depth == 0:
            self.is_async = True
        self.visit(node.iter)
        start = set(self.bound)
        self._target(node.target)
        self._visit_all([*node.body, *node.orelse])
        self.bound = start

    visit_AsyncFor = visit_For

    def visit_While(self, node: ast.While) -> None:
        self.visit(node.test)
        self._maybe([*node.body, *node.orelse])

    def visit_Try(self, node: ast.Try | ast.TryStar) -> None:
        start = set(self.bound)
        self._visit_all(node.body)
        self._visit_all(node.orelse)
        after = self.bound
        for handler in node.handlers:
            self.bound = set(start)  # the try body may have failed anywhere
            if handler.type is not None:
                self.visit(handler.type)
            if handler.name:
                self.bound.add(handler.name)  # bound in the handler only, then deleted: never an output
            self._visit_all(handler.body)
            if handler.name:
                self.bound.discard(handler.name)
            after &= self.bound
        self.bound = after
        self._visit_all(node.finalbody)

    visit_TryStar = visit_Try

    def visit_Match(self, node: ast.Match) -> None:
        self.visit(node.subject)
        paths: list[list[Any]] = [[c] for c in node.cases]
        if not any(_irrefutable(c) for c in node.cases):
            paths.append([])  # no case may match
        self._branches(*paths)

    def visit_match_case(self, node: ast.match_case) -> None:
        self.visit(node.pattern)
        if node.guard is not None:
            self.visit(node.guard)
        self._visit_all(node.body)

    def visit_MatchAs(self, node: ast.MatchAs) -> None:
        if node.pattern is not None:
            self.visit(node.pattern)
        if node.name is not None:
            self._bind(node.name)

    def visit_MatchStar(self, node: ast.MatchStar) -> None:
        if node.name is not None:
            self._bind(node.name)

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        self._visit_all([*node.keys, *node.patterns])
        if node.rest is not None:
            self._bind(node.rest)

    def visit_With(self, node: ast.With | ast.AsyncWith) -> None:
        if isinstance(node, ast.AsyncWith) and self.fn_depth == 0:
            self.is_async = True
        for item in node.items:
            self.visit(item.context_expr)
            if item.optional_vars is not None:
                self._target(item.optional_vars)
        for stmt in node.body:
            self.visit(stmt)

    visit_AsyncWith = visit_With

    def visit_Await(self, node: ast.Await) -> None:
        if self.fn_depth == 0:
            self.is_async = True  # top level, or a comprehension at top level
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            name = alias.asname or alias.name.split(".")[0]
            self.bound.add(name)  # modules are never outputs

    visit_ImportFrom = visit_Import

    def _scope(self, node: ast.AST, name: str | None, args: ast.arguments | None = None) -> None:
        for d in getattr(node, "decorator_list", []):
            self.visit(d)
        if args is not None:
            for default in args.defaults + [d for d in args.kw_defaults if d is not None]:
                self.visit(default)
        if name is not None:
            self.bound.add(name)  # functions and classes defined in a cell are not outputs
        outer = set(self.bound)
        if args is not None:
            for a in args.posonlyargs + args.args + args.kwonlyargs + [x for x in (args.vararg, args.kwarg) if x]:
                self.bound.add(a.arg)
        self.depth += 1
        self.fn_depth += 1
        body = node.body if isinstance(node.body, list) else [node.body]  # type: ignore[attr-defined]
        for stmt in body:
            self.visit(stmt)
        self.fn_depth -= 1
        self.depth -= 1
        self.bound = outer

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self._scope(node, node.name, node.args)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for b in node.bases:
            self.visit(b)
        for k in node.keywords:
            self.visit(k.value)
        self._scope(node, node.name)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._scope(node, None, node.args)

    def _comprehension(self, node: Any) -> None:
        outer = set(self.bound)
        self.depth += 1
        for gen in node.generators:
            if gen.is_async and self.fn_depth == 0:
                self.is_async = True
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
                self.bound.discard(t.id)  # a later read is a read again
            else:
                self.visit(t)  # del obj.attr / del d[k] reads obj, d and k


def _irrefutable(case: ast.match_case) -> bool:
    """A ``case _:`` or ``case name:`` without a guard always matches."""
    p = case.pattern
    while isinstance(p, ast.MatchAs) and p.pattern is not None:
        p = p.pattern
    return case.guard is None and isinstance(p, ast.MatchAs) and p.pattern is None


def analyse(source: str) -> CellNames:
    """Names a cell reads before assigning them, and the names it assigns at top level.

    Raises:
        SyntaxError: the cell does not parse.
    """
    tree = ast.parse(source, mode="exec")
    reader = _Reader()
    for stmt in tree.body:
        reader.visit(stmt)
    only = [n for n in reader.assigns if n in reader.targets and n not in reader.regular]
    definite = [n for n in reader.assigns if n in reader.bound]
    return CellNames(reads=reader.reads, assigns=reader.assigns, is_async=reader.is_async, target_only=only, definite=definite)


def is_input_value(value: Any) -> bool:
    """Whether a namespace value counts as data (not a module, function, class or builtin)."""
    return not isinstance(
        value,
        (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.MethodType, type),
    ) and not inspect.isroutine(value)


def is_builtin_name(name: str) -> bool:
    return name in _BUILTINS
