"""Writing export files safely: never over a store, never in place.

Every export (``to_html``, ``to_json``, OpenLineage, ``ecs-notebook export``) goes through
:func:`write_atomically`: the destination is checked first (not the lineage store, its ``-wal``/``-shm``
files or its object folder, not any SQLite database, not a folder), the content is written to a
temporary file in the same folder and renamed over the destination only once complete, so a failed
export leaves the destination as it was.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from ..core._ids import new_id
from ..core.errors import StoreError

_SQLITE_HEADER = b"SQLite format 3\x00"
_SIDE_FILES = ("-wal", "-shm", "-journal")
#: OSErrors of writing or renaming the file itself (reported as StoreError).
_FILE_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM, errno.EISDIR, errno.ENOENT, errno.EXDEV}
)


def _store_files() -> list[Path]:
    """The current store's database file (SQLite), if any."""
    from ..core.registry import EntityRegistry

    path = getattr(EntityRegistry.store, "path", None)
    return [Path(path).resolve()] if path is not None else []


def check_destination(path: str | os.PathLike[str]) -> Path:
    """The export destination ``path`` as a Path, or StoreError (one line) when writing there is refused."""
    if not isinstance(path, (str, os.PathLike)) or not str(path).strip():
        msg = f"Give an export destination file name (got {path!r:.60})."
        raise StoreError(msg)
    out = Path(path)
    try:
        real = out.resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop
        msg = f"Cannot export to {out}: {exc}."
        raise StoreError(msg) from None
    for db in _store_files():
        if real == db or any(real == db.with_name(db.name + s) for s in _SIDE_FILES):
            msg = f"Refusing to export to {out}: it is the lineage store's own file. Choose another file name."
            raise StoreError(msg)
        objects = db.with_name(db.name + ".objects")
        if real == objects or objects in real.parents:
            msg = f"Refusing to export to {out}: it is inside the lineage store's object folder {objects}. Choose another place."
            raise StoreError(msg)
    if real.name.endswith(_SIDE_FILES) and real.with_name(real.name.rsplit("-", 1)[0]).is_file():
        msg = f"Refusing to export to {out}: it belongs to the SQLite database beside it. Choose another file name."
        raise StoreError(msg)
    if any(p.name.endswith(".objects") and p.with_name(p.name[: -len(".objects")]).is_file() for p in real.parents):
        msg = f"Refusing to export to {out}: it is inside the object folder of a lineage store. Choose another place."
        raise StoreError(msg)
    if real.is_dir():
        msg = f"Cannot export to {out}: it is a folder. Give a file name, e.g. {out / 'lineage.json'}."
        raise StoreError(msg)
    if real.is_file():
        try:
            with open(real, "rb") as f:
                head = f.read(16)
        except OSError:
            head = b""
        if head == _SQLITE_HEADER:
            msg = f"Refusing to export to {out}: it is an SQLite database (perhaps a lineage store) and would be overwritten."
            raise StoreError(msg)
    if not real.parent.is_dir():
        msg = f"Cannot export to {out}: the folder {out.parent} does not exist. Create it first or choose another path."
        raise StoreError(msg)
    return out


def write_atomically(path: str | os.PathLike[str], write: Callable[[IO[Any]], object], *, binary: bool = False) -> Path:
    """Check ``path`` (:func:`check_destination`), call ``write(file)`` on a temporary file beside it, rename it over ``path``.

    The destination is replaced only once ``write`` returns; on any error it is left as it was (and
    the temporary file removed). OSError becomes StoreError.
    """
    out = check_destination(path)
    target = out.resolve()
    tmp = target.with_name(f".{target.name}.{new_id().hex[:8]}.tmp")
    try:
        f = open(tmp, "xb") if binary else open(tmp, "x", encoding="utf-8")  # noqa: SIM115 (closed below)
    except OSError as exc:
        msg = f"Cannot export to {out}: {exc.strerror or exc}."
        raise StoreError(msg) from None
    try:
        with f:
            write(f)
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.errno not in _FILE_ERRNOS:
            raise  # an error of the caller's code (e.g. a client's connection), not of the file
        msg = f"Cannot export to {out}: {exc.strerror or exc}."
        raise StoreError(msg) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out
