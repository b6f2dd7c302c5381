"""How every class of ours declares its Seldon `parameters`: one style, read without the classes.

A class's settings are a frozen `SeldonSettings` dataclass whose fields are `seldon_parameter`s:
each names the Seldon type a manifest declares (INT, FLOAT, STRING, BOOL), says what it means,
and how a given value becomes the field's value. `parse_settings` builds the settings from the
keyword arguments `seldon-core-microservice` hands the class; the deploy validator reads the
same declarations, so neither needs Seldon Core, TensorFlow or the classes themselves.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Self, TypeVar

SettingsT = TypeVar("SettingsT", bound="SeldonSettings")


class ConfigurationError(ValueError):
    """A setting has a wrong value; raised at start-up and names the parameter.

    Defined in this ground module so that reading settings imports no transport;
    `seldon_tfserving.errors` re-exports it beside the serving errors.
    """

    def __init__(self, parameter: str, problem: str) -> None:
        super().__init__(f"parameter {parameter!r}: {problem}")
        self.parameter = parameter


#: Turns a value into another, or raises ValueError saying what is wrong with it.
Converter = Callable[[Any], Any]

#: Key in a settings field's metadata: the field's `Declaration`.
DECLARATION = "seldon_parameter"

#: Which Python values Seldon hands a parameter of each type (an INT value is a fine FLOAT).
_ACCEPTED_TYPES: dict[str, tuple[type, ...]] = {
    "INT": (int,),
    "FLOAT": (int, float),
    "STRING": (str,),
    "BOOL": (bool,),
}
#: The manifest types that satisfy a field of each Seldon type.
MANIFEST_TYPES: dict[str, tuple[str, ...]] = {
    "INT": ("INT",),
    "FLOAT": ("FLOAT", "DOUBLE", "INT"),
    "STRING": ("STRING",),
    "BOOL": ("BOOL",),
}


@dataclass(frozen=True)
class Declaration:
    """What one `seldon_parameter` field declares, kept in the field's metadata."""

    seldon_type: str
    doc: str
    #: given value -> a value of the Seldon type; None means "as if not given"
    accept: Converter
    #: value of the Seldon type -> the field's value (parsed, range-checked)
    convert: Converter | None = None
    #: the spellings a manifest must use (the validator refuses any other)
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class ParameterSpec:
    """One accepted parameter as a manifest sees it: name, Seldon type, required, choices."""

    name: str
    seldon_type: str
    doc: str
    required: bool
    choices: tuple[str, ...] = ()

    @property
    def seldon_types(self) -> tuple[str, ...]:
        """The manifest types that feed this parameter, the preferred one first."""
        return MANIFEST_TYPES[self.seldon_type]


def seldon_parameter(
    seldon_type: str,
    default: Any = None,
    *,
    doc: str,
    required: bool = False,
    accept: Converter | None = None,
    convert: Converter | None = None,
    choices: tuple[str, ...] = (),
) -> Any:
    """A settings field fed by a Seldon parameter of `seldon_type` (INT, FLOAT, STRING, BOOL).

    By default a value must already have the Seldon type, as `seldon-core-microservice` types
    it; `accept` replaces that check (for values a direct caller may spell otherwise), and
    `convert` then turns the value into the field's. A `required` field has no default.
    """
    if seldon_type not in _ACCEPTED_TYPES:
        raise ValueError(f"unknown Seldon parameter type {seldon_type!r}")
    declaration = Declaration(
        seldon_type, doc, accept or _typed_by_seldon(seldon_type), convert, choices
    )
    metadata = {DECLARATION: declaration}
    if required:
        return dataclasses.field(metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


class SeldonSettings:
    """Base of every class's settings: a frozen dataclass of `seldon_parameter` fields."""

    #: how an unknown parameter is refused; `{known}` lists the declared ones
    unknown_parameter: ClassVar[str] = "unknown parameter (known: {known})"

    @classmethod
    def from_parameters(cls, **parameters: Any) -> Self:
        """Settings from Seldon parameters (or constructor kwargs); ConfigurationError if wrong."""
        return parse_settings(cls, parameters)


def declared_parameters(settings_type: type) -> dict[str, ParameterSpec]:
    """Parameter name -> what a manifest must say about it, in declaration order."""
    return {
        field.name: ParameterSpec(
            field.name,
            declaration.seldon_type,
            declaration.doc,
            _required(field),
            declaration.choices,
        )
        for field, declaration in _declared_fields(settings_type)
    }


def parameter_types(settings_type: type) -> dict[str, str]:
    """Parameter name -> Seldon type, for validating a manifest's `parameters`."""
    return {
        field.name: declaration.seldon_type
        for field, declaration in _declared_fields(settings_type)
    }


def parse_settings(settings_type: type[SettingsT], parameters: Mapping[str, Any]) -> SettingsT:
    """Build `settings_type` from typed Seldon parameters; a wrong one raises ConfigurationError.

    Unknown names are refused first, then each field is read in declaration order, then the
    settings' own cross-field checks (`__post_init__`) run.
    """
    known = {
        field.name: (field, declaration) for field, declaration in _declared_fields(settings_type)
    }
    for name in parameters:
        if name not in known:
            listed = ", ".join(sorted(known)) or "none"
            raise ConfigurationError(name, settings_type.unknown_parameter.format(known=listed))
    values: dict[str, Any] = {}
    for name, (field, declaration) in known.items():
        value = None
        if name in parameters:
            value = _applied(name, declaration.accept, parameters[name])
        if value is None:
            if _required(field):
                raise ConfigurationError(name, "is required")
            continue
        if declaration.convert is not None:
            value = _applied(name, declaration.convert, value)
        values[name] = value
    return settings_type(**values)


def _declared_fields(settings_type: type) -> list[tuple[dataclasses.Field[Any], Declaration]]:
    return [
        (field, field.metadata[DECLARATION])
        for field in dataclasses.fields(settings_type)
        if DECLARATION in field.metadata
    ]


def _required(field: dataclasses.Field[Any]) -> bool:
    return field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING


def _applied(name: str, converter: Converter, value: Any) -> Any:
    """`converter(value)`; a plain ValueError becomes a ConfigurationError naming `name`."""
    try:
        return converter(value)
    except ConfigurationError:
        raise
    except ValueError as error:
        raise ConfigurationError(name, str(error)) from None


def _typed_by_seldon(seldon_type: str) -> Converter:
    """The check for a value Seldon has already typed: it must be of `seldon_type`."""
    accepted = _ACCEPTED_TYPES[seldon_type]

    def typed(value: Any) -> Any:
        if isinstance(value, bool) and bool not in accepted:
            raise ValueError(f"expected {seldon_type}, got BOOL {value!r}")
        if not isinstance(value, accepted):
            raise ValueError(f"expected {seldon_type}, got {value!r}")
        if seldon_type == "FLOAT" and isinstance(value, int | float):
            value = float(value)
            if not math.isfinite(value):
                raise ValueError(f"must be a finite number, got {value!r}")
        return value

    return typed


def parse_number_list(text: str) -> tuple[float, ...]:
    """A list of finite numbers from a JSON list (`[0.7, 0.3]`) or comma-separated (`0.7,0.3`)."""
    stripped = text.strip()
    if not stripped:
        raise ValueError("is empty; give a JSON list or comma-separated numbers")
    items: list[Any]
    if stripped.startswith("["):
        try:
            loaded = json.loads(stripped)
        except json.JSONDecodeError as error:
            raise ValueError(f"is not a valid JSON list: {error.msg}") from None
        if not isinstance(loaded, list):
            raise ValueError("must be a JSON list of numbers")
        items = loaded
    else:
        items = [part.strip() for part in stripped.split(",")]
    numbers: list[float] = []
    for item in items:
        if isinstance(item, bool):
            raise ValueError(f"{item!r} is not a number")
        try:
            number = float(item)
        except (TypeError, ValueError):
            raise ValueError(f"{item!r} is not a number") from None
        if not math.isfinite(number):
            raise ValueError(f"{item!r} is not a finite number")
        numbers.append(number)
    return tuple(numbers)


def normalised_weights(parameter: str, weights: tuple[float, ...]) -> tuple[float, ...]:
    """Non-negative weights scaled to sum to one; fails naming `parameter` otherwise."""
    if not all(math.isfinite(weight) for weight in weights):
        raise ConfigurationError(parameter, f"weights must be finite, got {list(weights)}")
    if any(weight < 0 for weight in weights):
        raise ConfigurationError(parameter, f"weights must not be negative, got {list(weights)}")
    largest = max(weights, default=0.0)
    if largest <= 0:
        raise ConfigurationError(parameter, f"weights must not all be zero, got {list(weights)}")
    if largest > 1e300:  # their sum would overflow: scale them down first
        weights = tuple(weight / largest for weight in weights)
    total = math.fsum(weights)
    return tuple(weight / total for weight in weights)


#: The largest REST body a graph component (router, combiner) reads unless told otherwise.
DEFAULT_COMPONENT_BODY_BYTES = 64 * 1024 * 1024
#: The largest limit a component may be given (what a gRPC message can hold).
MAX_COMPONENT_BODY_BYTES = 2**31 - 1


def _body_limit(size: int) -> int:
    if not 0 < size <= MAX_COMPONENT_BODY_BYTES:
        raise ValueError(f"must be between 1 and {MAX_COMPONENT_BODY_BYTES}, got {size}")
    return size


@dataclass(frozen=True, kw_only=True)
class ComponentSettings(SeldonSettings):
    """What every graph component of ours declares besides its own settings: the largest
    request body its REST port reads (a larger one is a 413 before it is read)."""

    max_message_bytes: int = seldon_parameter(
        "INT",
        DEFAULT_COMPONENT_BODY_BYTES,
        convert=_body_limit,
        doc="largest REST request body read, in bytes (413 beyond)",
    )
