"""EntityRegistry: immutable version records with structural sharing, change detection, lookups."""

from __future__ import annotations

import atexit
import gc
import weakref
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from uuid import UUID

from ._ids import new_id, short, utcnow
from ._state import stateful
from .entity import Entity, UntypedEntity
from .errors import EntityNotFoundError, RegistrationError, StoreError
from .records import VersionRecord, materialize

if TYPE_CHECKING:
    from ..store.base import Store
from .tree import EntityTree, Walk, build_entity_tree, walk
from .typeinfo import _CACHE as _INFO_CACHE
from .typeinfo import snapshot_plain, snapshot_source, snapshot_value, values_equal

_tuple_new = tuple.__new__
_RECORD_INDEX = {name: i for i, name in enumerate(VersionRecord._fields)}

#: Called with the new records of every recorded tree version, in recording order.
RecordListener = Callable[[list[VersionRecord]], None]


def as_uuid(value: Any, what: str = "ecs_id") -> UUID:
    """Return ``value`` as a UUID (accepts UUID or its string form)."""
    if isinstance(value, UUID):
        return value
    if isinstance(value, str):
        try:
            return UUID(value.strip().lstrip("@"))
        except ValueError:
            pass
    msg = f"Expected an {what} (UUID or its string), got {type(value).__name__}: {value!r:.80}"
    raise EntityNotFoundError(msg)


class EntityRegistryType:
    """Records entity versions and answers lookups. ``EntityRegistry`` is the process's instance.

    The registry keeps immutable ``VersionRecord``s, never live objects (a weak map finds the live
    root of a registered child, nothing more).
    """

    def __init__(self) -> None:
        # Internal maps are keyed by ``uuid.int``: UUID.__hash__/__eq__ run in Python and would
        # dominate the cost of walking large trees.
        self._records: dict[int, VersionRecord] = {}
        self._roots: set[int] = set()  # cache of root ids known to the store
        # root live_id -> live_ids of that live tree when last recorded
        self._live_index: dict[int, set[int]] = {}
        self._live_roots: weakref.WeakValueDictionary[int, Entity] = weakref.WeakValueDictionary()
        self._listeners: list[RecordListener] = []
        self._store_hooks: list[Callable[[], None]] = []
        self._store_: Store | None = None  # opened on first use (never at import)
        self._store_explicit = False  # set by connect(): an explicit choice beats every default

    # -- the store -------------------------------------------------------------------------

    @property
    def store(self) -> Store:
        """The lineage store this registry records into (its source of truth), opened on first use.

        The default comes from the store layer (``ecs_notebook.store`` sets the factory when it is
        imported, as ``import ecs_notebook`` does): the core never imports the store layer.
        """
        store = self._store_
        if store is None:
            if _DEFAULT_STORE is None:
                msg = "No lineage store: import ecs_notebook (or call ecs_notebook.connect(url)) first."
                raise RuntimeError(msg)
            store = _DEFAULT_STORE()
            self._adopt(store)
        return store

    @property
    def store_explicit(self) -> bool:
        """Whether the store was chosen explicitly (``connect``, ``%ecs_store``, ``%config``): it beats every default."""
        return self._store_explicit

    def use_store(self, store: Store, explicit: bool = False) -> None:
        """Record into ``store`` from now on; cached records of the previous store are dropped.

        ``explicit``: the user chose it (``connect``); defaults (the extension's SQLite file) then
        leave it alone.
        """
        old = self._store_
        self._adopt(store)
        self._store_explicit = explicit
        self._records.clear()
        self._roots.clear()
        self._live_index.clear()
        self._live_roots.clear()
        for hook in list(self._store_hooks):
            hook()
        if old is not None and old is not store:
            old.close()

    def _adopt(self, store: Store) -> None:
        self._store_ = store
        store.use_cache(self._records)  # the store reads cached records through this, never our attributes

    def _close_state(self) -> None:
        if self._store_ is not None:
            self._store_.close()

    # -- recording -------------------------------------------------------------------------

    def register_entity(self, entity: Entity) -> None:
        """Register ``entity`` and its tree as a root (same as ``entity.promote_to_root()``)."""
        self.promote_to_root(entity)

    def promote_to_root(self, entity: Entity) -> None:
        """Register ``entity`` (and its tree) as a root; a registered child is detached first."""
        _require_entity(entity, "promote_to_root")
        if self._is_registered_child(entity):
            self.detach(entity)
        elif entity.is_root_entity() and self._is_root(entity.ecs_id):
            self.version_entity(entity)
        else:
            self._commit(entity)

    def version_entity(self, root: Entity, force: bool = False) -> bool:
        """Record in-place edits of ``root``'s live tree as new versions.

        Changed entities and all their ancestors get new ecs_ids; untouched subtrees keep theirs
        and share their records with the previous version.

        Returns:
            True if a new version was recorded, False if nothing changed.

        Raises:
            EntityNotFoundError: ``root`` was never registered.
            RegistrationError: ``root`` is a child of another tree, or its tree is malformed.
        """
        _require_entity(root, "version_entity")
        if not self._is_registered_root(root):
            if self._is_registered_child(root):
                msg = (
                    f"{type(root).__name__} {short(root.ecs_id)} is a child in the tree of "
                    f"{short(root.root_ecs_id)}: version that tree's root, or detach() this entity first."
                )
                raise RegistrationError(msg)
            msg = f"{type(root).__name__} {short(root.ecs_id)} is not a registered root: call entity.promote_to_root() first."
            raise EntityNotFoundError(msg)
        return self._commit(root, force=force)

    def detach(self, entity: Entity) -> None:
        """Make a registered child the root of its own tree, as a new version of its lineage."""
        _require_entity(entity, "detach")
        if entity.is_root_entity():
            return
        if not self._is_registered_child(entity):
            self._commit(entity)
            return
        old_root_live = entity.root_live_id
        assert old_root_live is not None
        self._commit(entity, force_ids={id(entity)}, allow_from={old_root_live.int})
        index = self._live_index.get(old_root_live.int)
        if index is not None:
            index.difference_update(e.live_id.int for e in walk(entity).entities)

    def attach(self, entity: Entity, parent: Entity) -> None:
        """Record ``entity`` (placed in a field of ``parent`` beforehand) as a child of parent's tree."""
        _require_entity(entity, "attach")
        _require_entity(parent, "attach")
        root = self._live_root_of(parent)
        members = walk(root).entities
        if not any(e is entity for e in members):
            msg = (
                f"{type(entity).__name__} {short(entity.ecs_id)} is not inside "
                f"{type(parent).__name__} {short(parent.ecs_id)}: assign it to one of the parent's "
                "fields first, then call attach()."
            )
            raise RegistrationError(msg)
        allow = {entity.live_id.int}
        if entity.root_live_id is not None:
            allow.add(entity.root_live_id.int)
        self._commit(root, force_ids={id(entity)}, allow_from=allow)
        self._live_index.pop(entity.live_id.int, None)

    def _live_root_of(self, entity: Entity) -> Entity:
        rl = entity.root_live_id
        if rl is None or rl == entity.live_id:
            return entity
        root = self._live_roots.get(rl.int)
        if root is None:
            msg = f"The root of {type(entity).__name__} {short(entity.ecs_id)} is no longer alive; version it through its root object."
            raise RegistrationError(msg)
        return root

    def version_live_tree_of(self, entity: Entity) -> None:
        """Record pending edits of the live tree ``entity`` belongs to (registering it if new)."""
        rl = entity.root_live_id
        if rl is None or rl == entity.live_id:
            self._commit(entity)
        else:
            root = self._live_roots.get(rl.int)
            if root is not None and root.root_live_id == root.live_id:
                self._commit(root)
            else:
                # Its root object is gone: pending edits of this part become a version of its own.
                self._commit(entity, allow_from={rl.int}, promote=False)

    def _is_registered_child(self, entity: Entity) -> bool:
        rl = entity.root_live_id
        return rl is not None and rl != entity.live_id and entity.live_id.int in self._live_index.get(rl.int, ())

    def _commit(
        self,
        root: Entity,
        *,
        force: bool = False,
        force_ids: set[int] | None = None,
        allow_from: set[int] | None = None,
        promote: bool = True,
    ) -> bool:
        """Record the live tree of ``root`` against what is recorded; the one write path."""
        # Large trees allocate many small objects; the cyclic GC would rescan them repeatedly.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            return self.prepare(root, force=force, force_ids=force_ids, allow_from=allow_from, promote=promote).apply()
        finally:
            if gc_was_enabled:
                gc.enable()

    def prepare(
        self,
        root: Entity,
        *,
        force: bool = False,
        force_ids: set[int] | None = None,
        allow_from: set[int] | None = None,
        promote: bool = True,
    ) -> PendingTree:
        """Detect what changed in the live tree of ``root`` and build (not publish) its records.

        Args:
            force: record a new root version even if nothing changed.
            force_ids: ``id()`` of objects to treat as changed.
            allow_from: root live_ids whose members may appear in this tree.
            promote: an unchanged recorded entity that is not yet a tree root is recorded as a
                new root version (False: it stays as it is).
        """
        try:
            return self._prepare(root, force=force, force_ids=force_ids, allow_from=allow_from, promote=promote)
        except RecursionError:
            msg = (
                f"Cannot record {type(root).__name__} {short(root.ecs_id)}: a field holds a list, dict or tuple that "
                "contains itself (or is nested deeper than Python's recursion limit). Store a copy without the cycle."
            )
            raise RegistrationError(msg) from None

    def _prepare(
        self,
        root: Entity,
        *,
        force: bool = False,
        force_ids: set[int] | None = None,
        allow_from: set[int] | None = None,
        promote: bool = True,
    ) -> PendingTree:
        info0 = _INFO_CACHE.get(type(root))
        if info0 is not None and not info0.entity_fields:
            w = Walk.single(root, info0)  # a leaf: nothing to walk, no members to check
        else:
            w = walk(root)
            self._check_membership(w, allow_from)
        records, load = self._records, self._load
        ents, infos, templates_all, children = w.entities, w.infos, w.templates, w.children
        n = len(ents)
        dirty = [False] * n
        final: list[UUID] = [None] * n  # type: ignore[list-item]
        root_int = root.__dict__["ecs_id"].int
        root_rec = records.get(root_int) or load(root.__dict__["ecs_id"])
        root_id = new_id() if root_rec is not None else root.__dict__["ecs_id"]
        promote_recorded = promote and root_rec is not None and not self._is_root(root.__dict__["ecs_id"])
        now = utcnow()
        seen: set[int] = set()
        new_records: list[VersionRecord] = []
        for i in range(n - 1, -1, -1):
            e = ents[i]
            d = e.__dict__
            info = infos[i]
            plain = info.plain_getter(d) if info.plain_all_scalar else snapshot_plain(info, d)
            eid = d["ecs_id"]
            ei = eid.int
            duplicate = ei in seen  # a copy sharing a version id becomes its own version
            seen.add(ei)
            kids = children[i]
            kid_ids = tuple([final[k] for k in kids]) if kids else ()
            rec = None if duplicate else (root_rec if i == 0 else (records.get(ei) or load(eid)))
            if rec is None or rec.cls is not type(e) or (force_ids is not None and id(e) in force_ids):
                changed = True
            else:
                try:
                    changed = not (plain == rec.plain)
                except (ValueError, TypeError):
                    changed = not values_equal(plain, rec.plain)
                changed = (
                    changed
                    or (i == 0 and (force or promote_recorded))
                    or d["attribute_source"] != rec.attribute_source
                    or kid_ids != rec.slots  # differs too when a child got a new version
                    or templates_all[i] != rec.templates
                )
            if not changed:
                final[i] = eid
                continue
            dirty[i] = True
            versioned = rec is not None or duplicate
            nid = final[i] = root_id if i == 0 else (new_id() if versioned else eid)
            templates = templates_all[i]
            base = delta = None
            if versioned:
                old_ids: tuple[UUID, ...] = (*d["old_ids"], eid)
                previous = eid
                forked = now
                if rec is not None:
                    if plain == rec.plain:
                        plain = rec.plain  # structural sharing of unchanged data
                    if templates == rec.templates:
                        templates = rec.templates
                    if len(rec.slots) == len(kid_ids) > 8:
                        changes = {p: x for p, (x, o) in enumerate(zip(kid_ids, rec.slots)) if x is not o and x != o}
                        if len(changes) * 4 < len(kid_ids):
                            base, delta = rec.ecs_id, changes
            else:
                old_ids = tuple(d["old_ids"])
                previous = d["previous_ecs_id"]
                forked = d["forked_at"]
            # The one record built by position (field order of VersionRecord; new_record() everywhere
            # else): binding 20 keyword arguments costs ~0.8 µs, +27% on promote_to_root of 10,000
            # children (benchmarks/bench_core.py). tests/test_registry.py checks it against new_record().
            new_records.append(
                _tuple_new(
                    VersionRecord,
                    (
                        nid,
                        d["lineage_id"],
                        type(e),
                        plain,
                        templates,
                        kid_ids,
                        root_id,
                        previous,
                        old_ids,
                        d["created_at"],
                        forked,
                        snapshot_source(type(e), d["attribute_source"]),
                        d["derived_from_function"],
                        d["derived_from_execution_id"],
                        tuple(d["function_input_entities"]),
                        tuple(d["sibling_output_entities"]),
                        d["output_index"],
                        base,
                        delta,
                        False,
                    ),
                )
            )
        new_records.reverse()  # parents first
        return PendingTree(self, root, w, new_records, final, dirty, now)

    def _check_membership(self, w: Walk, allow_from: set[int] | None) -> None:
        root_live = w.entities[0].live_id
        index = self._live_index
        for e in w.entities[1:]:
            d = e.__dict__
            rl = d["root_live_id"]
            if rl is None or rl is root_live:
                continue
            rl_int = rl.int
            if rl_int == root_live.int or (allow_from and rl_int in allow_from):
                continue
            other = index.get(rl_int)
            live = d["live_id"].int
            if other is not None and live in other and rl_int != live:
                msg = (
                    f"{type(e).__name__} {short(e.ecs_id)} already belongs to the tree of "
                    f"{short(e.root_ecs_id)}; an entity has one parent. Put a copy here "
                    "(entity.model_copy(deep=True)), or call entity.detach() first."
                )
                raise RegistrationError(msg)

    def _set_root_fields(self, w: Walk, root: Entity) -> None:
        root_id = root.__dict__["ecs_id"]
        live = root.__dict__["live_id"]
        if len(w.entities) == 1:  # no children: nothing can be a member of another tree
            root.__dict__["root_ecs_id"] = root_id
            root.__dict__["root_live_id"] = live
            return
        members: set[int] = set()
        add = members.add
        for e in w.entities:
            d = e.__dict__
            d["root_ecs_id"] = root_id
            old_root = d["root_live_id"]
            if old_root is not live:
                if old_root is not None and old_root is d["live_id"]:
                    self._live_index.pop(old_root.int, None)  # a former root now sits in this tree
                d["root_live_id"] = live
            add(d["live_id"].int)
        self._live_index[live.int] = members
        self._live_roots[live.int] = root

    def _publish(self, new_records: list[VersionRecord], root_id: UUID) -> None:
        self.add_records(new_records, (root_id,))

    def add_records(self, new_records: list[VersionRecord], roots: Iterable[UUID] = ()) -> None:
        """Record ``new_records`` (one store transaction); each id in ``roots`` starts a tree version.

        The store is written first: if it fails (StoreError), nothing is cached either.
        """
        roots = list(roots)
        try:
            self.store.write(new_records, roots)
        except StoreError as exc:  # a lost batch (PostgreSQL): forget what the store no longer holds
            self.forget(getattr(exc, "lost_ids", ()))
            raise
        records = self._records
        for rec in new_records:
            records[rec.ecs_id.int] = rec
        self._roots.update(r.int for r in roots)
        for listener in self._listeners:
            listener(new_records)

    def forget(self, ecs_ids: Iterable[UUID]) -> None:
        """Drop cached records the store lost (a batch whose commit failed): the cache never runs ahead of the store.

        Live trees whose current version is among them count as unregistered again (the next call
        records them anew), and views fed by registry events are rebuilt from the store.
        """
        gone = {i.int for i in ecs_ids}
        if not gone:
            return
        for k in gone:
            self._records.pop(k, None)
            self._roots.discard(k)
        for live, root in list(self._live_roots.items()):
            if root.ecs_id.int in gone:
                self._live_index.pop(live, None)
                self._live_roots.pop(live, None)
        for hook in list(self._store_hooks):
            hook()

    def on_store_change(self, hook: Callable[[], None]) -> Callable[[], None]:
        """Call ``hook()`` whenever the registry switches to another store; returns a function that unsubscribes."""
        self._store_hooks.append(hook)
        return lambda: self._store_hooks.remove(hook) if hook in self._store_hooks else None

    def subscribe(self, listener: RecordListener) -> Callable[[], None]:
        """Call ``listener(records)`` for every batch of new records; returns an unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    # -- lookups ---------------------------------------------------------------------------

    def _load(self, ecs_id: UUID) -> VersionRecord | None:
        if not self.store.persistent:
            return None
        rec = self.store.load(ecs_id)
        if rec is not None:
            self._records[ecs_id.int] = rec
            if self.store.is_root(ecs_id):
                self._roots.add(ecs_id.int)
        return rec

    def _retype(self, rec: VersionRecord) -> VersionRecord:
        """A record reloaded without its class: reload it once the class is defined again."""
        from .classes import resolve_entity_class

        path = rec.plain[0]
        if resolve_entity_class(path) is None or not self.store.persistent:
            return rec
        fresh = self.store.load(rec.ecs_id)
        if fresh is None:
            return rec
        self._records[rec.ecs_id.int] = fresh
        return fresh

    def record(self, ecs_id: UUID | str) -> VersionRecord:
        """Return the immutable record of a version (no copy)."""
        eid = as_uuid(ecs_id)
        rec = self._records.get(eid.int) or self._load(eid)
        if rec is not None and rec.cls is UntypedEntity:
            rec = self._retype(rec)
        if rec is None:
            msg = f"No recorded entity version {eid}. Check the id, or that the right store is connected."
            raise EntityNotFoundError(msg)
        return rec

    def has(self, ecs_id: UUID | str) -> bool:
        """Return True if a version with this ecs_id is recorded."""
        try:
            self.record(ecs_id)
        except EntityNotFoundError:
            return False
        return True

    def get(self, ecs_id: UUID | str) -> Entity:
        """Return a copy (fresh live_ids) of a recorded version and its subtree."""
        rec = self.record(ecs_id)
        return materialize(rec, self.record, as_root=self._is_root(rec.ecs_id))

    def get_stored_entity(self, root_ecs_id: UUID | str, ecs_id: UUID | str) -> Entity:
        """Return a copy of version ``ecs_id`` as recorded in the tree version ``root_ecs_id``."""
        root = self.record(root_ecs_id)
        eid = as_uuid(ecs_id)
        if eid == root.ecs_id:
            return materialize(root, self.record, root.ecs_id, as_root=True)
        for rec in self._tree_records(root):
            if eid in rec.slots:
                return materialize(self.record(eid), self.record, root.ecs_id)
        msg = f"Entity version {eid} is not part of the tree version {root.ecs_id}."
        raise EntityNotFoundError(msg)

    def get_stored_tree(self, root_ecs_id: UUID | str) -> EntityTree:
        """Return the EntityTree of a copy of the recorded tree version ``root_ecs_id``."""
        root = self.record(root_ecs_id)
        return build_entity_tree(materialize(root, self.record, root.ecs_id, as_root=True))

    def _tree_records(self, root: VersionRecord) -> list[VersionRecord]:
        out = [root]
        i = 0
        while i < len(out):
            out.extend(self.record(c) for c in out[i].slots)
            i += 1
        return out

    def history(self, lineage_id: UUID | str) -> list[UUID]:
        """Return the ecs_ids of a lineage's versions, oldest first."""
        lid = as_uuid(lineage_id, "lineage_id")
        versions = self.store.lineage_versions(lid)
        if not versions:
            msg = f"No recorded lineage {lid}."
            raise EntityNotFoundError(msg)
        return versions

    def latest(self, lineage_id: UUID | str) -> UUID:
        """Return the ecs_id of the newest recorded version of a lineage."""
        return self.history(lineage_id)[-1]

    def lineage_of(self, ecs_id: UUID | str) -> UUID:
        """Return the lineage_id of a recorded version."""
        return self.record(ecs_id).lineage_id

    def lineages(self) -> list[UUID]:
        """Return every recorded lineage_id."""
        return self.store.lineages()

    def ids_by_type(self, cls: type[Entity] | str) -> list[UUID]:
        """Return the ecs_ids recorded for an entity class (or its ``module:qualname``)."""
        path = cls if isinstance(cls, str) else cls.__ecs_type__
        return self.store.ids_by_type(path)

    def is_root_version(self, ecs_id: UUID | str) -> bool:
        """Return True if ``ecs_id`` is the root of a recorded tree version."""
        return self._is_root(as_uuid(ecs_id))

    def _is_registered_root(self, root: Entity) -> bool:
        """A live root whose tree was recorded (its current id may be a new, unrecorded one)."""
        if not root.is_root_entity():
            return False
        if self._is_root(root.ecs_id) or root.live_id.int in self._live_index:
            return True
        previous = root.previous_ecs_id
        return previous is not None and self._is_root(previous)

    def _is_root(self, ecs_id: UUID) -> bool:
        return ecs_id.int in self._roots or (self.store.persistent and self.store.is_root(ecs_id))

    def __len__(self) -> int:
        """Number of recorded versions (in the store, earlier sessions included)."""
        return self.store.counts()["versions"] if self.store.persistent else len(self._records)

    def __contains__(self, ecs_id: object) -> bool:
        return isinstance(ecs_id, (UUID, str)) and self.has(ecs_id)

    def __repr__(self) -> str:
        return f"<EntityRegistry: {self.store.describe()}>"


class PendingTree:
    """Records prepared for one live tree, published (and the live objects updated) by ``apply``."""

    __slots__ = ("dirty", "final", "now", "records", "registry", "root", "walk")

    def __init__(
        self,
        registry: EntityRegistryType,
        root: Entity,
        w: Walk,
        records: list[VersionRecord],
        final: list[UUID],
        dirty: list[bool],
        now: Any,
    ) -> None:
        self.registry, self.root, self.walk = registry, root, w
        self.records, self.final, self.dirty, self.now = records, final, dirty, now

    @property
    def changed(self) -> bool:
        return bool(self.records)

    @property
    def root_id(self) -> UUID:
        """The ecs_id the root has once applied."""
        return self.final[0]

    def patch_root(self, **fields: Any) -> None:
        """Set provenance fields on the root's new record (and, at apply, on the live root)."""
        values = list(self.records[0])
        for name, value in fields.items():
            values[_RECORD_INDEX[name]] = value
        self.records[0] = _tuple_new(VersionRecord, values)  # _replace() checks names; these are known

    def apply(self) -> bool:
        """Publish the records and give the live objects their new ids; True if anything changed."""
        if self.records:
            self.registry._publish(self.records, self.final[0])
        return self.finish()

    def finish(self) -> bool:
        """Give the live objects their new ids, once the records are published (by apply or a batch)."""
        reg, w = self.registry, self.walk
        if not self.records:
            reg._set_root_fields(w, self.root)
            return False
        ents, final, now = w.entities, self.final, self.now
        for i, is_dirty in enumerate(self.dirty):
            if is_dirty:
                d = ents[i].__dict__
                if final[i] is not d["ecs_id"]:
                    d["old_ids"].append(d["ecs_id"])
                    d["previous_ecs_id"] = d["ecs_id"]
                    d["ecs_id"] = final[i]
                    d["forked_at"] = now
        root_rec = self.records[0]
        rd = self.root.__dict__
        for name in _PATCHABLE:
            value = getattr(root_rec, name)
            rd[name] = list(value) if type(value) is tuple else value
        rd["attribute_source"] = snapshot_value(root_rec.attribute_source)
        reg._set_root_fields(w, self.root)
        return True


_PATCHABLE = (
    "derived_from_function",
    "derived_from_execution_id",
    "function_input_entities",
    "sibling_output_entities",
    "output_index",
)


def _require_entity(obj: Any, call: str) -> None:
    if not isinstance(obj, Entity):
        msg = f"{call}() needs an Entity, got {type(obj).__name__}: {obj!r:.80}"
        raise RegistrationError(msg)


#: Opens the default store (set by the store layer when it is imported).
_DEFAULT_STORE: Callable[[], Store] | None = None


def set_default_store(factory: Callable[[], Store]) -> None:
    """Called by ``ecs_notebook.store``: how the registry opens its default store on first use."""
    global _DEFAULT_STORE
    _DEFAULT_STORE = factory


EntityRegistry: EntityRegistryType = stateful(EntityRegistryType())


def _close_store_at_exit() -> None:
    """When the interpreter exits (a kernel shutting down, the CLI ending), close the current store.

    Closing checkpoints an SQLite store, so the .db file is complete on its own afterwards.
    """
    store = EntityRegistry.__dict__.get("_store_")  # never opens a store just to close it
    if store is not None:
        store.close()


atexit.register(_close_store_at_exit)
