"""Cheap random version-4 UUIDs and UTC timestamps for the hot paths."""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timezone
from random import SystemRandom

_rand = SystemRandom()
# A Mersenne Twister seeded once from the OS is enough for ids (they need uniqueness, not secrecy)
# and costs a fifth of uuid4(), which reads os.urandom every call.
_mt = __import__("random").Random(_rand.getrandbits(256))
_getrandbits = _mt.getrandbits
if hasattr(os, "register_at_fork"):
    # A forked child (multiprocessing, joblib) would otherwise repeat its parent's ids.
    os.register_at_fork(after_in_child=lambda: _mt.seed(_rand.getrandbits(256)))
_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_SET = (0x4000 << 64) | (0x8000 << 48)
_UNKNOWN = uuid.SafeUUID.unknown
_new = object.__new__
_set = object.__setattr__
_UUID = uuid.UUID


def new_id() -> uuid.UUID:
    """Return a fresh random (version 4) UUID.

    >>> new_id().version
    4
    """
    u = _new(_UUID)
    _set(u, "int", (_getrandbits(128) & _CLEAR) | _SET)
    _set(u, "is_safe", _UNKNOWN)
    return u


def utcnow() -> datetime:
    """Return the current time, timezone-aware in UTC."""
    return datetime.now(timezone.utc)


def short(u: object) -> str:
    """Return the first 8 hex digits of an id, for messages and displays."""
    return str(u)[:8]
