"""Validated payloads (docs/guide/validation.md): ``@validated`` handlers receive pydantic models or msgspec
structs built from what the client sent, or never run.

The decorator reads the handler's annotations once, when it is applied. The parameters annotated with a
pydantic ``BaseModel`` or a msgspec ``Struct`` (subclasses) are converted; the others get the client's value as
it is. A handler with no such parameter is returned unchanged, so it costs nothing per event.

An event whose arguments do not convert never reaches the handler: the wrapper returns the error below instead,
which the server sends as the acknowledgement when the client asked for one (and drops otherwise). Either way
the refusal is logged (a warning on the ``aiosocketio`` logger, without the client's data) and counted in
``refusals``, by handler. The acknowledgement::

    {"error": "invalid arguments",
     "details": [{"argument": 0, "path": "age", "message": "Input should be a valid integer"}]}

``argument`` is the index of the argument (``None`` when the count is wrong), ``path`` where inside it the
problem is (dotted; ``""`` for the argument itself), ``message`` the validator's words.

Neither pydantic nor msgspec is imported here: a model class can only exist once its library is loaded, so the
decorator looks for the libraries among the loaded modules.
"""

from __future__ import annotations

import inspect
import logging
import sys
import typing
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial, wraps
from typing import Any, TypeVar

__all__ = ["refusals", "validated"]

logger = logging.getLogger("aiosocketio")
"""The ``aiosocketio`` logger, where each refused event is reported (a warning, without the client's data)."""

F = TypeVar("F", bound=Callable[..., Any])
"""The type of the handler ``validated`` decorates: it returns a function of the same type."""

refusals: Counter[str] = Counter()
"""How many events each ``@validated`` handler refused, by the handler's qualified name."""

Problem = dict[str, Any]
"""One entry of the error's ``details``: ``{"argument", "path", "message"}``."""


@dataclass(frozen=True, slots=True)
class Conversion:
    """How one parameter's value is converted: ``convert`` raises ``error`` for a value that does not fit, and
    ``problems`` lists what is wrong as ``(path, message)`` pairs."""

    convert: Callable[[Any], Any]
    """Builds the model or struct from the client's value."""
    error: type[Exception]
    """The exception ``convert`` raises for a value that does not fit (the library's ``ValidationError``)."""
    problems: Callable[[Any], list[tuple[str, str]]]
    """Lists what ``error`` found wrong, as ``(path, message)`` pairs."""


def _pydantic_problems(exc: Any) -> list[tuple[str, str]]:
    return [
        (".".join(str(part) for part in error["loc"]), error["msg"])
        for error in exc.errors(include_url=False, include_input=False, include_context=False)
    ]


def _pydantic_conversion(model: type[Any]) -> Conversion:
    from pydantic import ValidationError

    # The model's compiled validator: what ``model_validate`` calls, without its Python frame (0.5 µs).
    validator = getattr(model, "__pydantic_validator__", None)
    convert = validator.validate_python if validator is not None else model.model_validate
    return Conversion(convert, ValidationError, _pydantic_problems)


def _msgspec_problems(exc: Any) -> list[tuple[str, str]]:
    # msgspec says where at the end: "Expected `int`, got `str` - at `$.age`".
    message, _, where = str(exc).partition(" - at `")
    return [(where.rstrip("`").removeprefix("$").removeprefix("."), message)]


def _msgspec_conversion(struct: type[Any]) -> Conversion:
    from msgspec import ValidationError, convert

    return Conversion(partial(convert, type=struct), ValidationError, _msgspec_problems)


def _conversion(annotation: Any) -> Conversion | None:
    """How to convert a value for a parameter annotated ``annotation``: None when it is no model or struct."""
    if not isinstance(annotation, type):
        return None
    pydantic = sys.modules.get("pydantic")
    if pydantic is not None and issubclass(annotation, pydantic.BaseModel):
        return _pydantic_conversion(annotation)
    msgspec = sys.modules.get("msgspec")
    if msgspec is not None and issubclass(annotation, msgspec.Struct):
        return _msgspec_conversion(annotation)
    return None


def _error(details: list[Problem]) -> dict[str, Any]:
    return {"error": "invalid arguments", "details": details}


def validated(handler: F) -> F:
    """Convert the arguments of ``handler`` annotated with a pydantic model or a msgspec struct; refuse the
    event when they do not convert (see the module's documentation). Apply it under ``@socket.on(...)``.

    Args:
        handler: An event handler, plain or ``async``, whose parameters may be annotated with pydantic
            ``BaseModel`` or msgspec ``Struct`` subclasses (``*args`` too).

    Returns:
        A handler that gets the converted values, or returns the error acknowledgement without calling
        ``handler`` when an argument does not convert or the number of arguments does not fit; ``handler``
        itself when no parameter needs converting.

    Raises:
        TypeError: The handler's annotations cannot be read (a model defined where they cannot find it).
    """
    try:
        hints = typing.get_type_hints(handler)
    except NameError as exc:
        raise TypeError(
            f"@validated cannot read the annotations of {handler.__qualname__}: {exc} (define the models at "
            "module level, where the handler's annotations can find them)"
        ) from None
    signature = inspect.signature(handler)
    positional = [
        parameter
        for parameter in signature.parameters.values()
        if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD)
    ]
    conversions = [_conversion(hints.get(parameter.name)) for parameter in positional]
    variadic = next((p for p in signature.parameters.values() if p.kind is p.VAR_POSITIONAL), None)
    rest = _conversion(hints.get(variadic.name)) if variadic is not None else None
    if rest is None and not any(conversions):
        return handler
    required = sum(1 for parameter in positional if parameter.default is parameter.empty)
    most = None if variadic is not None else len(positional)
    name = handler.__qualname__
    if most is None:
        takes = f"takes at least {required} argument(s)"
    elif most == required:
        takes = f"takes {required} argument(s)"
    else:
        takes = f"takes {required} to {most} arguments"
    fewest = required
    largest = most if most is not None else sys.maxsize
    # The arguments to convert, by index: those of the annotated parameters, then (for a ``*args`` of models)
    # every further one.
    plan = [(index, conversion) for index, conversion in enumerate(conversions) if conversion is not None]
    first_rest = len(positional)

    def refuse(details: list[Problem]) -> dict[str, Any]:
        refusals[name] += 1
        logger.warning(
            "the handler %s refused an event: %s",
            name,
            "; ".join(
                f"argument {d['argument']}{' at ' + d['path'] if d['path'] else ''}: {d['message']}"
                if d["argument"] is not None
                else d["message"]
                for d in details
            ),
        )
        return _error(details)

    def wrong_count(count: int) -> dict[str, Any]:
        return refuse([{"argument": None, "path": "", "message": f"{takes}, got {count}"}])

    if rest is None and len(plan) == 1 and plan[0][0] == 0:
        # The common shape, one model first (``def order(order: Order, note: str = "")``), without a loop.
        only = plan[0][1]
        convert, error, problems = only.convert, only.error, only.problems

        @wraps(handler)
        def wrapper(*args: Any) -> Any:
            count = len(args)
            if count < fewest or count > largest:
                return wrong_count(count)
            if count:
                try:
                    value = convert(args[0])
                except error as exc:
                    return refuse([{"argument": 0, "path": p, "message": m} for p, m in problems(exc)])
                return handler(value, *args[1:])
            return handler()

        return wrapper  # type: ignore[return-value]

    @wraps(handler)
    def general(*args: Any) -> Any:
        count = len(args)
        if count < fewest or count > largest:
            return wrong_count(count)
        converted = list(args)
        details: list[Problem] = []
        steps = plan if rest is None else plan + [(index, rest) for index in range(first_rest, count)]
        for index, conversion in steps:
            if index >= count:
                break
            try:
                converted[index] = conversion.convert(args[index])
            except conversion.error as exc:
                details.extend(
                    {"argument": index, "path": path, "message": message}
                    for path, message in conversion.problems(exc)
                )
        if details:
            return refuse(details)
        return handler(*converted)

    return general  # type: ignore[return-value]
