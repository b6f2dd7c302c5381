"""Seldon `parameters` into one frozen settings object, checked once at start-up.

`seldon-core-microservice` hands a component its graph parameters as constructor keyword
arguments, already converted by their declared type (INT, FLOAT, DOUBLE, STRING, BOOL). Each
component declares a frozen dataclass whose fields carry that Seldon type in their metadata,
so the deploy validator can check a manifest without importing TensorFlow or Seldon.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Mapping
from typing import Any

from seldon_tfserving.errors import ConfigurationError

#: Key in a settings field's metadata: the Seldon parameter type a manifest must declare.
SELDON_TYPE = "seldon_type"
#: Key in a settings field's metadata: converts the typed Seldon value into the field's value.
CONVERT = "convert"

#: Which Seldon types may feed a field of each Seldon type (an INT value is a fine FLOAT).
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


def seldon_parameter(
    seldon_type: str,
    default: Any = None,
    convert: Callable[[Any], Any] | None = None,
    doc: str = "",
    required: bool = False,
) -> Any:
    """A settings field fed by a Seldon parameter of `seldon_type` (INT, FLOAT, STRING, BOOL).

    A `required` field has no default, so a manifest that leaves it out is refused.
    """
    if seldon_type not in _ACCEPTED_TYPES:
        raise ValueError(f"unknown Seldon parameter type {seldon_type!r}")
    metadata: dict[str, Any] = {SELDON_TYPE: seldon_type, "doc": doc}
    if convert is not None:
        metadata[CONVERT] = convert
    if required:
        return dataclasses.field(metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def parameter_types(settings_type: type) -> dict[str, str]:
    """Parameter name -> Seldon type, for validating a manifest's `parameters`."""
    return {
        f.name: f.metadata[SELDON_TYPE]
        for f in dataclasses.fields(settings_type)
        if SELDON_TYPE in f.metadata
    }


def parse_settings[SettingsT](
    settings_type: type[SettingsT], parameters: Mapping[str, Any]
) -> SettingsT:
    """Build `settings_type` from typed Seldon parameters; a wrong one raises ConfigurationError."""
    fields = {f.name: f for f in dataclasses.fields(settings_type)}  # type: ignore[arg-type]
    values: dict[str, Any] = {}
    for name, value in parameters.items():
        spec = fields.get(name)
        if spec is None or SELDON_TYPE not in spec.metadata:
            known = ", ".join(sorted(parameter_types(settings_type))) or "none"
            raise ConfigurationError(name, f"unknown parameter (known: {known})")
        seldon_type = spec.metadata[SELDON_TYPE]
        accepted = _ACCEPTED_TYPES[seldon_type]
        if isinstance(value, bool) and bool not in accepted:
            raise ConfigurationError(name, f"expected {seldon_type}, got BOOL {value!r}")
        if not isinstance(value, accepted):
            raise ConfigurationError(name, f"expected {seldon_type}, got {value!r}")
        if seldon_type == "FLOAT" and isinstance(value, int | float):
            value = float(value)
            if not math.isfinite(value):
                raise ConfigurationError(name, f"must be a finite number, got {value!r}")
        convert = spec.metadata.get(CONVERT)
        if convert is not None:
            try:
                value = convert(value)
            except ValueError as error:
                raise ConfigurationError(name, str(error)) from None
        values[name] = value
    for name, spec in fields.items():
        no_default = (
            spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING
        )
        if spec.init and no_default and name not in values:
            raise ConfigurationError(name, "is required")
    return settings_type(**values)


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
    if any(weight < 0 for weight in weights):
        raise ConfigurationError(parameter, f"weights must not be negative, got {list(weights)}")
    total = math.fsum(weights)
    if total <= 0:
        raise ConfigurationError(parameter, f"weights must not all be zero, got {list(weights)}")
    return tuple(weight / total for weight in weights)
