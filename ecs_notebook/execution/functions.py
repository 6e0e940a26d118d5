"""Registering a function: its typed input/output entity models and metadata, built once."""

from __future__ import annotations

import hashlib
import inspect
import itertools
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, TypeAdapter, create_model

from ..core._ids import utcnow
from ..core.entity import META_FIELDS, Entity, ParameterEntity
from ..core.errors import RegistrationError

#: How a parameter takes its value.
ENTITY, ENTITIES, PLAIN = "entity", "entities", "plain"

_counter = itertools.count(1)


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """One parameter of a registered function, analysed once."""

    name: str
    annotation: Any
    default: Any  # inspect.Parameter.empty when required
    kind: str  # ENTITY, ENTITIES or PLAIN
    entity_cls: type[Entity] | None  # for ENTITY: the declared class
    adapter: TypeAdapter[Any] | None  # for PLAIN: validates a value against the annotation

    @property
    def required(self) -> bool:
        return self.default is inspect.Parameter.empty


@dataclass(slots=True)
class FunctionMetadata:
    """What the registry knows about a registered function."""

    name: str
    func: Callable[..., Any]
    signature: inspect.Signature
    docstring: str | None
    is_async: bool
    input_model: type[ParameterEntity]
    output_model: type[Entity] | None
    code_version: str
    source: str
    params: dict[str, ParamSpec]
    return_annotation: Any
    registered_at: datetime = field(default_factory=utcnow)
    #: Copy plain argument values before the call (notebook cells copy them themselves).
    copy_plain: bool = True

    @property
    def signature_json(self) -> dict[str, Any]:
        """The signature as JSON-serialisable data."""
        return {
            "name": self.name,
            "parameters": [
                {
                    "name": p.name,
                    "annotation": _type_name(p.annotation),
                    "kind": p.kind,
                    "required": p.required,
                    "default": None if p.required else _jsonable(p.default),
                }
                for p in self.params.values()
            ],
            "returns": _type_name(self.return_annotation),
            "is_async": self.is_async,
        }

    def __repr__(self) -> str:
        return f"<function {self.name}{self.signature} code_version={self.code_version}>"


def _type_name(ann: Any) -> str:
    if isinstance(ann, type):
        return ann.__qualname__
    return str(ann).replace("typing.", "")


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def code_version_of(func: Callable[..., Any], source: str | None = None) -> tuple[str, str]:
    """Return (code_version, source): a short hash of the function's source."""
    if source is None:
        try:
            source = inspect.getsource(func)
        except (OSError, TypeError):
            code = getattr(func, "__code__", None)
            source = repr((code.co_code, code.co_consts)) if code is not None else repr(func)
    return hashlib.sha256(source.encode()).hexdigest()[:16], source


def _entity_class(ann: Any) -> type[Entity] | None:
    """The Entity subclass an annotation names (``X`` or ``X | None``), else None."""
    if isinstance(ann, type) and issubclass(ann, Entity):
        return ann
    args = [a for a in typing.get_args(ann) if a is not type(None)]
    if typing.get_origin(ann) in (typing.Union, getattr(__import__("types"), "UnionType", None)) and len(args) == 1:
        return _entity_class(args[0])
    return None


def _is_entity_collection(ann: Any) -> bool:
    origin = typing.get_origin(ann)
    if origin in (list, tuple, set, frozenset, dict):
        args = [a for a in typing.get_args(ann) if a is not Ellipsis]  # tuple[X, ...] holds Xs
        item = args[-1] if args else None
        return _entity_class(item) is not None
    return False


def build_metadata(
    func: Callable[..., Any],
    name: str,
    source: str | None = None,
    copy_plain: bool = True,
    input_model: type[ParameterEntity] | None = None,
) -> FunctionMetadata:
    """Analyse ``func`` once: parameters, models, code version.

    ``input_model`` is a composite-input model to use instead of building one (its fields must be
    the parameters): notebook cells share one per parameter set, as building a model costs ~0.5 ms.

    Raises:
        RegistrationError: no return annotation, unresolvable annotations, or reserved names.
    """
    if not callable(func):
        msg = f"register() needs a function, got {type(func).__name__}: {func!r:.80}"
        raise RegistrationError(msg)
    if not isinstance(name, str) or not name or not name.isprintable() or name != name.strip():
        msg = f"Cannot register a function under the name {name!r:.60}: a name is non-empty printable text without surrounding spaces."
        raise RegistrationError(msg)
    try:
        sig = inspect.signature(func)
    except (ValueError, TypeError) as exc:
        msg = f"Cannot register {name}: {exc}. Register a Python function (def or lambda) with annotated parameters."
        raise RegistrationError(msg) from None
    try:
        hints = typing.get_type_hints(func, include_extras=True)
    except Exception as exc:
        msg = f"Cannot resolve the annotations of {name}(): {exc}. Define the types before registering."
        raise RegistrationError(msg) from exc
    if "return" not in hints:
        msg = (
            f"Function {name}() has no return annotation. ecs_notebook needs it to build the output "
            f"entity model: write e.g. `def {getattr(func, '__name__', name)}(...) -> Report:`."
        )
        raise RegistrationError(msg)
    params: dict[str, ParamSpec] = {}
    fields: dict[str, Any] = {}
    for p in sig.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.POSITIONAL_ONLY):
            msg = f"{name}(): parameter {p.name!r} is {p.kind.description}; registered functions take named parameters only."
            raise RegistrationError(msg)
        if p.name in META_FIELDS or p.name.startswith("model_") or p.name in ("unpack", "config"):
            msg = f"{name}(): parameter name {p.name!r} is reserved by ecs_notebook; rename it."
            raise RegistrationError(msg)
        ann = hints.get(p.name, Any)
        ecls = _entity_class(ann)
        if ecls is not None:
            kind, adapter = ENTITY, None
        elif _is_entity_collection(ann):
            kind, adapter = ENTITIES, None
        else:
            kind, adapter = PLAIN, _plain_adapter(ann)
        params[p.name] = ParamSpec(p.name, ann, p.default, kind, ecls, adapter)
        fields[p.name] = (ann, ... if p.default is p.empty else p.default)
    n = next(_counter)
    base_name = getattr(func, "__qualname__", name).replace("<", "").replace(">", "").replace(".", "_")
    module = getattr(func, "__module__", None) or __name__
    if input_model is None:
        input_model = _input_model(f"{base_name}_Input_{n}", module, name, fields)
    elif [f for f in input_model.model_fields if f not in META_FIELDS] != list(fields):
        msg = f"{name}(): input_model {input_model.__name__} does not have exactly the parameters as fields ({', '.join(fields)})."
        raise RegistrationError(msg)
    ret = hints["return"]
    output_model = _output_model(ret, f"{base_name}_Output_{n}", module, name)
    version, src = code_version_of(func, source)
    return FunctionMetadata(
        name=name,
        func=func,
        signature=sig,
        docstring=inspect.getdoc(func),
        is_async=inspect.iscoroutinefunction(func),
        input_model=input_model,
        output_model=output_model,
        code_version=version,
        source=src,
        params=params,
        return_annotation=ret,
        copy_plain=copy_plain,
    )


_ANY_ADAPTER: TypeAdapter[Any] | None = None


def _plain_adapter(ann: Any) -> TypeAdapter[Any]:
    """The validator of a plain parameter; the one for ``Any`` (every notebook cell's) is shared."""
    global _ANY_ADAPTER
    if ann is Any:
        if _ANY_ADAPTER is None:
            _ANY_ADAPTER = TypeAdapter(Any)
        return _ANY_ADAPTER
    try:
        return TypeAdapter(ann, config={"arbitrary_types_allowed": True})
    except Exception:
        return _plain_adapter(Any)


class _InputModel(ParameterEntity):
    """Base of the input models: their pydantic schema is built on first use, not at registration.

    The composite input is recorded without validating it against its model (arguments are checked
    per parameter), so most input models are never built: that saves milliseconds per registration,
    which every new or edited ``%%ecs_exec`` cell pays.
    """

    model_config = ConfigDict(defer_build=True)


def _input_model(model_name: str, module: str, name: str, fields: dict[str, Any]) -> type[ParameterEntity]:
    """The composite input's model: one field per parameter."""
    try:
        return create_model(model_name, __base__=_InputModel, __module__=module, **fields)  # type: ignore[call-overload,no-any-return]
    except Exception as exc:
        msg = f"Cannot build the input model of {name}(): {exc}"
        raise RegistrationError(msg) from exc


def _output_model(ret: Any, model_name: str, module: str, name: str) -> type[Entity] | None:
    """The entity model outputs are wrapped in; None when the function returns entities itself."""
    ecls = _entity_class(ret)
    if ecls is not None:
        return ecls
    fields: dict[str, Any]
    try:
        if isinstance(ret, type) and issubclass(ret, BaseModel):
            fields = {k: (f.annotation, f) for k, f in ret.model_fields.items() if k not in META_FIELDS}
            return create_model(model_name, __base__=Entity, __module__=module, **fields)  # type: ignore[call-overload,no-any-return]
        if typing.get_origin(ret) is tuple:
            args = [a for a in typing.get_args(ret) if a is not Ellipsis]
            if args and all(_entity_class(a) is not None for a in args):
                return None  # unpacked into separate entities
            fields = {f"field_{i}": (a, ...) for i, a in enumerate(args)}
            return create_model(model_name, __base__=Entity, __module__=module, **fields)  # type: ignore[call-overload,no-any-return]
        return create_model(model_name, __base__=Entity, __module__=module, result=(ret, ...))  # type: ignore[call-overload,no-any-return]
    except Exception as exc:
        msg = f"Cannot build the output model of {name}() from its return annotation {ret!r}: {exc}"
        raise RegistrationError(msg) from exc
