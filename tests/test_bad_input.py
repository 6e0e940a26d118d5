"""Bad input gets the A9 error on one clear line and changes nothing (issue 12, item 7).

Each case is something a careless user (or a fuzzer) really typed. The registries, the store and
the current store choice are compared before and after: a refused call leaves them as they were.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from models import Holder, Item, register_functions, sqlite_url

import ecs_notebook
from ecs_notebook import (
    AddressError,
    CallableRegistry,
    EcsError,
    EntityRegistry,
    InputValidationError,
    RegistrationError,
    StoreError,
    get,
)


@pytest.fixture
def store(tmp_path):
    url = sqlite_url(tmp_path / "lineage.db")
    ecs_notebook.connect(url)
    register_functions()
    return url


def _state() -> tuple[Any, ...]:
    store = EntityRegistry.store
    return (store, store.counts(), CallableRegistry.list(), len(EntityRegistry._records), len(CallableRegistry.executions()))


def _self_containing_list() -> None:
    loop: list[Any] = [1]
    loop.append(loop)
    Holder(value=loop).promote_to_root()


def _self_containing_dict() -> None:
    loop: dict[str, Any] = {}
    loop["me"] = loop
    Holder(value=[loop]).promote_to_root()


def _holder(value: Any) -> str:
    h = Holder(value=value)
    h.promote_to_root()
    return str(h.ecs_id)


def _register_named(name: str) -> Callable[[], Any]:
    def go() -> Any:
        @CallableRegistry.register(name)
        def f(item: Item) -> Item:
            return Item(name="x")

    return go


def _make_item(**options: Any) -> Any:
    return CallableRegistry.execute("make_item", item=Item(name="a"), k=1, **options)


#: (id, setup returning the call to make, the A9 error it raises)
CASES: list[tuple[str, Callable[[], Callable[[], Any]], type[EcsError]]] = [
    ("superscript-index-in-a-list", lambda: (lambda eid=_holder([1, 2, 3]): get(f"@{eid}.value.²")), AddressError),
    ("superscript-key-in-a-dict", lambda: (lambda eid=_holder({1: "a"}): get(f"@{eid}.value.²")), AddressError),
    ("arabic-digit-index", lambda: (lambda eid=_holder([1, 2, 3, 4]): get(f"@{eid}.value.٣")), AddressError),
    ("register-a-builtin", lambda: (lambda: CallableRegistry.register(int)), RegistrationError),
    ("register-the-empty-name", lambda: _register_named(""), RegistrationError),
    ("register-a-name-with-nul", lambda: _register_named("make\x00item"), RegistrationError),
    ("register-a-name-with-a-newline", lambda: _register_named("make\nitem"), RegistrationError),
    ("list-that-contains-itself", lambda: _self_containing_list, RegistrationError),
    ("dict-that-contains-itself", lambda: _self_containing_dict, RegistrationError),
    ("config-a-string", lambda: (lambda: _make_item(config="fast")), InputValidationError),
    ("unpack-a-string", lambda: (lambda: _make_item(unpack="yes")), InputValidationError),
    ("store-url-with-spaces", lambda: (lambda: ecs_notebook.connect("  memory://  ")), StoreError),
    ("sqlite-url-ending-in-a-slash", lambda: (lambda: ecs_notebook.connect("sqlite:///x.db/")), StoreError),
]


@pytest.mark.parametrize(("setup", "error"), [pytest.param(s, e, id=i) for i, s, e in CASES])
def test_bad_input_gives_one_clear_a9_error_and_changes_nothing(store, tmp_path, monkeypatch, setup, error):
    monkeypatch.chdir(tmp_path)
    call = setup()
    before = _state()
    with pytest.raises(error) as info:
        call()
    text = str(info.value)
    assert text and "\n" not in text.strip(), f"one line: {text!r}"
    assert _state() == before, "a refused call changed the registries or the store"
    assert not (tmp_path / "x.db").exists()


def test_a_function_whose_store_record_fails_is_not_registered(store):
    """The in-memory list follows the store: a registration the store refuses is not kept."""
    EntityRegistry.store.close()  # every write now fails
    before = CallableRegistry.list()
    with pytest.raises(EcsError):
        _register_named("late")()
    assert CallableRegistry.list() == before
