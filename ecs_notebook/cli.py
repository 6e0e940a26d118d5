"""``ecs-notebook``: inspect a lineage store from the command line, without a notebook."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from .errors import EcsError


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
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "export" and args.format != "openlineage" and (args.namespace or args.producer):
        parser.error("--namespace and --producer apply to the openlineage format only")
    from .store import default_url, open_store

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
        from .registry import EntityRegistry

        EntityRegistry.use_store(store)
        out = _COMMANDS[args.command](args)
    except EcsError as exc:
        print(f"ecs-notebook: {exc}", file=sys.stderr)
        return 1
    if out:
        print(out)
    return 0


def _summary(args: argparse.Namespace) -> str:
    from .registry import EntityRegistry

    store = EntityRegistry.store
    c = store.counts()
    lines = [f"store      {store.url}"]
    lines += [f"{k:<10} {v}" for k, v in c.items()]
    return "\n".join(lines)


def _executions(args: argparse.Namespace) -> str:
    from .registry import EntityRegistry

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
    from .address import get

    value = get(args.address)
    return repr(value)


def _history(args: argparse.Namespace) -> str:
    from .address import parse_address
    from .registry import EntityRegistry

    eid, _ = parse_address(args.address)
    lineage = EntityRegistry.lineage_of(eid)
    lines = []
    for i, vid in enumerate(EntityRegistry.history(lineage), 1):
        rec = EntityRegistry.record(vid)
        by = f"  by {rec.derived_from_function}()" if rec.derived_from_function else ""
        lines.append(f"v{i:<3} {vid}  {rec.created_at.isoformat(timespec='seconds')}{by}")
    return "\n".join(lines)


def _export(args: argparse.Namespace) -> str:
    from .lineage.files import check_destination, write_atomically

    check_destination(args.path)  # before reading the whole store
    if args.format == "openlineage":
        return _export_openlineage(args)
    from .registry import EntityRegistry
    from .store.codec import Encoder
    from .store.rows import _fields_of
    from .tree import SLOT

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
    from .lineage.openlineage import DEFAULT_NAMESPACE, to_openlineage
    from .registry import EntityRegistry

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
    "executions": _executions,
    "show": _show,
    "history": _history,
    "export": _export,
}

if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
