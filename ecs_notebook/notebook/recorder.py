"""Recording notebook cells that run as plain cells: inputs before, outputs after, restore on failure.

The cell itself runs natively (IPython's own machinery, in the user namespace); the recorder only
looks. ``begin()`` runs just before the cell: it reads the cell's names (AST), records the versions of
the variables it reads (a variable changed since its last recorded version gets a version "changed
outside recorded cells" first), fingerprints what the cell could change in place and keeps an undo copy
of small values. ``end()`` runs after it: outputs are the variables bound, rebound, deleted or changed
in place (by fingerprint, through aliases too), recorded with one FunctionExecution in one short
transaction; a failed cell instead gets every changed variable back and is recorded as failed.
No IPython import here: ``magics.py`` adapts IPython's events to these calls.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import re
import sys
import time
import traceback as tb_module
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from ..core._ids import new_id, short, utcnow
from ..core.entity import Entity
from ..core.errors import EcsError
from ..core.records import VersionRecord, new_record, record_from_data
from ..core.registry import EntityRegistry
from ..core.typeinfo import class_info
from ..core.values.fingerprint import fingerprint_info
from ..core.variable import (
    BOUND,
    CHANGED_IN_PLACE,
    CODE,
    DELETED,
    NO_CODEC,
    OUTSIDE,
    TOO_LARGE,
    VARIABLE_INDEX,
    StoredValue,
    Variable,
    variable_lineage_id,
)
from ..execution.model import ExecutionSemantics, FunctionExecution
from .cells import CellNames, analyse

#: Names IPython itself binds while running a cell (output history, input history, exit codes).
_IPYTHON_NAME = re.compile(r"^(_+|_i+|_i\d+|_\d+|_ih|_oh|_dh|In|Out|_exit_code)$")
#: Values up to this size get an undo copy before the cell; bigger ones are restored from their recorded
#: version in the store (exact), so reading a large value never costs a copy of it.
UNDO_COPY_BYTES = 4 * 2**20
#: Containers up to this many items are searched for parts bound to other variables (and at most this many objects per cell).
PART_WALK_LIMIT = 10_000
#: Default of ``%config EcsNotebook.max_value_bytes``: larger values are recorded without their bytes.
MAX_VALUE_BYTES = 2**30

_MUTATION, _CREATION = ExecutionSemantics.MUTATION, ExecutionSemantics.CREATION


@functools.lru_cache(maxsize=512)
def cell_names(code: str) -> CellNames:
    """:func:`cells.analyse`, once per cell source (a re-run cell is not parsed again); do not mutate the result."""
    return analyse(code)


def code_version(source: str) -> str:
    """The code version of a cell: a hash of its source (a re-run with the same source: the same)."""
    return hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def is_recordable(name: str, value: Any) -> bool:
    """Whether a namespace entry is a recorded variable: data, or a function/class defined in the notebook.

    Modules, names starting with ``_``, and functions or classes imported from elsewhere are bound as
    usual but not recorded.
    """
    if name.startswith("_") or isinstance(value, types.ModuleType):
        return False
    t = type(value)
    if t.__name__ == "ufunc" and t.__module__ == "numpy":  # ``from numpy import sqrt``: a library function
        return False
    if isinstance(value, (type, types.FunctionType, types.BuiltinFunctionType, types.MethodType, functools.partial)):
        return getattr(value, "__module__", None) == "__main__"
    return not isinstance(value, (types.BuiltinMethodType, types.WrapperDescriptorType, types.MethodWrapperType))


@dataclass
class VarState:
    """What the recorder knows of one variable: its latest recorded version."""

    ecs_id: UUID
    fingerprint: str
    obj_id: int
    function: str | None = None
    inputs: tuple[UUID, ...] = ()


@dataclass
class Output:
    """One variable the cell changed, as the summary line shows it."""

    name: str
    ecs_id: UUID | None
    change: str  # "new", "rebound", "changed in place", "deleted", "mutation", "creation", "unchanged"


@dataclass
class CellRun:
    """A recorded cell in progress (between ``begin`` and ``end``)."""

    name: str
    source: str
    code_version: str
    names: CellNames | None
    only_in: list[str] | None
    only_out: list[str] | None
    execution_id: UUID = field(default_factory=new_id)
    started_at: Any = field(default_factory=utcnow)
    t0: float = field(default_factory=time.perf_counter)
    inputs: list[tuple[str, UUID]] = field(default_factory=list)
    #: versions of the entities inside read containers (a list of entities): inputs too
    entity_items: list[UUID] = field(default_factory=list)
    before: dict[str, Any] = field(default_factory=dict)
    #: name -> (object, fingerprint before) of the values the cell could change in place
    watched: dict[str, tuple[Any, str]] = field(default_factory=dict)
    #: id(object) -> (undo copy taken before the cell, deepcopy's memo: each part -> its copy)
    undo: dict[int, tuple[Any, dict[int, Any]]] = field(default_factory=dict)
    #: recorded version of each watched object (by id), to restore from when there is no undo copy
    recorded: dict[int, UUID] = field(default_factory=dict)

    def recorded_entities(self, ns: dict[str, Any]) -> list[str]:
        """Names bound before the cell to an entity it could reach, and still bound to that object."""
        return [n for n, v in self.before.items() if isinstance(v, Entity) and id(v) in self.recorded and ns.get(n, _MISSING) is v]


@dataclass
class CellResult:
    """What ``end()`` did: for the summary line and the magics."""

    name: str
    inputs: list[str]
    outputs: list[Output]
    execution_id: UUID | None
    succeeded: bool
    duration_s: float
    not_restored: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """``analyze: ada, threshold → ada@5d0c2b7e (mutation), honors@a41f09c3 · 0.1 ms``.

        A plain value bound by the cell shows its new version; other changes say what they were
        (changed in place, deleted; mutation, creation for entities).
        """
        ins = ", ".join(self.inputs) or "-"
        parts = []
        for o in self.outputs:
            if o.change == "unchanged":
                continue
            label = "" if o.change in ("new", "rebound") else f" ({o.change})"
            parts.append(f"{o.name}@{short(o.ecs_id)}{label}" if o.ecs_id else f"{o.name}{label}")
        outs = ", ".join(parts) or "-"
        status = "" if self.succeeded else " · failed, nothing changed"
        return f"{self.name}: {ins} → {outs} · {self.duration_s * 1e3:.1f} ms{status}"


@dataclass
class StaleVariable:
    name: str
    ecs_id: UUID
    cell: str | None


@dataclass
class RerunCell:
    name: str
    source: str | None
    is_async: bool


@dataclass
class StalePlan:
    """What ``%ecs_stale`` shows and ``%ecs_rerun`` runs: stale variables, and their cells in run order."""

    variables: list[StaleVariable]
    cells: list[RerunCell]


class CellRecorder:
    """Records the cells of one notebook namespace as executions over variable lineages."""

    def __init__(
        self, namespace: dict[str, Any], notebook: str, hidden: Iterable[str] = (), warn: Callable[[str], None] | None = None
    ) -> None:
        self.ns = namespace
        self.notebook = notebook
        self.hidden = set(hidden)
        self.vars: dict[str, VarState] = {}
        #: function name -> (source, order of its latest run): the cells %ecs_rerun can run again
        self.cells: dict[str, tuple[str, int]] = {}
        self._runs = 0
        self._warned: set[tuple[str, str]] = set()
        self._written: set[tuple[str, str]] = set()  # (cell name, code version) already in the store
        self._warn = warn or _default_warn
        self.max_value_bytes = MAX_VALUE_BYTES
        VARIABLE_INDEX.attach(lambda: self.ns)
        self._unsubscribe = EntityRegistry.on_store_change(self._store_changed)

    def _store_changed(self) -> None:
        """Another store: what this session knew of the old one does not hold there."""
        self._written.clear()
        self.vars.clear()

    def close(self) -> None:
        """Stop looking at the namespace and the store (``%unload_ext``): nothing keeps this recorder alive."""
        VARIABLE_INDEX.attach(None)
        self._unsubscribe()

    def set_notebook(self, notebook: str) -> None:
        """Key variable lineages by ``notebook`` from now on (``%config EcsNotebook.notebook``)."""
        if notebook != self.notebook:
            self.notebook = notebook
            self.vars.clear()

    # -- which names ---------------------------------------------------------------------------

    def recordable(self, name: str, value: Any) -> bool:
        return name not in self.hidden and not _IPYTHON_NAME.match(name) and is_recordable(name, value)

    def _state(self, name: str) -> VarState | None:
        """The latest recorded version of variable ``name`` (this session, else the store)."""
        st = self.vars.get(name)
        if st is not None:
            return st
        lineage = variable_lineage_id(self.notebook, name)
        try:
            latest = EntityRegistry.latest(lineage)
        except EcsError:
            return None
        rec = EntityRegistry.record(latest)
        v = rec.plain_dict()
        st = VarState(latest, v.get("fingerprint", ""), -1, rec.derived_from_function, tuple(rec.function_input_entities))
        self.vars[name] = st
        return st

    def reachable_names(self, names: CellNames) -> list[str]:
        """Names whose values the cell can reach: what it reads, and the globals its own functions use."""
        ns = self.ns
        out = [n for n in names.reads if n in ns]
        seen = set(out)
        stack = [ns[n] for n in out]
        while stack:
            v = stack.pop()
            for code in _codes_of(v):
                for g in code.co_names:
                    if g not in seen and g in ns:
                        seen.add(g)
                        out.append(g)
                        stack.append(ns[g])
        return out

    # -- before the cell ---------------------------------------------------------------------------

    def begin(
        self, name: str, source: str, code: str | None, only_in: list[str] | None = None, only_out: list[str] | None = None
    ) -> CellRun:
        """Record the cell's inputs and remember what it could change. ``code``: the Python source IPython runs.

        Never raises for the cell's own problems (a syntax error is IPython's to show); the store's
        errors (StoreError) propagate: then nothing is recorded.
        """
        try:
            names = cell_names(code) if code is not None else None
        except (SyntaxError, ValueError):
            names = None
        run = CellRun(name, source, code_version(source), names, only_in, only_out)
        ns = self.ns
        run.before = dict(ns)
        self._runs += 1
        self.cells[name] = (source, self._runs)
        if names is None:
            return run
        reads = only_in if only_in is not None else [n for n in names.reads if n in ns and self.recordable(n, ns[n])]
        watch = self.reachable_names(names) if only_in is None else list(only_in)
        records: list[VersionRecord] = []
        finish: list[Any] = []
        remember: list[tuple[str, VersionRecord, int]] = []
        for n in dict.fromkeys([*reads, *watch]):
            if n not in ns or not self.recordable(n, ns[n]):
                continue
            value = ns[n]
            if isinstance(value, Entity):
                eid = self._entity_input(value, records, finish)
                if eid is None:
                    continue
                self._undo_copy(run, value)
                run.recorded[id(value)] = eid
            else:
                info = fingerprint_info(value)
                run.watched[n] = (value, info.hex)
                eid = self._input_version(n, value, info, records, remember)
                run.recorded.setdefault(id(value), eid)
                if not info.by_identity:
                    self._undo_copy(run, value)
                if n in reads:
                    for item in _entities_in(value):
                        item_id = self._entity_input(item, records, finish)
                        if item_id is not None:
                            run.entity_items.append(item_id)
            if n in reads:
                run.inputs.append((n, eid))
        self._watch_parts(run)
        if records:
            EntityRegistry.add_records(records, roots=[r.ecs_id for r in records if r.root_ecs_id == r.ecs_id])
        for pt in finish:
            pt.finish()
        for n, rec, oid in remember:  # only once the records are in the store
            self._remember(n, rec, oid)
        return run

    def _watch_parts(self, run: CellRun) -> None:
        """Also watch variables holding a part of a watched value (``inner = d["a"]``: a change through ``d`` changes it).

        Walks the plain containers and object states of the watched values (small ones only: a
        container of more than PART_WALK_LIMIT items is not entered, and at most that many objects are
        visited per cell), then fingerprints the variables bound to what it found.
        """
        if not run.watched:
            return
        inside: set[int] = set()
        stack = [obj for obj, _ in run.watched.values()]
        seen = {id(o) for o in stack}
        budget = PART_WALK_LIMIT
        while stack and budget > 0:
            obj = stack.pop()
            budget -= 1
            if isinstance(obj, dict):
                items: Iterable[Any] = obj.values() if len(obj) <= PART_WALK_LIMIT else ()
            elif isinstance(obj, (list, tuple, set, frozenset)):
                items = obj if len(obj) <= PART_WALK_LIMIT else ()
            elif type(obj).__module__ not in ("builtins", "numpy", "pandas") and isinstance(getattr(obj, "__dict__", None), dict):
                items = obj.__dict__.values()
            else:
                continue
            for item in items:
                if id(item) not in seen and not isinstance(item, (str, bytes, int, float, bool, type(None))):
                    seen.add(id(item))
                    inside.add(id(item))
                    stack.append(item)
        if not inside:
            return
        for n, value in self.ns.items():
            if n not in run.watched and id(value) in inside and self.recordable(n, value) and not isinstance(value, Entity):
                run.watched[n] = (value, fingerprint_info(value).hex)

    def _entity_input(self, value: Entity, records: list[VersionRecord], finish: list[Any]) -> UUID | None:
        """The version of an entity variable (recording its pending edits first)."""
        try:
            if value.root_live_id is not None and value.root_live_id != value.live_id:
                EntityRegistry.version_live_tree_of(value)  # a part of another tree: its root records it
                return value.ecs_id
            pt = EntityRegistry.prepare(value)
        except EcsError as exc:
            self._warn(f"ecs_notebook: {exc}")
            return None
        if pt.changed:
            records.extend(pt.records)
            finish.append(pt)
            return pt.root_id
        pt.finish()
        return value.ecs_id

    def _input_version(
        self, name: str, value: Any, info: Any, records: list[VersionRecord], remember: list[tuple[str, VersionRecord, int]]
    ) -> UUID:
        """The recorded version a read variable is: its latest, or a new one if it changed outside recorded cells."""
        st = self._state(name)
        if st is not None and st.fingerprint == info.hex and (not info.by_identity or st.obj_id in (-1, id(value))):
            st.obj_id = id(value)
            return st.ecs_id
        rec = self._variable_record(name, value, info, OUTSIDE, None, None, ())
        records.append(rec)
        remember.append((name, rec, id(value)))
        return rec.ecs_id

    def _undo_copy(self, run: CellRun, value: Any) -> None:
        key = id(value)
        if key in run.undo or _size_estimate(value) > UNDO_COPY_BYTES:
            return
        memo: dict[int, Any] = {}
        try:
            run.undo[key] = (copy.deepcopy(value, memo), memo)  # the memo maps every part to its copy
        except Exception:  # not copyable: restored from its recorded version if it changes
            return

    # -- after the cell ----------------------------------------------------------------------------

    def end(self, run: CellRun, error: BaseException | None) -> CellResult:
        """Record what the cell did (or, if it raised, restore the namespace and record the failure).

        Everything the cell left is written in one short transaction, after the cell ran.
        """
        from ..store import batch

        # A failed cell changes nothing, whatever happens to the recording (a store gone away).
        not_restored = self._restore(run) if error is not None else []
        with batch() as store:
            key = (run.name, run.code_version)
            if key not in self._written:  # the cell's source, for %ecs_rerun after a restart
                store.write_function(run.name, run.code_version, run.source, {})
                self._written.add(key)
            return self._end(run, error, not_restored)

    def _end(self, run: CellRun, error: BaseException | None, not_restored: list[str]) -> CellResult:
        if error is not None:
            xid = self._record_failure(run, error)
            return CellResult(run.name, [n for n, _ in run.inputs], [], xid, False, time.perf_counter() - run.t0, not_restored)
        ns, before = self.ns, run.before
        names = run.names
        target_only = set(names.target_only) if names is not None else set()
        only_out = set(run.only_out) if run.only_out is not None else None
        changed: dict[str, str] = {}  # name -> kind of change
        for n, v in ns.items():
            old = before.get(n, _MISSING)
            if old is v:
                continue
            if only_out is not None:
                if n in only_out:
                    changed[n] = "rebound" if old is not _MISSING else "new"
            elif self.recordable(n, v) and n not in target_only:
                changed[n] = "rebound" if old is not _MISSING and self.recordable(n, old) else "new"
        for n, old in before.items():
            if n not in ns and (n in only_out if only_out is not None else self.recordable(n, old)):
                changed[n] = DELETED
        if names is not None:
            # A name the cell assigns is bound again even when to the very same object (``x = 1``
            # twice): it is an output; equal values from the same inputs are deduplicated below.
            for n in names.definite:
                if n in changed or n in target_only or n not in ns or (only_out is not None and n not in only_out):
                    continue
                if only_out is not None or self.recordable(n, ns[n]):
                    changed[n] = "rebound" if n in before else "new"
        # in-place changes, by fingerprint; a changed object is a new version of every name holding it
        changed_objs: set[int] = set()
        fps: dict[str, Any] = {}
        for n, (obj, fp) in run.watched.items():
            if ns.get(n, _MISSING) is obj and n not in changed:
                info = fingerprint_info(obj)
                fps[n] = info
                if info.hex != fp:
                    changed_objs.add(id(obj))
        entity_changes: dict[str, Any] = {}
        if changed_objs:
            for n, v in ns.items():
                if n in changed or (only_out is not None and n not in only_out):
                    continue
                if id(v) in changed_objs and self.recordable(n, v):
                    changed[n] = CHANGED_IN_PLACE
        for n in run.recorded_entities(ns):
            if n in changed or not self.recordable(n, ns[n]) or (only_out is not None and n not in only_out):
                continue
            entity_changes[n] = ns[n]
        return self._record_success(run, changed, fps, entity_changes)

    def _record_success(self, run: CellRun, changed: dict[str, str], fps: dict[str, Any], entities: dict[str, Entity]) -> CellResult:
        ns = self.ns
        xid = run.execution_id
        input_ids = tuple(dict.fromkeys([*(eid for _, eid in run.inputs), *run.entity_items]))
        records: list[VersionRecord] = []
        finish: list[Any] = []
        outputs: list[Output] = []
        out_ids: list[UUID] = []
        semantics: list[ExecutionSemantics] = []
        remember: list[tuple[str, VersionRecord | None, int]] = []
        entity_done: dict[int, UUID] = {}

        def add_entity(n: str, ent: Entity, kind: str) -> None:
            if id(ent) in entity_done:  # an alias of an entity recorded above
                outputs.append(Output(n, entity_done[id(ent)], kind))
                VARIABLE_INDEX.set(n, entity_done[id(ent)])
                return
            known = EntityRegistry.has(ent.ecs_id)
            try:
                pt = EntityRegistry.prepare(ent)
            except EcsError as exc:
                self._warn(f"ecs_notebook: {n} was not recorded: {exc}")
                return
            if not pt.changed:
                pt.finish()
                entity_done[id(ent)] = ent.ecs_id
                VARIABLE_INDEX.set(n, ent.ecs_id)
                if kind != "unchanged":
                    outputs.append(Output(n, ent.ecs_id, "unchanged"))
                return
            pt.patch_root(derived_from_function=run.name, derived_from_execution_id=xid, function_input_entities=input_ids)
            records.extend(pt.records)
            finish.append(pt)
            sem = _MUTATION if known else _CREATION
            out_ids.append(pt.root_id)
            semantics.append(sem)
            entity_done[id(ent)] = pt.root_id
            outputs.append(Output(n, pt.root_id, sem.value))
            VARIABLE_INDEX.set(n, pt.root_id)

        for n, kind in changed.items():
            value = ns.get(n, _MISSING)
            if isinstance(value, Entity):
                add_entity(n, value, kind)
                continue
            if value is _MISSING:
                st = self._state(n)
                if st is None:
                    continue  # a name the recorder never saw: nothing to end
                rec = self._variable_record(n, None, None, DELETED, run.name, xid, input_ids)
                records.append(rec)
                out_ids.append(rec.ecs_id)
                semantics.append(_MUTATION)
                outputs.append(Output(n, rec.ecs_id, "deleted"))
                remember.append((n, None, 0))
                continue
            info = fps.get(n) or fingerprint_info(value)
            st = self._state(n)
            if (
                st is not None
                and kind != CHANGED_IN_PLACE
                and st.fingerprint == info.hex
                and not info.by_identity
                and st.function == run.name
                and st.inputs == input_ids
            ):
                # The same cell made the same value from the same inputs (a re-run, e.g. after a
                # restart): it is that version; a new one would make everything downstream stale.
                st.obj_id = id(value)
                VARIABLE_INDEX.set(n, st.ecs_id)
                outputs.append(Output(n, st.ecs_id, "unchanged"))
                continue
            change = CHANGED_IN_PLACE if kind == CHANGED_IN_PLACE else BOUND
            rec = self._variable_record(n, value, info, change, run.name, xid, input_ids)
            records.append(rec)
            out_ids.append(rec.ecs_id)
            semantics.append(_MUTATION if st is not None else _CREATION)
            label = kind if kind in (CHANGED_IN_PLACE, "new") else ("new" if st is None else "rebound")
            outputs.append(Output(n, rec.ecs_id, label))
            remember.append((n, rec, id(value)))
        for n, ent in entities.items():
            add_entity(n, ent, "unchanged")
        duration = time.perf_counter() - run.t0
        xrec = self._execution_record(run, input_ids, out_ids, semantics, duration, None)
        records.append(xrec)
        roots = [r.ecs_id for r in records if r.root_ecs_id == r.ecs_id]
        EntityRegistry.add_records(records, roots=roots)
        for pt in finish:
            pt.finish()
        for n, made, oid in remember:
            if made is None:
                self.vars.pop(n, None)
                VARIABLE_INDEX.set(n, None)
            else:
                self._remember(n, made, oid)
        # changed inputs first (in input order), then what the cell bound (in the cell's order)
        read = {n: k for k, (n, _) in enumerate(run.inputs)}
        bound = {n: k for k, n in enumerate(run.names.assigns)} if run.names is not None else {}
        outputs.sort(key=lambda o: (o.change == "unchanged", o.name not in read, read.get(o.name, bound.get(o.name, len(bound)))))
        self._notify(xid, [])
        return CellResult(run.name, [n for n, _ in run.inputs], outputs, xid, True, duration)

    def _record_failure(self, run: CellRun, error: BaseException) -> UUID | None:
        input_ids = tuple(dict.fromkeys([*(eid for _, eid in run.inputs), *run.entity_items]))
        duration = time.perf_counter() - run.t0
        xrec = self._execution_record(run, input_ids, [], [], duration, error)
        EntityRegistry.add_records([xrec], roots=[xrec.ecs_id])
        self._notify(xrec.ecs_id, [])
        return xrec.ecs_id

    def _restore(self, run: CellRun) -> list[str]:
        """Give every variable the failed cell changed its pre-cell value; names of those that could not be."""
        ns, before = self.ns, run.before
        for n in [n for n in ns if n not in before and not _IPYTHON_NAME.match(n)]:
            del ns[n]
        for n, v in before.items():
            if _IPYTHON_NAME.match(n):
                continue
            if ns.get(n, _MISSING) is not v:
                ns[n] = v
        failed: list[str] = []
        done: set[int] = set()
        for n, (obj, fp) in run.watched.items():
            if id(obj) in done:
                continue
            done.add(id(obj))
            if fingerprint_info(obj).hex == fp:
                continue
            if not self._restore_object(run, obj):
                failed.append(n)
        for n in run.recorded_entities(ns):
            ent = ns[n]
            if id(ent) in done:
                continue
            done.add(id(ent))
            try:
                changed = EntityRegistry.prepare(ent, promote=False).changed
            except EcsError:
                changed = True
            if changed and not self._restore_object(run, ent):
                failed.append(n)
        if failed:
            self._warn(
                f"ecs_notebook: could not restore {', '.join(failed)} after the failed cell "
                "(changed in place; no copy or stored value to restore from)."
            )
        return failed

    def _restore_object(self, run: CellRun, obj: Any) -> bool:
        """Put the pre-cell state back into ``obj`` itself (its identity is kept); True if done."""
        undo = run.undo.get(id(obj))
        if undo is not None:
            try:
                return _restore_tree(obj, *undo)
            except Exception:
                return False
        # No undo copy (a large value): the recorded version, read back from the store, is put into it.
        eid = run.recorded.get(id(obj))
        if eid is None:
            return False
        try:
            rec = EntityRegistry.record(eid)
            stored = rec.plain_dict().get("value") if rec.cls is Variable else None
            if not isinstance(stored, StoredValue) or not stored.stored:
                return False
            source = stored.load()
        except Exception:
            return False
        try:
            return _restore_into(obj, source)
        except Exception:
            return False

    # -- staleness -----------------------------------------------------------------------------

    def variables(self) -> dict[str, UUID]:
        """Every recorded variable of this notebook (earlier sessions too) with its latest version; entity variables too."""
        out: dict[str, UUID] = {}
        for eid in EntityRegistry.ids_by_type(Variable):
            rec = EntityRegistry.record(eid)
            v = rec.plain_dict()
            if v["notebook"] == self.notebook and rec.lineage_id == variable_lineage_id(self.notebook, v["name"]):
                out[v["name"]] = rec.lineage_id
        latest = {}
        for name, lineage in out.items():
            last = EntityRegistry.record(EntityRegistry.latest(lineage))
            if last.plain_dict()["change"] != DELETED:
                latest[name] = last.ecs_id
        for name, value in self.ns.items():
            if isinstance(value, Entity) and self.recordable(name, value) and EntityRegistry.has(value.ecs_id):
                latest[name] = EntityRegistry.latest(value.lineage_id)
        return latest

    def stale_plan(self) -> StalePlan:
        """The stale variables and the cells that refresh them, in the order they last ran."""
        from ..lineage.queries import is_stale

        stale: list[StaleVariable] = []
        when: dict[str, Any] = {}
        for name, eid in sorted(self.variables().items()):
            if not is_stale(eid):
                continue
            rec = EntityRegistry.record(eid)
            cell = rec.derived_from_function
            if cell is not None and rec.derived_from_execution_id is not None:
                started = EntityRegistry.record(rec.derived_from_execution_id).plain_dict()["started_at"]
                if cell not in when or started > when[cell]:
                    when[cell] = started
            stale.append(StaleVariable(name, eid, cell))
        cells = []
        for name in sorted(when, key=lambda c: when[c]):
            source = self.cells[name][0] if name in self.cells else EntityRegistry.store.function_source(name)
            is_async = False
            if source is not None:
                try:
                    is_async = cell_names(source).is_async
                except (SyntaxError, ValueError):
                    is_async = False
            cells.append(RerunCell(name, source, is_async))
        return StalePlan(stale, cells)

    # -- records -------------------------------------------------------------------------------

    def _variable_record(
        self, name: str, value: Any, info: Any, change: str, function: str | None, xid: UUID | None, inputs: tuple[UUID, ...]
    ) -> VersionRecord:
        lineage = variable_lineage_id(self.notebook, name)
        st = self._state(name)
        eid = new_id()
        now = utcnow()
        if value is None and change == DELETED:
            stored, tname, fp = None, "", ""
        else:
            stored = self._store_value(name, value, info)
            tname, fp = stored.type_name, stored.fingerprint
        data = {"name": name, "notebook": self.notebook, "value": stored, "type_name": tname, "fingerprint": fp, "change": change}
        if st is not None:
            prev = EntityRegistry.record(st.ecs_id)
            previous, old_ids, created = prev.ecs_id, (*prev.old_ids, prev.ecs_id), prev.created_at
        else:
            previous, old_ids, created = None, (), now
        info_c = class_info(Variable)
        return new_record(
            ecs_id=eid,
            lineage_id=lineage,
            cls=Variable,
            plain=info_c.plain_getter(data),
            templates=None,
            slots=(),
            root_ecs_id=eid,
            previous_ecs_id=previous,
            old_ids=old_ids,
            created_at=created,
            forked_at=now if previous is not None else None,
            attribute_source=dict.fromkeys(info_c.data_fields),
            derived_from_function=function,
            derived_from_execution_id=xid,
            function_input_entities=inputs if xid is not None else (),
        )

    def _remember(self, name: str, rec: VersionRecord, obj_id: int) -> None:
        v = rec.plain_dict()
        self.vars[name] = VarState(rec.ecs_id, v["fingerprint"], obj_id, rec.derived_from_function, tuple(rec.function_input_entities))
        VARIABLE_INDEX.set(name, rec.ecs_id)

    def _store_value(self, name: str, value: Any, info: Any) -> StoredValue:
        """The value's handle, its parts written to the store's object area (each once, whatever refers to it)."""
        from ..core.values.codecs import encode_for, part_size

        t = type(value)
        tname = f"{t.__module__}.{t.__qualname__}" if t.__module__ != "builtins" else t.__name__
        summary = describe(value)
        if isinstance(value, (types.FunctionType, type)):  # code: recorded by its hash, described by its source
            kind = "class" if isinstance(value, type) else "function"  # (a class's own type is its metaclass)
            return StoredValue(kind, info.hex, _source_of(value) or summary, reason=CODE)
        # Values fingerprinted by identity may still have a codec (a matplotlib Figure: its PNG).
        estimate = _size_estimate(value)
        if estimate > self.max_value_bytes:
            return self._too_large(name, value, tname, info, summary, estimate)
        store = EntityRegistry.store
        try:
            # Parts the store holds already (the unchanged columns of a changed frame) are never built.
            enc, keys = encode_for(value, store.has_part)
        except Exception:  # NoCodecError, or a value whose state cannot be read as data
            enc, keys = None, []
        if enc is not None:
            new_bytes = sum(part_size(p) for p in enc.parts.values())
            if max(new_bytes, estimate) > self.max_value_bytes:
                return self._too_large(name, value, tname, info, summary, max(new_bytes, estimate))
            store.put_parts(enc.parts, touch=[k for k in keys if k not in enc.parts])
            return StoredValue(tname, info.hex, summary, enc.header, tuple(keys), max(new_bytes, estimate), info.by_identity)
        self._warn_once(
            name,
            tname,
            f"ecs_notebook: {name} ({t.__name__}) cannot be stored: it is kept in this kernel; "
            "after a restart only its type, repr and fingerprint remain.",
        )
        return StoredValue(tname, info.hex, summary, by_identity=info.by_identity, reason=NO_CODEC)

    def _too_large(self, name: str, value: Any, tname: str, info: Any, summary: str, nbytes: int) -> StoredValue:
        self._warn_once(
            name,
            tname,
            f"ecs_notebook: {name} ({type(value).__name__}, {nbytes / 2**20:,.0f} MiB) is over EcsNotebook.max_value_bytes: "
            "recorded by fingerprint, type, shape and a sample, not its value (get() of it raises ValueNotStoredError).",
        )
        return StoredValue(tname, info.hex, summary, nbytes=nbytes, reason=TOO_LARGE, sample=_sample(value))

    def _warn_once(self, name: str, tname: str, message: str) -> None:
        key = (name, tname)
        if key not in self._warned:
            self._warned.add(key)
            self._warn(message)

    def _execution_record(
        self,
        run: CellRun,
        inputs: tuple[UUID, ...],
        outputs: list[UUID],
        semantics: list[ExecutionSemantics],
        duration: float,
        error: BaseException | None,
    ) -> VersionRecord:
        data: dict[str, Any] = {
            "function_name": run.name,
            "code_version": run.code_version,
            "input_entity_id": None,
            "input_entity_ids": list(inputs),
            "output_entity_ids": outputs,
            "semantics": semantics,
            "started_at": run.started_at,
            "duration_s": duration,
            "succeeded": error is None,
            "error_type": type(error).__name__ if error is not None else None,
            "error_message": str(error)[:2000] if error is not None else None,
            "traceback": _cell_traceback(error) if error is not None else None,
            "was_unpacked": False,
            "cached": False,
            "cached_from": None,
            "cpu_time_s": None,
            "peak_memory_bytes": None,
            "may_still_be_running": False,
            "trace": None,
            "cache_key": None,
        }
        return record_from_data(FunctionExecution, data, run.execution_id, run.started_at)

    @staticmethod
    def _notify(xid: UUID, outputs: list[Entity]) -> None:
        from ..execution.callable_registry import CallableRegistry

        CallableRegistry.notify(xid, outputs)


_MISSING: Any = object()


def _codes_of(value: Any) -> list[types.CodeType]:
    """Code objects of a function (or a class's methods) defined in the notebook, nested ones included."""
    roots: list[types.CodeType] = []
    if isinstance(value, types.FunctionType) and value.__module__ == "__main__":
        roots.append(value.__code__)
    elif isinstance(value, type) and value.__module__ == "__main__":
        for member in vars(value).values():
            f = member.__func__ if isinstance(member, (staticmethod, classmethod)) else member
            if isinstance(f, types.FunctionType):
                roots.append(f.__code__)
    out = []
    while roots:
        c = roots.pop()
        out.append(c)
        roots.extend(k for k in c.co_consts if isinstance(k, types.CodeType))
    return out


def _entities_in(value: Any) -> list[Entity]:
    """The entities directly inside a list, tuple, set or dict (each is an input version of its own)."""
    if isinstance(value, dict):
        items: Iterable[Any] = value.values()
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = value
    else:
        return []
    return [v for v in items if isinstance(v, Entity)]


def _size_estimate(value: Any) -> int:
    nbytes = getattr(value, "nbytes", None)
    if isinstance(nbytes, int):
        return nbytes
    usage = getattr(value, "memory_usage", None)
    if callable(usage) and type(value).__module__.startswith("pandas"):
        try:
            return int(usage(index=True, deep=False).sum())
        except Exception:
            return 0
    try:
        size = sys.getsizeof(value)
    except Exception:
        return 0
    if isinstance(value, (list, tuple, dict, set)):
        size += 64 * len(value)
    return size


def _restore_tree(root: Any, copy_root: Any, memo: dict[int, Any]) -> bool:
    """Put every part of ``root`` back as it was when ``copy_root`` was copied from it, in place.

    ``memo`` is the deepcopy memo (id of each original part -> its copy, and the originals kept
    alive under ``id(memo)``): each original list, dict, set, array or object gets its old content
    back, made of the original parts, so aliases inside the value (``inner = d["a"]``) stay aliases.
    """
    originals = {id(o): o for o in memo.get(id(memo), ())}
    originals[id(root)] = root
    back: dict[int, Any] = {}
    pairs = []
    for oid, c in memo.items():
        o = originals.get(oid)
        if o is not None and oid != id(memo):
            back[id(c)] = o
            pairs.append((o, c))
    back[id(copy_root)] = root
    if not any(o is root for o, _ in pairs):
        pairs.append((root, copy_root))

    def orig(v: Any) -> Any:
        return back.get(id(v), v)

    ok = True
    for o, c in pairs:
        ok = _fill(o, c, orig) and ok
    return ok


def _fill(obj: Any, source: Any, orig: Callable[[Any], Any]) -> bool:
    """Give ``obj`` the content of ``source`` (its copy), mapping parts back to the originals."""
    if isinstance(obj, (str, bytes, int, float, complex, bool, tuple, frozenset, type(None), types.ModuleType, type)):
        return True  # immutable: nothing to restore
    if isinstance(obj, list):
        obj[:] = [orig(v) for v in source]
    elif isinstance(obj, dict):
        items = [(orig(k), orig(v)) for k, v in source.items()]
        obj.clear()
        obj.update(items)
    elif isinstance(obj, set):
        members = [orig(v) for v in source]
        obj.clear()
        obj.update(members)
    elif isinstance(obj, bytearray):
        obj[:] = source
    elif type(obj).__module__ == "numpy" and type(obj).__name__ == "ndarray":
        if obj.shape != source.shape:
            return False
        obj[...] = source
    elif isinstance(obj, Entity):
        keep = {k: obj.__dict__[k] for k in ("live_id", "root_live_id")}
        obj.__dict__.update({k: orig(v) for k, v in source.__dict__.items()})
        obj.__dict__.update(keep)
    elif type(obj) is type(source) and isinstance(getattr(obj, "__dict__", None), dict):
        state = {k: orig(v) for k, v in source.__dict__.items()}
        obj.__dict__.clear()
        obj.__dict__.update(state)
    else:
        return False
    return True


def _restore_into(obj: Any, source: Any) -> bool:
    """Make ``obj`` equal to ``source`` (a fresh value, e.g. read back from the store) in place."""
    return _fill(obj, source, _same_object)


def _same_object(v: Any) -> Any:
    return v


def describe(value: Any) -> str:
    """A short description of a value (type, shape), never its whole repr."""
    shape = getattr(value, "shape", None)
    tname = type(value).__name__
    if isinstance(shape, tuple):
        dtype = getattr(value, "dtype", None)
        return f"{tname} {'x'.join(map(str, shape))}" + (f" {dtype}" if dtype is not None and not hasattr(value, "columns") else "")
    if isinstance(value, (list, tuple, dict, set, frozenset)):
        return f"{tname} of {len(value)}"
    try:
        text = repr(value)
    except Exception:
        text = object.__repr__(value)
    return text if len(text) <= 80 else text[:77] + "…"


def _sample(value: Any) -> str:
    """A small head sample of a large value (its first rows or items), as text."""
    try:
        head = getattr(value, "head", None)
        if callable(head) and type(value).__module__.startswith("pandas"):
            return str(head(5))[:2000]
        if type(value).__module__ == "numpy" and hasattr(value, "ravel"):
            return repr(value.ravel()[:10])[:2000]
        if isinstance(value, (list, tuple)):
            return repr(value[:10])[:2000]
    except Exception:
        return ""
    return ""


def _source_of(value: Any) -> str | None:
    import inspect

    try:
        return inspect.getsource(value)[:4000]
    except (OSError, TypeError):
        return None


def _cell_traceback(error: BaseException) -> str:
    """The traceback from the cell's own frames on (no recorder or IPython frames)."""
    tb = error.__traceback__
    while tb is not None and not tb.tb_frame.f_code.co_filename.startswith(("<ipython-input", "/tmp/ipykernel", "<cell")):
        tb = tb.tb_next
    return "".join(tb_module.format_exception(type(error), error, tb if tb is not None else error.__traceback__))


def _default_warn(message: str) -> None:
    print(message, file=sys.stderr)
