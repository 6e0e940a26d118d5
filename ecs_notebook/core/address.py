"""Addresses (``@uuid.field.0.key``): parsing, resolution against recorded versions, get/put."""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from ._ids import short
from .entity import Entity, UntypedEntity
from .errors import AddressError, EntityNotFoundError, InputValidationError
from .records import VersionRecord, materialize
from .registry import EntityRegistry
from .tree import SLOT, FrozenSetTemplate, SetTemplate, fill_template
from .typeinfo import class_info, snapshot_value
from .variable import StoredValue

_UUID_RE = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_ADDRESS = re.compile(rf"@({_UUID_RE})((?:\.[^.\s]+)*)")
# What get/put/queries accept: the id may also be a unique prefix, as ids are shown (@3cf40b27).
_SHORT_ADDRESS = re.compile(r"@([0-9a-fA-F-]+)((?:\.[^.\s]+)*)")
MIN_PREFIX = 4  # hex digits: fewer would match too much of a real store to be worth typing
_DASHES = (8, 12, 16, 20)  # positions (in hex digits) after which the canonical form has a dash


def is_address(value: Any) -> bool:
    """Return True if ``value`` is a well-formed address string with a full ecs_id.

    A short id (``@3cf40b27``) is not an address here: a plain string argument such as "@cafe"
    must stay a string. ``get``, ``put`` and the queries accept short ids all the same.

    >>> is_address("@3f2a1c00-0000-4000-8000-0000000000e1.courses.0")
    True
    >>> is_address("3f2a1c00")
    False
    """
    return isinstance(value, str) and _ADDRESS.fullmatch(value.strip()) is not None


def parse_address(address: str) -> tuple[UUID, list[str]]:
    """Split an address into its ecs_id and path segments; AddressError if malformed."""
    if not isinstance(address, str):
        msg = f"An address is a string like '@<uuid>.field', got {type(address).__name__}: {address!r:.80}"
        raise AddressError(msg)
    m = _ADDRESS.fullmatch(address.strip()) or _SHORT_ADDRESS.fullmatch(address.strip())
    if m is None or _id_digits(m.group(1)) is None:
        msg = _malformed(address)
        raise AddressError(msg)
    path = m.group(2)
    return resolve_ecs_id(m.group(1)), path[1:].split(".") if path else []


def full_address(address: str) -> str:
    """``address`` with its id written out whole: ``@3cf4.name`` → ``@3cf40b27-….name``.

    For callers that pass addresses on to code that only takes full ones (``is_address``).
    Raises as ``parse_address`` does.
    """
    eid, segs = parse_address(address)
    return ".".join([f"@{eid}", *segs])


def _id_digits(text: str) -> str | None:
    """The lowercase hex digits of a full ecs_id or of a prefix of one (≥ MIN_PREFIX), else None.

    Dashes are optional but, when given, must sit where the canonical form has them.
    """
    digits = text.replace("-", "").lower()
    if not MIN_PREFIX <= len(digits) <= 32 or digits.strip("0123456789abcdef"):
        return None
    if "-" in text:
        dashed = "-".join(digits[a:b] for a, b in zip((0, *_DASHES), (*_DASHES, 32)) if digits[a:b])
        if text.lower() != dashed:
            return None
    return digits


def is_id_text(text: str) -> bool:
    """Whether ``text`` looks like an ecs_id or a prefix of one (≥ 4 hex digits), ``@`` optional.

    >>> is_id_text("@3cf40b27"), is_id_text("3cf4"), is_id_text("ada"), is_id_text("3cf")
    (True, True, False, False)
    """
    return isinstance(text, str) and _id_digits(text.strip().removeprefix("@")) is not None


def resolve_ecs_id(text: str | UUID) -> UUID:
    """The ecs_id that ``text`` names: a full UUID, or a unique prefix of a recorded one.

    ``text`` may start with ``@``; a prefix has at least 4 hex digits and is looked up in the
    store (versions and executions), as ids are shown: ``@3cf40b27`` or ``3cf4``. A full UUID is
    returned as is (whether it is recorded is checked where it is used).

    Raises:
        AddressError: ``text`` is not an id or a prefix of one, or the prefix matches several ids
            (the message lists them).
        EntityNotFoundError: no recorded id starts with the prefix.
    """
    if isinstance(text, UUID):
        return text
    if not isinstance(text, str):
        msg = f"An ecs_id is a UUID or its string (or a prefix of at least {MIN_PREFIX} hex digits), got {type(text).__name__}"
        raise AddressError(msg)
    head = text.strip().removeprefix("@")
    digits = _id_digits(head)
    if digits is None:
        msg = f"{text.strip()[:60]!r} is not an ecs_id: give the full id or its first {MIN_PREFIX}+ hex digits, e.g. @3cf40b27."
        raise AddressError(msg)
    if len(digits) == 32:
        return UUID(digits)
    store = EntityRegistry.store
    matches = store.ids_with_prefix(digits, limit=6)
    if not matches:
        msg = (
            f"No recorded version or execution has an id starting with {head}. "
            f"Check the id, or that the right store is connected ({store.url})."
        )
        raise EntityNotFoundError(msg)
    if len(matches) > 1:
        shown = ", ".join(f"@{m}" for m in matches[:5])
        more = " and more" if len(matches) > 5 else ""
        msg = f"Id prefix {head} is ambiguous: it matches {shown}{more}. Give more digits."
        raise AddressError(msg)
    return matches[0]


def _malformed(address: str) -> str:
    s = address.strip()
    if not s.startswith("@"):
        return f"Malformed address {address!r}: it must start with '@' followed by an entity's ecs_id."
    head = s[1:].split(".", 1)[0]
    if _id_digits(head) is None:
        return (
            f"Malformed address {address!r}: {head!r} is not an ecs_id (expected @xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, "
            f"or a unique prefix of at least {MIN_PREFIX} hex digits such as @3cf40b27)."
        )
    return f"Malformed address {address!r}: empty path segment (two dots in a row, or a trailing dot)."


_RECORD, _TEMPLATE, _VALUE = 0, 1, 2


class _Cursor:
    """Where resolution stands: on a record, inside one of its field templates, or in a plain value.

    ``rec`` is always the last entity version passed (the owner of what the cursor points at).
    """

    __slots__ = ("fresh", "kind", "offset", "rec", "template", "value")

    def __init__(self, rec: VersionRecord) -> None:
        self.fresh = False  # value was just decoded from the store: nobody else holds it
        self.kind = _RECORD
        self.rec = rec
        self.template: Any = None
        self.offset = 0
        self.value: Any = None

    def enter(self, rec: VersionRecord) -> None:
        self.kind, self.rec, self.template, self.offset = _RECORD, rec, None, 0


_CONTAINERS = (list, tuple, dict, SetTemplate, FrozenSetTemplate)


def _count_slot(items: Any) -> int:
    """How many items are SLOT: ``list.count`` (C, identity first) unless an item's == gives no bool (a DataFrame)."""
    try:
        return int(items.count(SLOT)) if type(items) is list else sum(1 for v in items if v is SLOT)
    except (ValueError, TypeError):  # an array or frame compared with SLOT: count by identity alone
        return sum(1 for v in items if v is SLOT)


def _count_slots(t: Any) -> int:
    """Number of child entities a template holds."""
    if t is SLOT:
        return 1
    tt = type(t)
    if tt is dict:
        return sum(_count_slots(v) for v in t.values())
    if tt in _CONTAINERS:
        n = _count_slot(t)
        return n + sum(_count_slots(v) for v in t if type(v) in _CONTAINERS)
    return 0


def _is_index(seg: str) -> bool:
    """ASCII digits only (``str.isdigit`` also accepts '²' and other scripts' digits)."""
    return seg.isascii() and seg.isdigit()


def _is_int(seg: str) -> bool:
    return _is_index(seg[1:] if seg.startswith("-") else seg)


def _step_container(container: Any, seg: str, address: str, done: str) -> tuple[Any, Any]:
    """Return (item, position) of ``seg`` inside a list/tuple/dict; AddressError naming the segment."""
    if type(container) is dict:
        if seg in container:
            return container[seg], seg
        if _is_int(seg) and int(seg) in container:
            return container[int(seg)], int(seg)
        keys = ", ".join(map(repr, list(container)[:10]))
        msg = f"No key {seg!r} at {done} (keys: {keys}). Address: {address}"
        raise AddressError(msg)
    if type(container) in (SetTemplate, FrozenSetTemplate) or isinstance(container, (set, frozenset)):
        msg = f"Segment {seg!r}: {done} is a set, which has no order to index. Address: {address}"
        raise AddressError(msg)
    if isinstance(container, (list, tuple)):
        if not _is_index(seg):
            msg = f"Segment {seg!r} at {done} must be a list index (digits 0-9). Address: {address}"
            raise AddressError(msg)
        i = int(seg)
        if i >= len(container):
            msg = f"Index {i} out of range at {done} (length {len(container)}). Address: {address}"
            raise AddressError(msg)
        return container[i], i
    if isinstance(container, Entity):  # a plain value holding an entity (not tracked as a child)
        if seg in type(container).model_fields:
            return getattr(container, seg), seg
    msg = f"Cannot navigate into {type(container).__name__} at {done} with segment {seg!r}. Address: {address}"
    raise AddressError(msg)


def _slots_before(t: Any, pos: Any) -> int:
    if type(t) is dict:
        before = []
        for k, v in t.items():
            if k == pos:
                break
            before.append(v)
    else:
        before = t[:pos]
    n = _count_slot(before)
    if n != len(before):
        n += sum(_count_slots(v) for v in before if type(v) in _CONTAINERS)
    return n


def _enter_field(cur: _Cursor, seg: str, address: str, done: str) -> None:
    rec = cur.rec
    info = class_info(rec.cls)
    if seg in info.entity_fields:
        k = info.entity_fields.index(seg)
        templates = rec.templates or ()
        offset = sum(_count_slots(t) for t in templates[:k])
        t = templates[k]
        if t is SLOT:
            cur.enter(EntityRegistry.record(rec.slots[offset]))
        else:
            cur.kind, cur.template, cur.offset = _TEMPLATE, t, offset
        return
    if seg in info.plain_fields:
        value = rec.plain[info.plain_fields.index(seg)]
        if isinstance(value, StoredValue):  # a notebook variable's recorded value: read it now
            value, cur.fresh = value.load(), True
        cur.kind, cur.value = _VALUE, value
        return
    if rec.cls is UntypedEntity and rec.templates:
        # An entity reloaded without its class: its fields are the keys of untyped_data.
        data = rec.templates[0]
        if seg in data:
            skipped = _slots_before(data, seg)
            item = data[seg]
            if item is SLOT:
                cur.enter(EntityRegistry.record(rec.slots[skipped]))
            elif type(item) in _CONTAINERS:
                cur.kind, cur.template, cur.offset = _TEMPLATE, item, skipped
            else:
                cur.kind, cur.value = _VALUE, item
            return
        fields = ", ".join(map(str, data))
        msg = f"{rec.plain[0]} {short(rec.ecs_id)} (reloaded without its class) has no field {seg!r} (fields: {fields}). Address: {address}"
        raise AddressError(msg)
    fields = ", ".join(info.data_fields)
    msg = f"{rec.cls.__name__} {short(rec.ecs_id)} has no field {seg!r} (fields: {fields}). Address: {address}"
    raise AddressError(msg)


def _resolve(address: str) -> _Cursor:
    eid, segs = parse_address(address)
    cur = _Cursor(EntityRegistry.record(eid))
    done = f"@{short(eid)}"
    for seg in segs:
        if cur.kind == _RECORD:
            _enter_field(cur, seg, address, done)
        elif cur.kind == _TEMPLATE:
            item, pos = _step_container(cur.template, seg, address, done)
            skipped = _slots_before(cur.template, pos)
            if item is SLOT:
                cur.enter(EntityRegistry.record(cur.rec.slots[cur.offset + skipped]))
            else:
                cur.template = item
                cur.offset += skipped
                if type(item) not in _CONTAINERS:
                    cur.kind, cur.value = _VALUE, item
        else:
            cur.value, _ = _step_container(cur.value, seg, address, done)
        done = f"{done}.{seg}"
    return cur


def resolve_with_source(address: str) -> tuple[Any, UUID]:
    """Return (a copy of the addressed value, ecs_id of the entity version holding it)."""
    cur = _resolve(address)
    rec = cur.rec
    if cur.kind == _RECORD:
        return materialize(rec, EntityRegistry.record), rec.ecs_id
    if cur.kind == _TEMPLATE:
        n = _count_slots(cur.template)
        kids = [materialize(EntityRegistry.record(c), EntityRegistry.record) for c in rec.slots[cur.offset : cur.offset + n]]
        return fill_template(cur.template, iter(kids)), rec.ecs_id
    return (cur.value if cur.fresh else snapshot_value(cur.value)), rec.ecs_id


def resolve_input(address: str) -> tuple[VersionRecord | None, Any, UUID]:
    """Resolve an address for a function argument without copying anything.

    Returns (record, None, ecs_id) when it names an entity version, else (None, value, owner ecs_id)
    where ``value`` is a copy of the plain value.
    """
    cur = _resolve(address)
    if cur.kind == _RECORD:
        return cur.rec, None, cur.rec.ecs_id
    value, owner = resolve_with_source(address) if cur.kind == _TEMPLATE else (snapshot_value(cur.value), cur.rec.ecs_id)
    return None, value, owner


def get(address: str) -> Any:
    """Return the value an address names (entity values as copies with fresh live_ids).

    A notebook variable's version holds its value in ``value`` (read from the store when asked for).

    Raises:
        AddressError: malformed address, or a field/index/key that does not resolve.
        EntityNotFoundError: the ecs_id is not recorded.
        ValueNotStoredError: the addressed version's value was not kept (over ``max_value_bytes``, or gc).

    Examples:
        >>> from ecs_notebook import Entity, get
        >>> class Sample(Entity):
        ...     name: str
        ...     values: list[float] = []
        >>> s = Sample(name="a", values=[1.5, 2.0])
        >>> s.promote_to_root()
        >>> get(f"@{s.ecs_id}.values.1")
        2.0
        >>> get(f"@{s.ecs_id}").name
        'a'
    """
    return resolve_with_source(address)[0]


def put(address: str, value: Any) -> UUID:
    """Record a new version of the addressed entity's lineage with ``value`` set at the path.

    The new version is the lineage's latest recorded version with that one value changed; live
    objects of the lineage are not touched. Returns the new ecs_id.
    """
    eid, segs = parse_address(address)
    if not segs:
        msg = f"put() needs a field path after the id (e.g. {address}.name); got the bare entity {address}."
        raise AddressError(msg)
    _resolve(address)  # validate the path against the named version first
    target = EntityRegistry.record(eid)
    latest = EntityRegistry.record(EntityRegistry.latest(target.lineage_id))
    obj = materialize(latest, EntityRegistry.record, latest.ecs_id, as_root=True)
    holder: Any = obj
    for i, seg in enumerate(segs[:-1]):
        holder = _live_step(holder, seg, address, segs[: i + 1])
    _live_set(holder, segs[-1], value, address)
    EntityRegistry._commit(obj)
    EntityRegistry._live_index.pop(obj.live_id.int, None)
    return obj.ecs_id


def _live_step(holder: Any, seg: str, address: str, path: list[str]) -> Any:
    if isinstance(holder, Entity):
        if seg in type(holder).model_fields:
            return getattr(holder, seg)
        if isinstance(holder, UntypedEntity) and seg in holder.untyped_data:
            return holder.untyped_data[seg]
    item, _ = _step_container(holder, seg, address, ".".join(path[:-1]) or "root")
    return item


def _live_set(holder: Any, seg: str, value: Any, address: str) -> None:
    if isinstance(holder, Entity):
        cls = type(holder)
        if seg in cls.model_fields:
            try:
                cls.__pydantic_validator__.validate_assignment(holder, seg, value)
            except ValidationError as exc:
                msg = f"put({address!r}): {value!r:.60} is not valid for {cls.__name__}.{seg}: {exc.errors()[0]['msg']}"
                raise InputValidationError(msg) from exc
            holder.__dict__["attribute_source"][seg] = None
            return
        if isinstance(holder, UntypedEntity) and seg in holder.untyped_data:
            holder.untyped_data[seg] = value
            return
        msg = f"{cls.__name__} has no field {seg!r}. Address: {address}"
        raise AddressError(msg)
    if isinstance(holder, tuple):
        msg = f"Cannot set {seg!r} inside a tuple (tuples are immutable). Address: {address}"
        raise AddressError(msg)
    if isinstance(holder, list):
        _step_container(holder, seg, address, "the list")
        holder[int(seg)] = value
    elif isinstance(holder, dict):
        key: Any = seg if seg in holder or not _is_int(seg) else int(seg)
        holder[key] = value
    else:
        msg = f"Cannot set {seg!r} inside {type(holder).__name__}. Address: {address}"
        raise AddressError(msg)


def create_composite_entity(cls: type[Entity], mapping: dict[str, Any], register: bool = True) -> Entity:
    """Build a ``cls`` entity from literal values, entities and addresses.

    Borrowed fields (an address, an entity, or containers of them) get ``attribute_source`` set to
    the version they came from; literal values get None.
    """
    values: dict[str, Any] = {}
    sources: dict[str, Any] = {}
    for field, raw in mapping.items():
        values[field], sources[field] = _borrow(raw)
    try:
        obj = cls(**values)
    except ValidationError as exc:
        msg = f"create_composite_entity({cls.__name__}): {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}"
        raise InputValidationError(msg) from exc
    obj.__dict__["attribute_source"].update(sources)
    if register:
        obj.promote_to_root()
    return obj


def _borrow(raw: Any) -> tuple[Any, Any]:
    if is_address(raw):
        return resolve_with_source(raw)
    if isinstance(raw, Entity):
        EntityRegistry.version_live_tree_of(raw)  # the source must be the version holding this data
        return raw.model_copy(deep=True), raw.ecs_id
    if type(raw) is list:
        pairs = [_borrow(v) for v in raw]
        return [p[0] for p in pairs], [p[1] for p in pairs]
    if type(raw) is dict:
        pairs_d = {k: _borrow(v) for k, v in raw.items()}
        return {k: p[0] for k, p in pairs_d.items()}, {k: p[1] for k, p in pairs_d.items()}
    return raw, None
