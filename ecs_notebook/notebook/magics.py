"""The IPython extension: ``%load_ext ecs_notebook``, ``%%ecs_exec`` cells and the ``%ecs_*`` magics."""

from __future__ import annotations

import argparse
import os
import re
import sys
import warnings
from typing import Any, NoReturn

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from traitlets import Bool, Float, Int, TraitError, Unicode, observe, validate
from traitlets import Enum as TEnum
from traitlets.config import Configurable

from ..core.entity import Entity
from ..core.errors import EcsError
from ..core.registry import EntityRegistry
from ..core.variable import VARIABLE_INDEX
from ..execution.callable_registry import CallableRegistry
from ..execution.model import ExecutionConfig, FunctionExecution
from .recorder import CellRecorder, CellRun, cell_names


class EcsNotebook(Configurable):
    """Options of the ecs_notebook extension (``%config EcsNotebook.<option> = value``)."""

    store_url = Unicode(None, allow_none=True, help="Lineage store URL (sqlite:///path.db, postgresql://…, memory://).").tag(config=True)
    quiet = Bool(False, help="Hide the summary line after %%ecs_exec cells.").tag(config=True)
    explorer_depth = Int(2, help="Default depth of %ecs_lineage.").tag(config=True)
    explorer_direction = TEnum(["up", "down", "both"], "both", help="Default direction of %ecs_lineage.").tag(config=True)
    cache = Bool(False, help="Serve unchanged calls from recorded executions (RegistryConfig.enable_function_caching).").tag(config=True)
    max_execution_time = Float(None, allow_none=True, help="Default time limit of calls, in seconds.").tag(config=True)
    max_value_bytes = Int(
        2**30,
        min=0,
        help="Recorded values larger than this are kept by fingerprint, type, shape and a sample only (get() of them "
        "raises ValueNotStoredError).",
    ).tag(config=True)
    notebook = Unicode(
        None,
        allow_none=True,
        help="Name that keys this notebook's variable lineages (default: the notebook path Jupyter gives the kernel).",
    ).tag(config=True)

    @validate("store_url")
    def _connect_store_url(self, proposal: dict[str, Any]) -> str | None:
        # Connecting in the validator (not an observer) keeps a rejected URL out of the option.
        url: str | None = proposal["value"]
        if url:
            from ..store import connect

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


class _HeaderParser(argparse.ArgumentParser):
    """``%%ecs_exec`` header options; errors become one-line UsageErrors (argparse would exit)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"%%ecs_exec: {message}. Usage: %%ecs_exec NAME [--in a b ...] [--out c ...] [--quiet]")


def _header_parser() -> _HeaderParser:
    p = _HeaderParser(prog="%%ecs_exec", add_help=False, allow_abbrev=False)
    p.add_argument("name")
    p.add_argument("--in", dest="inputs", nargs="+", metavar="NAME")
    p.add_argument("--out", dest="outputs", nargs="+", metavar="NAME")
    p.add_argument("--quiet", action="store_true")
    return p


_HEADER = _header_parser()
#: Metadata key of the summary line's display bundle (front ends and tests can tell it from the cell's own output).
SUMMARY_METADATA = "ecs_notebook.summary"
_CELL_MAGIC = "%%ecs_exec"


def _split_header(raw: str) -> tuple[str, str] | None:
    """(options line, body) of a cell that starts with ``%%ecs_exec``, else None."""
    text = raw.lstrip("\n")
    if not text.startswith(_CELL_MAGIC) or (len(text) > len(_CELL_MAGIC) and not text[len(_CELL_MAGIC)].isspace()):
        return None
    line, _, body = text.partition("\n")
    return line[len(_CELL_MAGIC) :].strip(), body


@magics_class
class EcsMagics(Magics):
    """The ``ecs_`` magics. Each parses its arguments, calls the public API and displays the result."""

    def __init__(self, shell: Any, config: EcsNotebook) -> None:
        super().__init__(shell)
        self.options = config
        self.recorder = CellRecorder(shell.user_ns, _notebook_name(shell, config), shell.user_ns_hidden, warn=_warn)
        self.record_all = False
        self._last_header: tuple[tuple[str, str], Any] | None = None  # ((line, body), args or UsageError)
        self._runs: list[tuple[Any, CellRun | None, bool]] = []  # (ExecutionInfo, run, quiet), innermost last

    # -- recorded cells: IPython events ---------------------------------------------------------

    def parse_header(self, line: str, body: str) -> Any:
        """The options of a ``%%ecs_exec`` header, checked against the cell; UsageError if wrong.

        The input transformer and ``pre_run_cell`` both ask about the same cell, with no user code
        in between: the answer is kept until the cell ends.
        """
        last = self._last_header
        if last is not None and last[0] == (line, body):
            if isinstance(last[1], UsageError):
                raise last[1]
            return last[1]
        try:
            args = self._parse_header(line, body)
        except UsageError as exc:
            self._last_header = ((line, body), exc)
            raise
        self._last_header = ((line, body), args)
        return args

    def _parse_header(self, line: str, body: str) -> Any:
        import shlex

        try:
            args = _HEADER.parse_args(shlex.split(line))
        except ValueError as exc:
            raise UsageError(f"%%ecs_exec: {exc}") from None
        if not args.name.isidentifier():
            raise UsageError(f"%%ecs_exec: {args.name!r} is not a valid name: use letters, digits and _ (e.g. %%ecs_exec analyze).")
        ns = self.shell.user_ns
        if args.inputs:
            missing = [n for n in args.inputs if n not in ns]
            if missing:
                raise UsageError(f"%%ecs_exec {args.name}: --in names not defined in the notebook: {', '.join(missing)}")
        if args.outputs:
            try:
                names = cell_names(self.shell.transform_cell(body))
            except (SyntaxError, ValueError):
                names = None
            if names is not None:
                known = set(names.assigns) | set(names.reads) | _bound_names(body) | set(self.recorder.reachable_names(names))
                unknown = [n for n in args.outputs if n not in known]
                if unknown:
                    raise UsageError(f"%%ecs_exec {args.name}: --out names the cell neither binds nor reads: {', '.join(unknown)}")
        return args

    def transform(self, lines: list[str]) -> list[str]:
        """Input transformer: a valid ``%%ecs_exec`` header is taken off, so IPython runs the body natively.

        An invalid header is left in place: IPython then calls the ``%%ecs_exec`` cell magic, which
        reports the error. The header line becomes an empty line, so tracebacks keep the cell's
        own line numbers (unless the body starts with another cell magic, which must come first).
        """
        self._last_header = None  # a new cell (even a silent run, which has no post_run_cell)
        if not lines or not lines[0].startswith(_CELL_MAGIC):
            return lines
        parts = _split_header("".join(lines))
        if parts is None:
            return lines
        try:
            self.parse_header(*parts)
        except UsageError:
            return lines
        if len(lines) > 1 and lines[1].startswith("%%"):
            return lines[1:]
        return ["\n", *lines[1:]]

    def pre_run_cell(self, info: Any) -> None:
        run: CellRun | None = None
        quiet = False
        try:
            started = self._start(info)
            if started is not None:
                run, quiet = started
        except Exception as exc:  # the cell still runs as a plain cell
            _warn(f"ecs_notebook: this cell is not recorded: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
            run = None
        self._runs.append((info, run, quiet))

    def _start(self, info: Any) -> tuple[CellRun, bool] | None:
        raw = info.raw_cell or ""
        parts = _split_header(raw)
        if parts is not None:
            try:
                args = self.parse_header(*parts)
            except UsageError:
                return None  # the cell magic reports it
            body = parts[1]
            code = info.transformed_cell
            return self.recorder.begin(args.name, body, code, args.inputs, args.outputs), bool(args.quiet or self.options.quiet)
        if not self.record_all or not _worth_recording(raw):
            return None
        cell_id = getattr(info, "cell_id", None)
        if cell_id:
            name = f"cell_{cell_id}"
        else:
            count = self.shell.execution_count - (1 if info.store_history else 0)
            name = f"cell_{count}"
        return self.recorder.begin(name, raw, info.transformed_cell), bool(self.options.quiet)

    def post_run_cell(self, result: Any) -> None:
        self._last_header = None  # the next cell's header is checked against the namespace it meets
        # IPython fires post_run_cell without pre_run_cell for an empty cell: match by the cell's info.
        info = getattr(result, "info", None)
        index = next((k for k in range(len(self._runs) - 1, -1, -1) if self._runs[k][0] is info), None)
        if index is None:
            return
        _info, run, quiet = self._runs.pop(index)
        if run is None:
            return
        error = result.error_in_exec or result.error_before_exec if result is not None else None
        try:
            done = self.recorder.end(run, error)
        except Exception as exc:
            _warn(f"ecs_notebook: the cell ran but could not be recorded: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
            return
        if not quiet:
            from IPython.display import publish_display_data

            from .display import Text

            line = Text(done.summary())
            publish_display_data({"text/plain": line.text, "text/html": line._repr_html_()}, metadata={SUMMARY_METADATA: True})

    # -- %%ecs_exec / %ecs_exec --------------------------------------------------------------

    @magic_arguments()
    @argument("name", nargs="?", help="function name (cell form: the name the cell is recorded under)")
    @argument("params", nargs="*", help="line form: key=value arguments (value: @address or a Python expression)")
    @argument("--in", dest="inputs", nargs="+", metavar="NAME", help="cell form: exactly these input variables")
    @argument("--out", dest="outputs", nargs="+", metavar="NAME", help="cell form: exactly these output variables")
    @argument("--quiet", action="store_true", help="no summary line")
    @argument("--no-unpack", action="store_true", help="line form: keep several entity outputs in one ContainerEntity")
    @argument("--timeout", type=float, metavar="S", help="line form: fail the call past S seconds")
    @argument("--cache", dest="cache", action="store_true", default=None, help="line form: serve from recorded executions")
    @argument("--no-cache", dest="cache", action="store_false", help="line form: always run")
    @argument("-o", dest="var", metavar="VAR", help="line form: store the result in VAR")
    @line_cell_magic
    def ecs_exec(self, line: str, cell: str | None = None) -> Any:
        """Record a cell (it runs as a plain cell), or call a registered function.

        Cell form: ``%%ecs_exec NAME [--in a b] [--out c d] [--quiet]``: the cell runs exactly as
        without the magic line and is recorded as one execution of ``NAME`` (inputs: the variables
        it reads; outputs: those it binds, rebinds, deletes or changes in place). A cell that raises
        changes nothing.
        Line form: ``%ecs_exec NAME key=value ... [-o VAR]``: execute a registered function.
        """
        __tracebackhide__ = True  # IPython shows the user's cell frames, not ours
        if cell is not None:
            # Reached only when the header was not taken off by the input transformer (a wrong
            # option, or run_cell_magic() called from code): report the error, or run the cell.
            self.parse_header(line, cell)
            self.shell.run_cell(f"{_CELL_MAGIC} {line}\n{cell}", store_history=False)
            return None
        try:
            args = parse_argstring(self.ecs_exec, line)
        except UsageError:
            raise
        except Exception as exc:
            raise _usage(exc) from None
        if not args.name:
            raise UsageError("%ecs_exec needs a function name: %ecs_exec NAME key=value ... (or %%ecs_exec NAME to record a cell)")
        if args.inputs or args.outputs:
            raise UsageError("--in/--out are for recorded cells: %%ecs_exec NAME --in a --out b (two %).")
        return self._call(args)

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
                from ..core.address import full_address

                try:
                    kwargs[key] = full_address(expr)  # a short id in the address: the full one
                except EcsError as exc:
                    raise _usage(exc) from None
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
            from ..core.errors import AddressError, EntityNotFoundError, InputValidationError

            if isinstance(exc, (AddressError, EntityNotFoundError, InputValidationError)):
                raise _usage(exc) from None
            raise
        if args.var:
            ns[args.var] = result
        return result

    # -- whole-notebook recording, staleness -----------------------------------------------------

    @line_magic
    def ecs_record(self, line: str) -> Any:
        """``%ecs_record on|off``: record every following cell (as if it began with %%ecs_exec), or stop."""
        from .display import Text

        arg = line.strip().lower()
        if arg not in ("", "on", "off"):
            raise UsageError(f"%ecs_record takes on or off, not {line.strip()!r}.")
        if arg:
            self.record_all = arg == "on"
        state = "on: every cell is recorded (cell_<id> names)" if self.record_all else "off: only %%ecs_exec cells are recorded"
        return Text(f"ecs_record {state}")

    @line_magic
    def ecs_stale(self, line: str) -> Any:
        """``%ecs_stale``: the variables whose latest version derives from an outdated one, and the cells that refresh them."""
        from .display import Text, stale_table

        if line.strip():
            raise UsageError(f"%ecs_stale takes no arguments (got {line.strip()!r}).")
        try:
            plan = self.recorder.stale_plan()
        except EcsError as exc:
            raise _usage(exc) from None
        if not plan.variables:
            return Text("Nothing is stale.")
        return stale_table(plan)

    @line_magic
    def ecs_rerun(self, line: str) -> Any:
        """``%ecs_rerun``: re-run the cells that refresh stale variables, in run order (stops at the first failure)."""
        from .display import Text

        if line.strip():
            raise UsageError(f"%ecs_rerun takes no arguments (got {line.strip()!r}).")
        ran: list[str] = []
        for _ in range(100):  # each pass runs what is stale now; a pass can leave new stale results
            plan = self.recorder.stale_plan()
            todo = [c for c in plan.cells if c.name not in ran]
            if not plan.variables or not todo:
                break
            for c in todo:
                if c.source is None:
                    raise UsageError(f"%ecs_rerun: the source of cell {c.name} is not recorded; run it by hand.")
                if c.is_async:
                    raise UsageError(f"%ecs_rerun: cell {c.name} uses top-level await; run it by hand.")
                result = self.shell.run_cell(f"{_CELL_MAGIC} {c.name}\n{c.source}", store_history=False)
                ran.append(c.name)
                if result.error_before_exec is not None or result.error_in_exec is not None:
                    return Text(f"%ecs_rerun stopped: cell {c.name} failed (above); {len(ran) - 1} cell(s) re-ran before it.")
        if not ran:
            return Text("Nothing is stale: nothing to re-run.")
        left = self.recorder.stale_plan().variables
        tail = "" if not left else f"; still stale: {', '.join(v.name for v in left)}"
        return Text(f"%ecs_rerun re-ran {len(ran)} cell(s): {', '.join(ran)}{tail}")

    # -- inspection magics -----------------------------------------------------------------------

    def _target(self, text: str) -> Any:
        """What a magic argument names: a variable (an entity, or a recorded value), an id, an address or an expression."""
        text = text.strip()
        if not text:
            raise UsageError("Give a target: a variable, an ecs_id (or a unique prefix of it) or an @address.")
        ns = self.shell.user_ns
        if text.isidentifier() and text in ns:
            value = ns[text]
            if isinstance(value, Entity):
                return value
            from uuid import UUID

            if isinstance(value, UUID) or (isinstance(value, str) and value.startswith("@")):
                return value
            st = self.recorder.vars.get(text)
            if st is not None:
                return st.ecs_id
            raise UsageError(
                f"{text} ({type(value).__name__}) is not recorded yet: "
                "run a recorded cell that reads or binds it (%%ecs_exec, or %ecs_record on)."
            )
        if text.isidentifier() and text in self.recorder.vars:
            return self.recorder.vars[text].ecs_id  # a deleted variable: its last version
        if text.startswith("@"):
            return text
        from ..core.address import is_id_text
        from ..lineage.queries import resolve_id

        if is_id_text(text):  # a full id or a unique prefix of one (>= 4 hex digits), as listings show them
            try:
                return resolve_id(text)
            except EcsError as exc:
                raise _usage(exc) from None
        try:  # an expression such as ada.previous_ecs_id or students[0]
            value = eval(text, ns)  # the user's own expression, in their namespace
        except Exception:
            raise UsageError(f"Unknown target {text!r}: not a variable, an ecs_id or an @address.") from None
        from uuid import UUID

        if isinstance(value, (Entity, UUID)) or (isinstance(value, str) and value.startswith("@")):
            return value
        found = VARIABLE_INDEX.find(value)
        if found is not None:
            return found[1]
        raise UsageError(f"{text} ({type(value).__name__}) is not an entity, a recorded value, an ecs_id or an @address.")

    @magic_arguments()
    @argument("target", help="variable, ecs_id or @address")
    @line_magic
    def ecs_show(self, line: str) -> Any:
        """Show an entity version: its fields, provenance and version."""
        args = parse_argstring(self.ecs_show, line)
        target = self._target(args.target)
        try:
            from ..core.address import get
            from ..lineage.queries import resolve_id

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
        from ..lineage.queries import diff, resolve_id
        from .display import diff_table

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
            from ..store import connect

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
                from ..lineage.export import to_html

                path = to_html(args.path, target, args.depth)
            elif args.format == "json":
                from ..lineage.export import to_json

                path = to_json(args.path, target, args.depth)
            else:
                from ..lineage.openlineage import to_openlineage

                executions = None
                if target is not None:  # the executions around the target, oldest first
                    from ..lineage.export import select

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


# -- extension -----------------------------------------------------------------------------------

_LOADED: dict[int, dict[str, Any]] = {}


def _notebook_name(shell: Any, options: EcsNotebook) -> str:
    """What keys this notebook's variable lineages: the option, the notebook path Jupyter gives, else the folder."""
    if options.notebook:
        return str(options.notebook)
    session = shell.user_ns.get("__session__") or os.environ.get("JPY_SESSION_NAME")
    if isinstance(session, str) and session:
        return session
    return f"{os.getcwd()}{os.sep}<ipython>"


def _warn(message: str) -> None:
    """One line on stderr (shown in the notebook), without a source line of the library."""
    print(message, file=sys.stderr)


_ECS_LINE = re.compile(r"^\s*(%ecs_[a-z_]+\b.*)?$")


def _worth_recording(raw: str) -> bool:
    """Whether ``%ecs_record on`` records this cell: not empty and not only ``%ecs_*`` lines."""
    lines = [ln for ln in raw.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    return bool(lines) and not all(_ECS_LINE.match(ln) for ln in lines)


def _bound_names(body: str) -> set[str]:
    """Names bound anywhere in a cell (for loops and comprehensions included): the names --out may give."""
    import ast

    try:
        tree = ast.parse(body)
    except SyntaxError:
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext ecs_notebook``: magics, rich displays, and the default lineage store."""
    if id(ipython) in _LOADED:
        return
    options = EcsNotebook(parent=ipython)
    ipython.configurables.append(options)
    magics = EcsMagics(ipython, options)
    ipython.register_magics(magics)
    options.observe(lambda change: magics.recorder.set_notebook(_notebook_name(ipython, options)), "notebook")
    options.observe(lambda change: setattr(magics.recorder, "max_value_bytes", int(change["new"])), "max_value_bytes")
    ipython.input_transformers_cleanup.append(magics.transform)
    ipython.events.register("pre_run_cell", magics.pre_run_cell)
    ipython.events.register("post_run_cell", magics.post_run_cell)
    from .display import entity_html, entity_text, execution_html, execution_text

    html = ipython.display_formatter.formatters["text/html"]
    plain = ipython.display_formatter.formatters["text/plain"]
    html.for_type(Entity, entity_html)
    html.for_type(FunctionExecution, execution_html)
    plain.for_type(Entity, lambda e, p, cycle: p.text(entity_text(e)))
    plain.for_type(FunctionExecution, lambda x, p, cycle: p.text(execution_text(x)))
    _LOADED[id(ipython)] = {"options": options, "magics": magics}
    _open_default_store(options)
    _warm_up_codecs()


def _warm_up_codecs() -> None:
    """Import skops (the estimator codec, ~0.6 s to import) in the background, while the user reads or types.

    Otherwise the first recorded cell that fits a scikit-learn model would pay for it.
    """
    import importlib.util
    import threading

    if "skops.io" in sys.modules or importlib.util.find_spec("sklearn") is None or importlib.util.find_spec("skops") is None:
        return

    def warm() -> None:
        try:
            import skops.io  # noqa: F401
        except Exception:  # the codec reports a missing or broken skops when it is needed
            return

    threading.Thread(target=warm, name="ecs_notebook-warm-up", daemon=True).start()


def _open_default_store(options: EcsNotebook) -> None:
    from ..store import default_url, open_store

    if options.store_url:
        return  # %config EcsNotebook.store_url already connected it
    if EntityRegistry.store_explicit:
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
        EntityRegistry.use_store(open_store(default_url(extension=True)), explicit=False)
    except EcsError as exc:
        raise UsageError(str(exc)) from None


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
    magics = state["magics"]
    EntityRegistry.store.checkpoint()  # the .db file alone holds everything recorded so far
    if magics.transform in ipython.input_transformers_cleanup:
        ipython.input_transformers_cleanup.remove(magics.transform)
    for event in ("pre_run_cell", "post_run_cell"):
        try:
            ipython.events.unregister(event, getattr(magics, event))
        except ValueError:
            pass
    magics.recorder.close()
