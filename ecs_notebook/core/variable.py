"""Notebook variables as lineages: the ``Variable`` entity, stored value handles, and value → record lookup.

Each variable of a notebook is one lineage (a stable id per notebook and name); each version holds a
:class:`StoredValue`: the value's fingerprint, type and a snapshot that later edits of the live object
cannot reach. Recording them is the notebook layer's job (``recorder.py``); this module only defines
the data and the lookup ``ref()`` uses, so the lineage layer can answer questions about plain values.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

from .entity import Entity

#: Namespace of variable lineage ids: ``uuid5(VARIABLES, "<notebook>\0<name>")``.
VARIABLES = uuid.UUID("5f0c3a1e-7d2b-5e8a-9c41-2b6f0e9d7a13")

#: ``Variable.change`` values: how a version came to be.
BOUND, CHANGED_IN_PLACE, DELETED, OUTSIDE = "bound", "changed in place", "deleted", "changed outside recorded cells"


def variable_lineage_id(notebook: str, name: str) -> uuid.UUID:
    """The lineage id of variable ``name`` of ``notebook``: the same in every session.

    >>> variable_lineage_id("a.ipynb", "df") == variable_lineage_id("a.ipynb", "df")
    True
    """
    return uuid.uuid5(VARIABLES, f"{notebook}\0{name}")


#: ``StoredValue.reason`` when the value itself is not kept.
NO_CODEC, TOO_LARGE, CODE = "no codec", "too large", "code"


class StoredValue:
    """An immutable handle on a recorded value: fingerprint, type, a short summary, and where its bytes are.

    ``header`` is the value's codec header (``ecs_notebook.core.values.codecs``, JSON types only) and
    ``parts`` the keys of the content-addressed binary parts it names in the store's object area;
    both are None/empty when the value itself is not kept (``reason``: no codec for it, over
    ``max_value_bytes``, or code recorded by its source). ``load()`` rebuilds a fresh value each time,
    so editing what it returns never changes the record.
    """

    __slots__ = ("by_identity", "fingerprint", "header", "nbytes", "parts", "reason", "sample", "summary", "type_name")

    def __init__(
        self,
        type_name: str,
        fingerprint: str,
        summary: str,
        header: dict[str, Any] | None = None,
        parts: tuple[str, ...] = (),
        nbytes: int = 0,
        by_identity: bool = False,
        reason: str = "",
        sample: str = "",
    ) -> None:
        self.type_name = type_name
        self.fingerprint = fingerprint
        self.summary = summary
        self.header = header
        self.parts = parts
        self.nbytes = nbytes
        self.by_identity = by_identity
        self.reason = reason
        self.sample = sample

    @property
    def stored(self) -> bool:
        """Whether the value itself is kept (else only its description)."""
        return self.header is not None

    def load(self) -> Any:
        """A fresh copy of the recorded value, read from the current store (lazily: nothing is read before).

        Raises:
            ValueNotStoredError: the value was over ``max_value_bytes`` when recorded, or its parts
                were removed by ``ecs-notebook gc``.
            StoreError: a damaged part.
        """
        from .errors import EcsError, StoreError, ValueNotStoredError

        if self.header is None:
            if self.reason == TOO_LARGE:
                msg = (
                    f"The value of this version ({self.summary}, {self.nbytes:,} bytes) was not stored: it was larger than "
                    "%config EcsNotebook.max_value_bytes when recorded. Its fingerprint, type, shape and a sample are recorded; "
                    "raise the setting and record the variable again to keep its value."
                )
                raise ValueNotStoredError(msg)
            from .typeinfo import UnstorableValue

            return UnstorableValue(self.type_name, self.summary, self.fingerprint)
        from .registry import EntityRegistry
        from .values.codecs import decode

        try:
            return decode(self.header, EntityRegistry.store.get_part)
        except EcsError:
            raise
        except Exception as exc:  # stored data is never trusted: a damaged value is an error, not a crash
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            msg = f"The recorded {self.type_name} value (fingerprint {self.fingerprint[:8]}) is damaged: {reason}"
            raise StoreError(msg) from None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StoredValue) and other.fingerprint == self.fingerprint and other.type_name == self.type_name

    def __hash__(self) -> int:
        return hash(self.fingerprint)

    def __deepcopy__(self, memo: Any) -> StoredValue:
        return self  # immutable

    def __copy__(self) -> StoredValue:
        return self

    def __repr__(self) -> str:
        kept = "" if self.stored else f", not stored: {self.reason}"
        return f"<{self.type_name}: {self.summary[:60]} (fp {self.fingerprint[:8]}{kept})>"


class Variable(Entity):
    """One version of a notebook variable (a plain value; entity variables are their own lineages)."""

    __ecs_stored_as__ = "ecs_notebook.variable:Variable"  # its name in stores written before the core/ folder

    name: str
    notebook: str = ""
    value: StoredValue | None = None
    type_name: str = ""
    fingerprint: str = ""
    #: How this version came to be: "bound", "changed in place", "deleted", "changed outside recorded cells".
    change: str = BOUND


class VariableIndex:
    """Which recorded version a live value is, for ``ref(x)`` and the queries.

    The recorder registers a namespace (the notebook's) and, per variable name, the ecs_id of its
    latest version; identity is checked against the namespace at lookup time, so no value is kept
    alive here. The most recently recorded name wins when several hold the same object.
    """

    def __init__(self) -> None:
        self._namespace: Callable[[], dict[str, Any]] | None = None
        self._latest: dict[str, uuid.UUID] = {}  # name -> ecs_id, in recording order (latest last)

    def attach(self, namespace: Callable[[], dict[str, Any]] | None) -> None:
        """Look values up in ``namespace()`` (None: detach)."""
        self._namespace = namespace
        if namespace is None:
            self._latest.clear()

    def set(self, name: str, ecs_id: uuid.UUID | None) -> None:
        """Variable ``name`` now is version ``ecs_id`` (None: deleted)."""
        self._latest.pop(name, None)
        if ecs_id is not None:
            self._latest[name] = ecs_id

    def names(self) -> Iterator[tuple[str, uuid.UUID]]:
        """(name, latest ecs_id) pairs, most recently recorded first."""
        return reversed(list(self._latest.items()))

    def find(self, value: Any) -> tuple[str, uuid.UUID] | None:
        """The (name, ecs_id) of the variable holding ``value`` (by identity), or None."""
        if self._namespace is None:
            return None
        ns = self._namespace()
        for name, eid in self.names():
            if name in ns and ns[name] is value:
                return name, eid
        return None


def _new_index() -> VariableIndex:
    from ._state import stateful

    return stateful(VariableIndex())  # type: ignore[no-any-return]


VARIABLE_INDEX: VariableIndex = _new_index()
