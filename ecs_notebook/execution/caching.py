"""Memoization of executions that cannot go stale: keyed by code version and input versions."""

from __future__ import annotations

import hashlib
import warnings
from collections import OrderedDict
from typing import TYPE_CHECKING
from uuid import UUID

from pydantic_core import to_json

if TYPE_CHECKING:
    from ..store.base import Store
    from .functions import FunctionMetadata
    from .inputs import CallInputs


def cache_key(meta: FunctionMetadata, inputs: CallInputs) -> str | None:
    """The cache key of a call, or None when its parameters cannot be fingerprinted.

    Versions are immutable and the code is identified by its hash, so (function, code_version,
    input versions, parameter values) determines the result: such a cache cannot go stale.
    """
    from ..store.codec import Encoder

    rec = inputs.composite_record
    assert rec is not None
    enc = Encoder()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            params = enc.encode([list(rec.plain), list(rec.templates or ())])
        except UserWarning:
            warnings.warn(
                f"{meta.name}(): a parameter value cannot be fingerprinted (no codec), so this call is not cached; it runs every time.",
                UserWarning,
                stacklevel=5,
            )
            return None
    payload = to_json([meta.name, meta.code_version, [s.hex for s in rec.slots], params])
    return hashlib.blake2b(payload, digest_size=20).hexdigest()


class ExecutionCache:
    """An LRU map from cache key to the execution that answered it (the store has the rest)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._map: OrderedDict[str, UUID] = OrderedDict()

    def resize(self, size: int) -> None:
        self._size = size
        while len(self._map) > size:
            self._map.popitem(last=False)

    def add(self, key: str, execution_id: UUID) -> None:
        self._map[key] = execution_id
        self._map.move_to_end(key)
        if len(self._map) > self._size:
            self._map.popitem(last=False)

    def find(self, key: str, store: Store) -> UUID | None:
        hit = self._map.get(key)
        if hit is not None:
            self._map.move_to_end(key)
            return hit
        hit = store.find_cached(key)
        if hit is not None:
            self.add(key, hit)
        return hit

    def __len__(self) -> int:
        return len(self._map)
