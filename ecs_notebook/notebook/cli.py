"""``ecs-notebook``: inspect a lineage store from the command line, without a notebook."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from ..core.errors import EcsError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ecs-notebook",
        description="Inspect an ecs_notebook lineage store.",
        epilog=(
            "STORE defaults to $ECS_NOTEBOOK_STORE, else sqlite:///.ecs_notebook/lineage.db. A store is data: "
            "reading it never imports or runs anything it names; entities of classes not imported (--import) show untyped."
        ),
    )
    p.add_argument("--store", "-s", metavar="URL", help="store URL (sqlite:///path.db, memory://)")
    p.add_argument(
        "--import",
        dest="imports",
        metavar="MODULE",
        action="append",
        default=[],
        help="import this module of yours first, so its entity classes show typed (the store never imports anything itself)",
    )
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("summary", help="counts, size and registered functions")
    ex = sub.add_parser("executions", help="list recorded executions")
    ex.add_argument("--function", "-f", help="only this function")
    ex.add_argument("--failed", action="store_true", help="only failed executions")
    ex.add_argument("--limit", "-n", type=int, default=50, help="newest N (default 50; 0: all)")
    show = sub.add_parser("show", help="show an entity version by address (@uuid or @uuid.path)")
    show.add_argument("address")
    hist = sub.add_parser("history", help="versions of the lineage of an entity (@uuid)")
    hist.add_argument("address")
    export = sub.add_parser("export", help="export the store: json (every version) or openlineage (run events)")
    export.add_argument("format", choices=["json", "openlineage"])
    export.add_argument("path")
    export.add_argument("--namespace", help="openlineage: namespace of jobs and datasets (default: ecs_notebook)")
    export.add_argument("--producer", metavar="URI", help="openlineage: producer URI of the events (default: this package)")
    gc = sub.add_parser("gc", help="remove stored value parts no kept version refers to (lineage records are never removed)")
    gc.add_argument("--keep-last", type=int, metavar="N", help="keep the values of the newest N versions of each variable only")
    gc.add_argument("--dry-run", action="store_true", help="say what would be removed, remove nothing")
    gc.add_argument(
        "--min-age",
        type=float,
        default=3600.0,
        metavar="S",
        help="only parts not stored or referred to again for S seconds (default 3600: safe while kernels write)",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "export" and args.format != "openlineage" and (args.namespace or args.producer):
        parser.error("--namespace and --producer apply to the openlineage format only")
    if args.command == "gc" and args.keep_last is not None and args.keep_last < 1:
        parser.error("--keep-last must be at least 1: the newest version of each variable keeps its value")
    if args.command == "gc" and args.min_age < 0:
        parser.error("--min-age must be 0 or more seconds")
    from ..store import default_url, open_store

    url = args.store or default_url(extension=True)
    for module in args.imports:  # named by the user on the command line, never by the store
        import importlib

        try:
            importlib.import_module(module)
        except ImportError as exc:
            print(f"ecs-notebook: cannot import {module!r} (--import): {exc}", file=sys.stderr)
            return 1
    try:
        store = open_store(url, create=False)
        from ..core.registry import EntityRegistry

        EntityRegistry.use_store(store)
        out = _COMMANDS[args.command](args)
    except EcsError as exc:
        print(f"ecs-notebook: {exc}", file=sys.stderr)
        return 1
    if out:
        print(out)
    return 0


def _gc(args: argparse.Namespace) -> str:
    from ..core.registry import EntityRegistry
    from ..store.gc import collect_garbage

    return str(collect_garbage(EntityRegistry.store, args.keep_last, args.min_age, args.dry_run))


def _summary(args: argparse.Namespace) -> str:
    from ..core.registry import EntityRegistry

    store = EntityRegistry.store
    c = store.counts()
    lines = [f"store      {store.url}"]
    lines += [f"{k:<10} {v}" for k, v in c.items()]
    return "\n".join(lines)


def _executions(args: argparse.Namespace) -> str:
    from ..core.registry import EntityRegistry

    ids = EntityRegistry.store.executions(function=args.function, failed=True if args.failed else None)
    if args.limit:
        ids = ids[-args.limit :]
    rows = ["started_at                 function              status   duration   execution  outputs"]
    for eid in ids:
        v = EntityRegistry.record(eid).plain_dict()
        status = "ok" if v["succeeded"] else "FAILED"
        started = v["started_at"].isoformat(timespec="seconds") if v["started_at"] else "-"
        outs = ",".join(str(o)[:8] for o in v["output_entity_ids"]) or "-"
        rows.append(f"{started:<26} {v['function_name'][:20]:<21} {status:<8} {v['duration_s'] * 1e3:>7.2f}ms  {str(eid)[:8]}   {outs}")
    return "\n".join(rows)


def _show(args: argparse.Namespace) -> str:
    from ..core.address import resolve_input

    address = _address_arg(args.address)
    rec, value, _ = resolve_input(address)
    if rec is not None:
        return _version_table(str(rec.ecs_id))
    return repr(value)


def _history(args: argparse.Namespace) -> str:
    from ..core.registry import EntityRegistry

    eid = _id_arg(args.address)
    lineage = EntityRegistry.lineage_of(eid)
    lines = []
    for i, vid in enumerate(EntityRegistry.history(lineage), 1):
        rec = EntityRegistry.record(vid)
        by = f"  by {rec.derived_from_function}()" if rec.derived_from_function else ""
        lines.append(f"v{i:<3} {vid}  {rec.created_at.isoformat(timespec='seconds')}{by}")
    return "\n".join(lines)


class _IdArgError(SystemExit):
    """An id argument that names no single version: one line on stderr, exit status 2."""

    def __init__(self, message: str) -> None:
        print(f"ecs-notebook: {message}", file=sys.stderr)
        super().__init__(2)


def _address_arg(text: str) -> str:
    """The address an ID argument names: ids as shown (full, ``@``-prefixed or a unique prefix).

    An unknown or ambiguous id exits with status 2 (like any other bad argument).
    """
    from ..core.address import full_address, is_id_text
    from ..core.errors import AddressError, EntityNotFoundError

    text = text.strip()
    head = text.split(".", 1)[0]
    if not text.startswith("@") and is_id_text(head):
        text = "@" + text
    from ..core.registry import EntityRegistry

    try:
        address = full_address(text)
        EntityRegistry.record(address[1:37])  # a full id that is not recorded is an unknown id too
    except (AddressError, EntityNotFoundError) as exc:
        raise _IdArgError(str(exc)) from None
    return address


def _id_arg(text: str) -> Any:
    """The ecs_id of the entity version an ID or address argument names (see ``_address_arg``)."""
    from ..core.errors import AddressError, EntityNotFoundError
    from ..lineage.queries import resolve_id

    address = _address_arg(text)
    try:
        return resolve_id(address)
    except (AddressError, EntityNotFoundError) as exc:
        raise _IdArgError(str(exc)) from None


def _label(eid: Any) -> str:
    from ..lineage.graph import version_label

    return version_label(eid)


def _cell(value: Any, width: int) -> str:
    """A value on one line, cut to ``width`` characters."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _version_table(node_id: str) -> str:
    """An entity version or execution as a heading and a table of its fields (values cut to fit)."""
    import shutil

    from ..lineage.details import node_details

    d = node_details(node_id)
    width = max(60, shutil.get_terminal_size((100, 24)).columns)
    lines = [f"{_label(d['id'])}  @{d['id']}"]
    if d["kind"] == "entity":
        made = d.get("execution")
        by = f", made by {made['function_name']}() @{made['id'][:8]}" if made else ""
        lines.append(f"{d['type_path']} · version {_version_number(d)} of {d['version_count']}{by}")
    fields = d.get("fields", {})
    provenance = d.get("provenance", {})
    if not fields:
        lines.append("(no fields)")
        return "\n".join(lines)
    name_w = min(24, max(len("field"), *(len(k) for k in fields)))
    value_w = max(20, width - name_w - 16)
    lines.append(f"{'field':<{name_w}}  {'value':<{value_w}}  from")
    for name, value in fields.items():
        src = _sources(provenance.get(name))
        lines.append(f"{_cell(name, name_w):<{name_w}}  {_cell(value, value_w):<{value_w}}  {src}".rstrip())
    return "\n".join(lines)


def _version_number(d: dict[str, Any]) -> str:
    versions = d.get("versions", [])
    first_shown = d["version_count"] - len(versions) + 1
    return next((str(first_shown + k) for k, v in enumerate(versions) if v["selected"]), "?")


def _sources(source: Any) -> str:
    """The short ids a field's value came from (attribute_source), or empty."""
    found: list[str] = []

    def walk(s: Any) -> None:
        if isinstance(s, dict) and "entity" in s:
            found.append("@" + s["entity"][:8])
        elif isinstance(s, dict):
            for v in s.values():
                walk(v)
        elif isinstance(s, list):
            for v in s:
                walk(v)

    walk(source)
    unique = list(dict.fromkeys(found))
    return ", ".join(unique[:3]) + (" …" if len(unique) > 3 else "")


def _export(args: argparse.Namespace) -> str:
    from ..lineage.files import check_destination, write_atomically

    check_destination(args.path)  # before reading the whole store
    if args.format == "openlineage":
        return _export_openlineage(args)
    from ..core.registry import EntityRegistry
    from ..core.tree import SLOT
    from ..store.codec import Encoder
    from ..store.rows import _fields_of

    enc = Encoder()
    records: list[dict[str, Any]] = []
    for rec in EntityRegistry.store.iter_records():
        fields = _fields_of(rec)
        data = {k: _child_refs(v, iter(rec.slots), SLOT) for k, v in fields.items()}
        records.append(
            {
                "ecs_id": str(rec.ecs_id),
                "lineage_id": str(rec.lineage_id),
                "type": rec.plain[0] if rec.cls.__name__ == "UntypedEntity" else rec.type_path,
                "previous_ecs_id": str(rec.previous_ecs_id) if rec.previous_ecs_id else None,
                "children": [str(c) for c in rec.slots],
                "derived_from_function": rec.derived_from_function,
                "derived_from_execution_id": str(rec.derived_from_execution_id) if rec.derived_from_execution_id else None,
                "data": enc.encode(data),
            }
        )
    doc = {"store": EntityRegistry.store.url, "versions": records}
    write_atomically(args.path, lambda f: json.dump(doc, f, indent=1))
    return f"wrote {len(records)} versions to {args.path}"


def _export_openlineage(args: argparse.Namespace) -> str:
    from ..core.registry import EntityRegistry
    from ..lineage.openlineage import DEFAULT_NAMESPACE, to_openlineage

    n = len(EntityRegistry.store.executions())
    to_openlineage(args.path, producer=args.producer, namespace=args.namespace or DEFAULT_NAMESPACE)
    return f"wrote {2 * n} run events of {n} executions to {args.path}"


def _child_refs(value: Any, slots: Any, slot: Any) -> Any:
    """A field value with each child entity shown as {"$ref": ecs_id}."""
    if value is slot:
        return {"$ref": str(next(slots))}
    if isinstance(value, list):
        return [_child_refs(v, slots, slot) for v in value]
    if isinstance(value, tuple):
        return [_child_refs(v, slots, slot) for v in value]
    if isinstance(value, dict):
        return {k: _child_refs(v, slots, slot) for k, v in value.items()}
    return value


_COMMANDS = {
    "summary": _summary,
    "gc": _gc,
    "executions": _executions,
    "show": _show,
    "history": _history,
    "export": _export,
}

if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
