"""The one exception hierarchy of ecs_notebook.

EcsError
├── AddressError            (ValueError)    malformed address, or a segment that does not resolve
├── EntityNotFoundError     (KeyError)      unknown ecs_id, unregistered entity
├── FunctionNotFoundError   (LookupError)   unknown registered function name
├── RegistrationError       (TypeError)     a function or entity tree that cannot be registered
├── InputValidationError    (ValueError)    arguments that do not fit a function's input model
├── StoreError              (RuntimeError)  the lineage store cannot be opened, read or written
├── ExecutionTimeoutError   (TimeoutError)  a call ran past ``max_execution_time``
├── OutputValidationError   (ValueError)    a function returned something its return type does not allow
└── ValueNotStoredError     (LookupError)   a version's value is not kept (over max_value_bytes, or removed by gc)
"""

from __future__ import annotations


class EcsError(Exception):
    """Base class of every error raised by ecs_notebook."""


class AddressError(EcsError, ValueError):
    """An address is malformed or one of its segments does not resolve."""


class EntityNotFoundError(EcsError, KeyError):
    """No recorded entity version (or registered entity) matches."""

    def __str__(self) -> str:
        # KeyError.__str__ would show the message in quotes.
        return str(self.args[0]) if self.args else ""


class FunctionNotFoundError(EcsError, LookupError):
    """No function is registered under the given name."""


class RegistrationError(EcsError, TypeError):
    """A function or an entity tree cannot be registered as given."""


class InputValidationError(EcsError, ValueError):
    """Arguments of a call do not fit the function's input model."""


class StoreError(EcsError, RuntimeError):
    """The lineage store cannot be opened, read or written."""


class ExecutionTimeoutError(EcsError, TimeoutError):
    """A call ran past its ``max_execution_time``."""


class OutputValidationError(EcsError, ValueError):
    """A function returned something that does not fit its declared return type."""


class ValueNotStoredError(EcsError, LookupError):
    """A recorded version's value itself is not in the store (over ``max_value_bytes``, or removed by gc)."""
