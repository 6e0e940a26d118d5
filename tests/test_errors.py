"""The error hierarchy (DESIGN A9): one root, each class also a fitting builtin, readable messages."""

from __future__ import annotations

import uuid

import pytest
from models import Course, Student

import ecs_notebook
from ecs_notebook import (
    AddressError,
    EcsError,
    EntityNotFoundError,
    EntityRegistry,
    ExecutionTimeoutError,
    FunctionNotFoundError,
    InputValidationError,
    OutputValidationError,
    RegistrationError,
    StoreError,
    ValueNotStoredError,
    get,
)

HIERARCHY = [
    (AddressError, ValueError),
    (EntityNotFoundError, KeyError),
    (FunctionNotFoundError, LookupError),
    (RegistrationError, TypeError),
    (InputValidationError, ValueError),
    (StoreError, RuntimeError),
    (ExecutionTimeoutError, TimeoutError),
    (OutputValidationError, ValueError),
    (ValueNotStoredError, LookupError),
]


@pytest.mark.parametrize(("cls", "builtin"), HIERARCHY, ids=[c.__name__ for c, _ in HIERARCHY])
def test_error_is_an_ecs_error_and_its_builtin(cls, builtin):
    err = cls("boom")
    assert isinstance(err, EcsError)
    assert isinstance(err, builtin)
    # Callers catching the builtin (e.g. ``except ValueError``) also catch ours.
    with pytest.raises(builtin):
        raise err


def test_ecs_error_is_a_plain_exception():
    assert issubclass(EcsError, Exception)
    assert not issubclass(EcsError, (ValueError, KeyError, TypeError, RuntimeError))


@pytest.mark.parametrize(("cls", "builtin"), HIERARCHY, ids=[c.__name__ for c, _ in HIERARCHY])
def test_errors_are_exported_at_top_level(cls, builtin):
    assert getattr(ecs_notebook, cls.__name__) is cls
    assert cls.__name__ in ecs_notebook.__all__


def _ecs_error_classes() -> dict[str, type]:
    """Every EcsError subclass defined in any module of the package (each module imported)."""
    import importlib
    import pkgutil

    found: dict[str, type] = {}
    for info in pkgutil.walk_packages(ecs_notebook.__path__, "ecs_notebook."):
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, EcsError) and value.__module__ == info.name:
                found[f"{info.name}.{value.__qualname__}"] = value
    return found


def test_every_ecs_error_in_the_package_is_exported_and_in_the_hierarchy_table():
    classes = _ecs_error_classes()
    assert "ecs_notebook.core.errors.ValueNotStoredError" in classes  # the walk sees the package
    not_exported = sorted(path for path, cls in classes.items() if getattr(ecs_notebook, cls.__name__, None) is not cls)
    assert not_exported == []
    assert not [path for path, cls in classes.items() if cls.__name__ not in ecs_notebook.__all__]
    assert {cls for cls in classes.values() if cls is not EcsError} == {cls for cls, _ in HIERARCHY}


def test_the_tree_at_the_top_of_errors_names_every_class():
    from ecs_notebook.core import errors

    tree = errors.__doc__ or ""
    for cls, builtin in HIERARCHY:
        line = next((ln for ln in tree.splitlines() if f" {cls.__name__} " in ln), "")
        assert f"({builtin.__name__})" in line, cls.__name__


def test_entity_not_found_message_is_not_quoted_like_a_key_error():
    # KeyError would render as "'No recorded ...'"; users should read the plain sentence.
    err = EntityNotFoundError("No recorded entity version x.")
    assert str(err) == "No recorded entity version x."
    assert str(EntityNotFoundError()) == ""


def test_unknown_id_message_names_the_id():
    missing = uuid.uuid4()
    with pytest.raises(EntityNotFoundError) as info:
        EntityRegistry.get(missing)
    assert str(missing) in str(info.value)


def test_missing_field_message_names_the_field_the_choices_and_the_address():
    s = Student(name="Ada")
    s.promote_to_root()
    address = f"@{s.ecs_id}.gpaa"
    with pytest.raises(AddressError) as info:
        get(address)
    msg = str(info.value)
    assert "'gpaa'" in msg
    assert "gpa" in msg.replace("'gpaa'", "")  # the valid fields are listed
    assert address in msg


def test_registration_error_message_says_what_to_do():
    c = Course(name="Algebra")
    with pytest.raises(RegistrationError) as info:
        Student(name="Ada", courses=[c, c]).promote_to_root()
    msg = str(info.value)
    assert "Course" in msg
    assert "copy" in msg  # the fix: put a copy in the second place


def test_unregistered_root_message_says_to_promote():
    with pytest.raises(EntityNotFoundError) as info:
        EntityRegistry.version_entity(Course(name="x"))
    assert "promote_to_root" in str(info.value)
