"""Which of our Seldon classes a manifest runs, and which parameters each accepts.

The convention, shared by the validator, `render` and the local runner, and the same one the
wrapper image follows (s2i/.s2i/environment, s2i/Dockerfile):

* A graph node runs in the container whose `name` equals the node's `name` (Seldon's rule).
* That container's env `MODEL_NAME` names the class, as `seldon-core-microservice` takes it:
  `seldon_tfserving.TfServingModel`, `seldon_tfserving.ABTestRouter`, ... (the short name,
  `TfServingModel`, is understood too). Env `SERVICE_TYPE` is MODEL, ROUTER or COMBINER and
  must agree with the node's `type`.
* The class's settings come from the graph node's `parameters` (Seldon hands them to the
  container as PREDICTIVE_UNIT_PARAMETERS; the runner passes `--parameters`).

Each class exposes `settings_type`, a frozen dataclass whose field names are the accepted
parameter names; a field's Seldon type is its metadata `seldon_type` (policies/parameters.py)
or else follows its annotation (int -> INT, float -> FLOAT/DOUBLE, str -> STRING,
bool -> BOOL). The validator then builds the settings as the class does at start-up
(`from_parameters`, or `parse_settings`), so a value the class would refuse is refused
here. Settings are imported lazily and never import TensorFlow.
"""

from __future__ import annotations

import dataclasses
import importlib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PACKAGE = "seldon_tfserving"
MODEL_NAME_ENV = "MODEL_NAME"
SERVICE_TYPE_ENV = "SERVICE_TYPE"


@dataclass(frozen=True)
class ParameterSpec:
    """One accepted parameter: its name, the Seldon types that parse into it, its choices."""

    name: str
    seldon_types: tuple[str, ...]
    required: bool = False
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class ComponentClass:
    """One Seldon class of ours, where its settings dataclass lives, and its service type."""

    name: str
    service_type: str
    module: str
    #: attribute path inside `module` to the settings dataclass
    settings_attr: str

    @property
    def interface(self) -> str:
        """The MODEL_NAME / `seldon-core-microservice` argument for this class."""
        return f"{PACKAGE}.{self.name}"

    def settings_type(self) -> type[Any]:
        """The settings dataclass, imported now (not at import time of this module)."""
        target: Any = importlib.import_module(self.module)
        for part in self.settings_attr.split("."):
            target = getattr(target, part)
        if not (isinstance(target, type) and dataclasses.is_dataclass(target)):
            raise TypeError(f"{self.module}.{self.settings_attr} is not a dataclass")
        return target

    def parameters(self) -> dict[str, ParameterSpec]:
        """Accepted parameter name -> spec, read from the settings dataclass."""
        return parameters_of(self.settings_type())

    def build_settings(self, values: Mapping[str, Any]) -> None:
        """Build the settings from typed values exactly as the class does at start-up.

        Raises the class's ConfigurationError (a ValueError naming the parameter) when the
        component would refuse to start.
        """
        settings = self.settings_type()
        from_parameters = getattr(settings, "from_parameters", None)
        if from_parameters is not None:
            from_parameters(**values)
            return
        parameters = importlib.import_module(f"{PACKAGE}.policies.parameters")
        parameters.parse_settings(settings, values)


def _component(
    name: str, service_type: str, module: str, settings_attr: str = ""
) -> ComponentClass:
    return ComponentClass(name, service_type, module, settings_attr or f"{name}.settings_type")


#: Every class `seldon-core-microservice seldon_tfserving.X` can host. TfServingModel's
#: settings are read from settings.py directly, so validating does not import TensorFlow.
COMPONENTS: dict[str, ComponentClass] = {
    c.name: c
    for c in (
        _component("TfServingModel", "MODEL", f"{PACKAGE}.settings", "TfServingSettings"),
        _component("ABTestRouter", "ROUTER", f"{PACKAGE}.routers"),
        _component("EpsilonGreedyRouter", "ROUTER", f"{PACKAGE}.routers"),
        _component("ThompsonSamplingRouter", "ROUTER", f"{PACKAGE}.routers"),
        _component("UCB1Router", "ROUTER", f"{PACKAGE}.routers"),
        _component("MeanCombiner", "COMBINER", f"{PACKAGE}.combiners"),
        _component("WeightedMeanCombiner", "COMBINER", f"{PACKAGE}.combiners"),
        _component("MajorityVoteCombiner", "COMBINER", f"{PACKAGE}.combiners"),
        _component("MaxConfidenceCombiner", "COMBINER", f"{PACKAGE}.combiners"),
    )
}


def component_named(model_name: str) -> ComponentClass | None:
    """Our class for a MODEL_NAME value (`seldon_tfserving.ABTestRouter` or `ABTestRouter`)."""
    short = model_name.removeprefix(f"{PACKAGE}.")
    return COMPONENTS.get(short)


def claims_our_package(model_name: str) -> bool:
    """True when MODEL_NAME points into this package (so it must be one of our classes)."""
    return model_name.startswith(f"{PACKAGE}.")


def container_env(container: Mapping[str, Any]) -> dict[str, str]:
    """A container's literal env values (valueFrom entries are not known until run time)."""
    env: dict[str, str] = {}
    for entry in container.get("env") or ():
        if isinstance(entry, Mapping) and "value" in entry:
            env[str(entry.get("name"))] = str(entry["value"])
    return env


#: Seldon's own BOOL spelling (seldon_core.microservice.parse_parameters uses strtobool).
_TRUE = ("y", "yes", "t", "true", "on", "1")
_FALSE = ("n", "no", "f", "false", "off", "0")
#: Manifest types that feed a field declared with metadata `seldon_type`.
_MANIFEST_TYPES: dict[str, tuple[str, ...]] = {
    "INT": ("INT",),
    "FLOAT": ("FLOAT", "DOUBLE", "INT"),
    "DOUBLE": ("FLOAT", "DOUBLE", "INT"),
    "STRING": ("STRING",),
    "BOOL": ("BOOL",),
}


def parse_seldon_value(seldon_type: str, value: str) -> int | float | str | bool:
    """A parameter value as `seldon-core-microservice` converts it (ValueError if it cannot)."""
    if seldon_type == "INT":
        return int(value)
    if seldon_type in ("FLOAT", "DOUBLE"):
        return float(value)
    if seldon_type == "BOOL":
        lowered = value.lower()
        if lowered in _TRUE or lowered in _FALSE:
            return lowered in _TRUE
        raise ValueError(f"{value!r} is not a truth value")
    if seldon_type == "STRING":
        return value
    raise ValueError(f"unknown parameter type {seldon_type!r}")


_SELDON_TYPES: dict[Any, tuple[str, ...]] = {
    bool: ("BOOL",),
    int: ("INT",),
    float: ("FLOAT", "DOUBLE", "INT"),
    str: ("STRING",),
}


def _seldon_types(annotation: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(Seldon types, string choices) for one dataclass field annotation."""
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        choices = tuple(str(v) for v in typing.get_args(annotation))
        return ("STRING",), choices
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return _seldon_types(members[0])
        return ("STRING",), ()
    return _SELDON_TYPES.get(annotation, ("STRING",)), ()


def parameters_of(settings: type[Any]) -> dict[str, ParameterSpec]:
    """Accepted parameters of a settings dataclass: names, Seldon types, required or not."""
    try:
        hints = typing.get_type_hints(settings)
    except (NameError, TypeError):
        hints = {}
    result: dict[str, ParameterSpec] = {}
    for field in dataclasses.fields(settings):
        if not field.init:
            continue
        declared = field.metadata.get("seldon_type")
        choices: tuple[str, ...]
        if declared in _MANIFEST_TYPES:
            seldon_types, choices = _MANIFEST_TYPES[declared], ()
        else:
            seldon_types, choices = _seldon_types(hints.get(field.name, field.type))
        required = (
            field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
        )
        result[field.name] = ParameterSpec(field.name, seldon_types, required, choices)
    return result
