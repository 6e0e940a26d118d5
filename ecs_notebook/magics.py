"""The IPython extension: ``%load_ext ecs_notebook``, ``%%ecs_exec`` cells and the ``%ecs_*`` magics."""

from __future__ import annotations

import copy
import functools
import linecache
import textwrap
import time
import warnings
from collections.abc import Callable
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from traitlets import Bool, Float, Int, TraitError, Unicode, observe, validate
from traitlets import Enum as TEnum
from traitlets.config import Configurable

from ._ids import short
from .callable_registry import CallableRegistry
from .cells import CellNames, analyse, is_input_value
from .entity import Entity, ParameterEntity
from .errors import EcsError
from .execution import ExecutionConfig, ExecutionSemantics, FunctionExecution
from .registry import EntityRegistry


class EcsNotebook(Configurable):
    """Options of the ecs_notebook extension (``%config EcsNotebook.<option> = value``)."""

    store_url = Unicode(None, allow_none=True, help="Lineage store URL (sqlite:///path.db, postgresql://…, memory://).").tag(config=True)
    quiet = Bool(False, help="Hide the summary line after %%ecs_exec cells.").tag(config=True)
    explorer_depth = Int(2, help="Default depth of %ecs_lineage.").tag(config=True)
    explorer_direction = TEnum(["up", "down", "both"], "both", help="Default direction of %ecs_lineage.").tag(config=True)
    cache = Bool(False, help="Serve unchanged calls from recorded executions (RegistryConfig.enable_function_caching).").tag(config=True)
    max_execution_time = Float(None, allow_none=True, help="Default time limit of calls, in seconds.").tag(config=True)

    @validate("store_url")
    def _connect_store_url(self, proposal: dict[str, Any]) -> str | None:
        # Connecting in the validator (not an observer) keeps a rejected URL out of the option.
        url: str | None = proposal["value"]
        if url:
            from .store import connect

            try:
                connect(url)
            except EcsError as exc:
                raise TraitError(str(exc)) from None
        return url

    @observe("cache")
    def _cache_changed(self, change: dict[str, Any]) -> None:
        CallableRegistry.config.enable_function_caching = bool(change["new"])

    @observe("max_execution_time")
    def _timeout_changed(self, change: dict[str, Any]) -> None:
        CallableRegistry.config.max_execution_time = change["new"]


def _usage(exc: Exception) -> UsageError:
    return UsageError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)


class _Pack:
    """Builds the tuple a cell function returns, remembering which name each item is."""

    def __init__(self, name: str, outputs: list[str], entity_inputs: list[str]) -> None:
        self.name, self.outputs, self.entity_inputs = name, outputs, entity_inputs
        self.layout: list[str | tuple[str, ...]] = []

    def __call__(self, scope: dict[str, Any], args: dict[str, Any]) -> tuple[Entity, ...]:
        items: list[Entity] = []
        layout: list[str | tuple[str, ...]] = []
        plain: dict[str, Any] = {}
        for n in self.outputs:
            if n not in scope:
                continue  # not assigned on this run (a branch not taken)
            value = scope[n]
            if isinstance(value, Entity):
                items.append(value)
                layout.append(n)
            else:
                plain[n] = value
        for n in self.entity_inputs:
            inp = scope.get(n)
            if n not in self.outputs and inp is args.get(n) and isinstance(inp, Entity) and _changed(inp):
                items.append(inp)  # an input changed in place: a new version of it (MUTATION)
                layout.append(n)
        if plain or not items:
            items.append(_outputs_model(tuple(plain))(**plain))
            layout.append(tuple(plain))
        self.layout = layout
        return tuple(items)


#: How an input is passed: "" as a plain value (copied by the magic), or as a container of entities
#: whose entities are each an input version of the execution (copied by the registry).
_ANNOTATIONS: dict[str, Any] = {"": Any, "list": list[Entity], "tuple": tuple[Entity, ...], "dict": dict[Any, Entity]}


def _kind(value: Any) -> str:
    """The key of :data:`_ANNOTATIONS` for an input value."""
    t = type(value)
    if t is list or t is tuple:
        if value and all(isinstance(v, Entity) for v in value):
            return t.__name__
    elif t is dict and value and all(isinstance(v, Entity) for v in value.values()):
        return "dict"
    return ""


@functools.lru_cache(maxsize=256)
def _analyse(cell: str) -> CellNames:
    """:func:`analyse`, once per cell source (a re-run cell is not parsed again); do not mutate the result."""
    return analyse(cell)


def _registered_as(name: str, func: Callable[..., Any]) -> bool:
    """Whether ``func`` is still the function registered under ``name``."""
    try:
        return CallableRegistry.get_metadata(name).func is func
    except EcsError:
        return False


def _changed(entity: Entity) -> bool:
    """Whether the cell changed (its copy of) an entity input in place since it was recorded."""
    return EntityRegistry.prepare(entity, promote=False).changed


_OUTPUT_MODELS: dict[tuple[str, ...], type[Entity]] = {}
_INPUT_MODELS: dict[tuple[tuple[str, ...], tuple[str, ...]], type[ParameterEntity]] = {}


def _model_name(prefix: str, names: tuple[str, ...], key: str) -> str:
    """``prefix_a_b``; a hashed suffix when ``key`` (all that tells models apart) is not the names alone."""
    import hashlib

    name = "_".join((prefix, *names))
    if len(name) > 60 or any("_" in n for n in names) or key != " ".join(names):
        name = f"{name[:48]}_{hashlib.sha256(key.encode()).hexdigest()[:8]}"
    return name


def _outputs_model(fields: tuple[str, ...]) -> type[Entity]:
    """The entity holding a cell's plain outputs: one class per set of output names, whatever the cell.

    Building a pydantic model costs milliseconds, so cells share it. Its name follows the output
    names, so one name is always the same class (``module:qualname`` identifies a class in the store).
    """
    model = _OUTPUT_MODELS.get(fields)
    if model is None:
        from pydantic import create_model

        model = create_model(  # type: ignore[call-overload]
            _model_name("CellOutputs", fields, " ".join(fields)),
            __base__=Entity,
            __module__="ecs_notebook.cells",
            **{f: (Any, None) for f in fields},
        )
        _OUTPUT_MODELS[fields] = model
    return model  # type: ignore[no-any-return]


def _inputs_model(inputs: tuple[str, ...], kinds: tuple[str, ...]) -> type[ParameterEntity]:
    """The composite-input model of cells: one class per set of input names and kinds, shared.

    A model per cell would cost a pydantic class (and its store codec) for every new cell, and keep
    them all for the session.
    """
    key = (inputs, kinds)
    model = _INPUT_MODELS.get(key)
    if model is None:
        from pydantic import create_model

        from .functions import _InputModel

        text = " ".join(inputs) if not any(kinds) else " ".join(f"{n}:{k}" for n, k in zip(inputs, kinds))
        model = create_model(  # type: ignore[call-overload]
            _model_name("CellInputs", inputs, text),
            __base__=_InputModel,
            __module__="ecs_notebook.cells",
            **{n: (_ANNOTATIONS[k], ...) for n, k in zip(inputs, kinds)},
        )
        _INPUT_MODELS[key] = model
    return model  # type: ignore[no-any-return]


@magics_class
class EcsMagics(Magics):
    """The ``ecs_`` magics. Each parses its arguments, calls the public API and displays the result."""

    def __init__(self, shell: Any, config: EcsNotebook) -> None:
        super().__init__(shell)
        self.options = config
        self._cells: dict[str, tuple[str, tuple[str, ...], _Pack, Callable[..., Any]]] = {}
        # name -> (object written back, address of its recorded value): links later cells to it
        self._produced: dict[str, tuple[Any, str]] = {}

    # -- %%ecs_exec / %ecs_exec --------------------------------------------------------------

    @magic_arguments()
    @argument("name", nargs="?", help="function name: the cell is registered (again) under it")
    @argument("params", nargs="*", help="line form: key=value arguments (value: @address or a Python expression)")
    @argument("--in", dest="inputs", nargs="+", metavar="NAME", help="exactly these input names")
    @argument("--out", dest="outputs", nargs="+", metavar="NAME", help="exactly these output names")
    @argument("--no-unpack", action="store_true", help="keep several entity outputs in one ContainerEntity")
    @argument("--quiet", action="store_true", help="no summary line")
    @argument("--timeout", type=float, metavar="S", help="fail the call past S seconds")
    @argument("--cache", dest="cache", action="store_true", default=None, help="serve from recorded executions")
    @argument("--no-cache", dest="cache", action="store_false", help="always run")
    @argument("-o", dest="var", metavar="VAR", help="line form: store the result in VAR")
    @line_cell_magic
    def ecs_exec(self, line: str, cell: str | None = None) -> Any:
        """Run a cell as a recorded function, or call a registered function.

        Cell form: ``%%ecs_exec NAME [--in a b] [--out c d] [--no-unpack] [--quiet] [--timeout S]``.
        Line form: ``%ecs_exec NAME key=value ... [-o VAR]``.
        """
        __tracebackhide__ = True  # IPython shows the user's cell frames, not ours
        try:
            args = parse_argstring(self.ecs_exec, line)
        except UsageError:
            raise
        except Exception as exc:
            raise _usage(exc) from None
        if not args.name:
            raise UsageError("%%ecs_exec needs a function name: %%ecs_exec NAME [--in ...] [--out ...]")
        if cell is None:
            return self._call(args)
        if args.params:
            raise UsageError(f"%%ecs_exec takes no key=value arguments in cell form (got {' '.join(args.params)}).")
        return self._run_cell(args, cell)

    def _config_for(self, args: Any) -> ExecutionConfig:
        base = CallableRegistry.config
        try:
            return ExecutionConfig(
                unpack_tuples=not args.no_unpack,
                max_execution_time=args.timeout if args.timeout is not None else base.max_execution_time,
                track_performance=base.track_performance,
                force_parameter_entities=base.force_parameter_entities,
                cache=args.cache,
            )
        except Exception as exc:
            raise UsageError(f"Bad option: {str(exc).splitlines()[-1] if str(exc) else exc}") from None

    def _call(self, args: Any) -> Any:
        __tracebackhide__ = True
        ns = self.shell.user_ns
        kwargs: dict[str, Any] = {}
        for item in args.params:
            key, sep, expr = item.partition("=")
            if not sep or not key.isidentifier():
                raise UsageError(f"Malformed argument {item!r}: write key=value (value: @address or a Python expression).")
            if expr.startswith("@"):
                kwargs[key] = expr
                continue
            try:
                kwargs[key] = eval(expr, ns)
            except Exception as exc:
                raise UsageError(f"Cannot evaluate {key}={expr}: {type(exc).__name__}: {exc}") from None
        try:
            CallableRegistry.get_metadata(args.name)
        except EcsError as exc:
            raise _usage(exc) from None
        cfg = self._config_for(args)
        try:
            result = CallableRegistry.execute(args.name, config=cfg, **kwargs)
        except EcsError as exc:
            if isinstance(exc, (AttributeError,)):
                raise
            from .errors import AddressError, EntityNotFoundError, InputValidationError

            if isinstance(exc, (AddressError, EntityNotFoundError, InputValidationError)):
                raise _usage(exc) from None
            raise
        if args.var:
            ns[args.var] = result
        return result

    def _run_cell(self, args: Any, cell: str) -> None:
        __tracebackhide__ = True
        shell = self.shell
        ns = shell.user_ns
        name = args.name
        try:
            names = _analyse(cell)
        except SyntaxError:
            # Shown as in a plain cell (a SyntaxError raised from here would come with IPython's own
            # frames); the UsageError then fails the cell, so Run All and nbclient stop here.
            shell.showsyntaxerror()
            raise UsageError(f"%%ecs_exec {name}: the cell has a syntax error (above); nothing was run or recorded.") from None
        if args.inputs:
            missing = [n for n in args.inputs if n not in ns]
            if missing:
                raise UsageError(f"--in names not defined in the notebook: {', '.join(missing)}")
            inputs = list(args.inputs)
        else:
            inputs = [n for n in names.reads if n in ns and not n.startswith("_") and is_input_value(ns[n])]
        outputs = list(args.outputs) if args.outputs else [n for n in names.assigns if not n.startswith("_")]
        entity_inputs = [] if args.outputs else [n for n in inputs if isinstance(ns[n], Entity)]
        kinds = tuple(_kind(ns[n]) for n in inputs)
        _func, pack = self._cell_function(name, cell, inputs, kinds, outputs, entity_inputs, names.is_async)
        kwargs = {n: ns[n] if k else self._argument(n, ns[n]) for n, k in zip(inputs, kinds)}
        cfg = self._config_for(args)
        seen: list[FunctionExecution] = []
        unsubscribe = CallableRegistry.on_execution(lambda x, outs: seen.append(x))
        from .store import batch

        t0 = time.perf_counter()
        try:
            with batch():
                result = CallableRegistry.execute(name, config=cfg, **kwargs)
        except EcsError as exc:
            from .errors import AddressError, EntityNotFoundError, InputValidationError

            if isinstance(exc, (AddressError, EntityNotFoundError, InputValidationError)):
                raise _usage(exc) from None
            raise
        finally:
            unsubscribe()
        elapsed = time.perf_counter() - t0
        entities = result.outputs if hasattr(result, "outputs") and not cfg.unpack_tuples else result
        x = seen[-1] if seen else None
        written = self._write_back(pack, entities, kwargs, ns, x.semantics if x is not None else [])
        if not (args.quiet or self.options.quiet):
            from IPython.display import display

            from .display import Text

            line = Text(_summary(name, inputs, written, x, elapsed))
            # The bundle as display(line) would build it, without asking every formatter (a cell's cost).
            display({"text/plain": line.text, "text/html": line._repr_html_()}, raw=True)

    def _argument(self, name: str, value: Any) -> Any:
        if isinstance(value, Entity):
            return value
        produced = self._produced.get(name)
        if produced is not None and produced[0] is value:
            return produced[1]  # the recorded output of an earlier cell: link the lineage
        try:
            return copy.deepcopy(value)
        except Exception:
            warnings.warn(
                f"Input {name!r} ({type(value).__name__}) cannot be copied; the cell receives the object itself.",
                UserWarning,
                stacklevel=2,
            )
            return value

    def _cell_function(
        self,
        name: str,
        cell: str,
        inputs: list[str],
        kinds: tuple[str, ...],
        outputs: list[str],
        entity_inputs: list[str],
        is_async: bool,
    ) -> tuple[Callable[..., Any], _Pack]:
        key = (cell, (*inputs, "|", *kinds, "|", *outputs, "|", *entity_inputs))
        cached = self._cells.get(name)
        if cached is not None and (cached[0], cached[1]) == key and _registered_as(name, cached[3]):
            return cached[3], cached[2]
        pack = _Pack(name, outputs, entity_inputs)
        filename = f"<%%ecs_exec {name}>"
        params = ", ".join(inputs)
        body = textwrap.indent(cell.rstrip() or "pass", "        ")
        # A factory gives the cell function its packer as a closure variable; its globals are the
        # notebook namespace, so modules and functions defined in other cells resolve as usual.
        src = (
            "def __ecs_factory__(__ecs_pack__):\n"
            f"    {'async ' if is_async else ''}def __ecs_cell__({params}):\n"
            "        __ecs_args__ = dict(locals())\n"
            f"{body}\n"
            "        return __ecs_pack__(locals(), __ecs_args__)\n"
            "    return __ecs_cell__\n"
        )
        code = compile(src, filename, "exec")
        linecache.cache[filename] = (len(src), None, src.splitlines(True), filename)
        scope: dict[str, Any] = {}
        exec(code, self.shell.user_ns, scope)
        func = scope["__ecs_factory__"](pack)
        func.__name__ = func.__qualname__ = name
        func.__annotations__ = {**{n: _ANNOTATIONS[k] for n, k in zip(inputs, kinds)}, "return": tuple[Entity, ...]}
        try:
            model = _inputs_model(tuple(inputs), kinds)
            CallableRegistry.register(name, source=cell, copy_plain=False, input_model=model)(func)
        except EcsError as exc:
            raise _usage(exc) from None
        self._cells[name] = (key[0], key[1], pack, func)
        return func, pack

    def _write_back(
        self, pack: _Pack, result: Any, kwargs: dict[str, Any], ns: dict[str, Any], semantics: list[ExecutionSemantics]
    ) -> list[tuple[str, Entity | None, str]]:
        """Bind outputs in the namespace; returns (name, recorded entity, semantics) for the summary."""
        items = result if isinstance(result, list) else [result]
        per_item = len(semantics) == len(items)  # not so for --no-unpack: one ContainerEntity was recorded
        written: list[tuple[str, Entity | None, str]] = []
        for k, (slot, ent) in enumerate(zip(pack.layout, items)):
            if isinstance(slot, str):
                original = kwargs.get(slot)
                is_input = isinstance(original, Entity) and slot not in pack.outputs
                if is_input and ent.ecs_id == original.ecs_id:
                    continue  # an input the cell did not change
                ns[slot] = ent
                label = semantics[k].value if per_item else ("mutation" if is_input else "entity")
                written.append((slot, ent, label))
            else:
                for field in slot:
                    value = getattr(ent, field)
                    ns[field] = value
                    self._produced[field] = (value, f"@{ent.ecs_id}.{field}")
                    written.append((field, None, f"@{short(ent.ecs_id)}"))
        return written

    # -- inspection magics -----------------------------------------------------------------------

    def _target(self, text: str) -> Any:
        text = text.strip()
        if not text:
            raise UsageError("Give a target: a variable holding an entity, an ecs_id or an @address.")
        ns = self.shell.user_ns
        if text.isidentifier() and text in ns:
            value = ns[text]
            if isinstance(value, Entity):
                return value
            from uuid import UUID

            if isinstance(value, UUID) or (isinstance(value, str) and value.startswith("@")):
                return value
            produced = self._produced.get(text)
            if produced is not None and produced[0] is value:
                return produced[1]
            raise UsageError(f"{text} is a {type(value).__name__}, not an entity (and not a recorded cell output).")
        if text.startswith("@"):
            return text
        from uuid import UUID

        try:
            return UUID(text)
        except ValueError:
            pass
        try:  # an expression such as ada.previous_ecs_id or students[0]
            value = eval(text, ns)  # the user's own expression, in their namespace
        except Exception:
            raise UsageError(f"Unknown target {text!r}: not a variable, an ecs_id or an @address.") from None
        if isinstance(value, (Entity, UUID)) or (isinstance(value, str) and value.startswith("@")):
            return value
        raise UsageError(f"{text} is a {type(value).__name__}, not an entity, an ecs_id or an @address.")

    @magic_arguments()
    @argument("target", help="variable, ecs_id or @address")
    @line_magic
    def ecs_show(self, line: str) -> Any:
        """Show an entity version: its fields, provenance and version."""
        args = parse_argstring(self.ecs_show, line)
        target = self._target(args.target)
        try:
            from .address import get
            from .lineage.queries import resolve_id

            if isinstance(target, Entity):
                return target
            value = get(target) if isinstance(target, str) else EntityRegistry.get(resolve_id(target))
        except EcsError as exc:
            raise _usage(exc) from None
        return value

    @magic_arguments()
    @argument("target", help="variable, ecs_id or @address")
    @line_magic
    def ecs_history(self, line: str) -> Any:
        """Show the versions of an entity's lineage, oldest first."""
        from .display import history_table

        args = parse_argstring(self.ecs_history, line)
        try:
            return history_table(self._target(args.target))
        except EcsError as exc:
            raise _usage(exc) from None

    @magic_arguments()
    @argument("a", help="older version: variable, ecs_id or @address")
    @argument("b", help="newer version: variable, ecs_id or @address")
    @line_magic
    def ecs_diff(self, line: str) -> Any:
        """Show the fields that differ between two versions."""
        from .display import diff_table
        from .lineage.queries import diff, resolve_id

        args = parse_argstring(self.ecs_diff, line)
        try:
            a, b = self._target(args.a), self._target(args.b)
            return diff_table(diff(a, b), str(resolve_id(a)), str(resolve_id(b)))
        except EcsError as exc:
            raise _usage(exc) from None

    @magic_arguments()
    @argument("--function", "-f", help="only this function")
    @argument("--failed", action="store_true", help="only failed executions")
    @argument("--stats", action="store_true", help="count, failures, p50/p95 duration per function")
    @argument("--limit", "-n", type=int, default=50, help="newest N (default 50; 0: all)")
    @line_magic
    def ecs_executions(self, line: str) -> Any:
        """List recorded executions (earlier sessions included)."""
        from .display import executions_table, stats_table

        args = parse_argstring(self.ecs_executions, line)
        try:
            xs = CallableRegistry.executions(function=args.function, failed=True if args.failed else None)
        except EcsError as exc:
            raise _usage(exc) from None
        if args.stats:
            return stats_table(xs)
        shown = xs[-args.limit :] if args.limit else xs
        title = f"{len(shown)} of {len(xs)} executions" + (f" of {args.function}()" if args.function else "")
        return executions_table(shown, title)

    @magic_arguments()
    @argument("url", nargs="?", help="switch to this store (sqlite:///path.db, memory://, postgresql://…)")
    @line_magic
    def ecs_store(self, line: str) -> Any:
        """Show the lineage store (path, counts, size), or switch to another one."""
        from .display import Text

        args = parse_argstring(self.ecs_store, line)
        if args.url:
            from .store import connect

            try:
                connect(args.url)
            except EcsError as exc:
                raise _usage(exc) from None
        return Text(EntityRegistry.store.describe())

    @magic_arguments()
    @argument("format", choices=["html", "json", "openlineage"], help="html, json or openlineage")
    @argument("path", help="file to write")
    @argument("--target", help="only the lineage around this variable, ecs_id or @address")
    @argument("--depth", type=int, default=None)
    @line_magic
    def ecs_export(self, line: str) -> Any:
        """Export the lineage: a standalone offline HTML page, node-link JSON, or OpenLineage events."""
        from .display import Text

        try:
            args = parse_argstring(self.ecs_export, line)
        except UsageError:
            raise
        except Exception as exc:
            raise _usage(exc) from None
        target = self._target(args.target) if args.target else None
        try:
            if args.format == "html":
                from .lineage.export import to_html

                path = to_html(args.path, target, args.depth)
            elif args.format == "json":
                from .lineage.export import to_json

                path = to_json(args.path, target, args.depth)
            else:
                from .lineage.openlineage import to_openlineage

                executions = None
                if target is not None:  # the executions around the target, oldest first
                    from .lineage.export import select

                    around = {n for n, kind in select(target, args.depth).nodes(data="kind") if kind == "execution"}
                    executions = [e for e in EntityRegistry.store.executions() if str(e) in around]
                path = to_openlineage(args.path, executions=executions)
        except EcsError as exc:
            raise _usage(exc) from None
        return Text(f"wrote {path}")

    @magic_arguments()
    @argument("target", nargs="?", help="variable, ecs_id or @address (none: the whole session)")
    @argument("--depth", type=int, default=None)
    @argument("--direction", choices=["up", "down", "both"], default=None)
    @line_magic
    def ecs_lineage(self, line: str) -> Any:
        """Open the lineage explorer around a target (or the whole session)."""
        args = parse_argstring(self.ecs_lineage, line)
        target = self._target(args.target) if args.target else None
        depth = args.depth if args.depth is not None else self.options.explorer_depth
        direction = args.direction or self.options.explorer_direction
        from .widget import LineageExplorer

        try:
            return LineageExplorer(target, depth=depth, direction=direction)
        except EcsError as exc:
            raise _usage(exc) from None


def _summary(
    name: str, inputs: list[str], written: list[tuple[str, Entity | None, str]], x: FunctionExecution | None, elapsed: float
) -> str:
    ins = ", ".join(inputs) or "-"
    outs = ", ".join(f"{n}@{short(e.ecs_id)} ({sem})" if e is not None else f"{n}{sem}" for n, e, sem in written) or "-"
    cached = " · cached" if x is not None and x.cached else ""
    run = f"{x.duration_s * 1e3:.1f} ms" if x is not None else f"{elapsed * 1e3:.1f} ms"
    return f"{name}: {ins} → {outs} · {run}{cached}"


# -- extension -----------------------------------------------------------------------------------

_LOADED: dict[int, dict[str, Any]] = {}


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext ecs_notebook``: magics, rich displays, and the default lineage store."""
    if id(ipython) in _LOADED:
        return
    options = EcsNotebook(parent=ipython)
    ipython.configurables.append(options)
    magics = EcsMagics(ipython, options)
    ipython.register_magics(magics)
    from .display import entity_html, entity_text, execution_html, execution_text

    html = ipython.display_formatter.formatters["text/html"]
    plain = ipython.display_formatter.formatters["text/plain"]
    html.for_type(Entity, entity_html)
    html.for_type(FunctionExecution, execution_html)
    plain.for_type(Entity, lambda e, p, cycle: p.text(entity_text(e)))
    plain.for_type(FunctionExecution, lambda x, p, cycle: p.text(execution_text(x)))
    _LOADED[id(ipython)] = {"options": options, "magics": magics}
    _open_default_store(options)


def _open_default_store(options: EcsNotebook) -> None:
    from .store import connect, default_url

    if options.store_url:
        return  # %config EcsNotebook.store_url already connected it
    if EntityRegistry._store_explicit:
        return  # an explicit connect() wins
    store = EntityRegistry.store
    if not store.persistent and store.counts().get("versions", 0):
        warnings.warn(
            "ecs_notebook: entities were recorded in memory before %load_ext; keeping the in-memory store. "
            "Use %ecs_store sqlite:///.ecs_notebook/lineage.db to record durably from now on.",
            UserWarning,
            stacklevel=3,
        )
        return
    try:
        connect(default_url(extension=True))
    except EcsError as exc:
        raise UsageError(str(exc)) from None
    EntityRegistry._store_explicit = False


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext ecs_notebook``: remove the magics and display formatters."""
    state = _LOADED.pop(id(ipython), None)
    if state is None:
        return
    mm = ipython.magics_manager
    for kind in ("line", "cell"):
        for name in [n for n in mm.magics[kind] if n.startswith("ecs_")]:
            del mm.magics[kind][name]
    html = ipython.display_formatter.formatters["text/html"]
    plain = ipython.display_formatter.formatters["text/plain"]
    for fmt in (html, plain):
        for cls in (Entity, FunctionExecution):
            fmt.type_printers.pop(cls, None)
    if state["options"] in ipython.configurables:
        ipython.configurables.remove(state["options"])
