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
parameter names and whose field types give the Seldon parameter type (int -> INT,
float -> FLOAT or DOUBLE, str -> STRING, bool -> BOOL). Settings are imported lazily, so
validating a manifest never imports TensorFlow.
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
        try:
            settings = self.settings_type()
        except (ModuleNotFoundError, AttributeError):
            if self.name in _INTERIM_PARAMETERS:  # TODO: drop when the classes have landed
                return {
                    name: ParameterSpec(name, _SELDON_TYPES[kind])
                    for name, kind in _INTERIM_PARAMETERS[self.name].items()
                }
            raise
        return parameters_of(settings)


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


#: Interim: the agreed parameter names, used only while a class's module has not landed yet.
_INTERIM_PARAMETERS: dict[str, dict[str, type]] = {
    "TfServingModel": {
        "grpc_endpoint": str,
        "rest_endpoint": str,
        "model_name": str,
        "signature_name": str,
        "model_input": str,
        "model_output": str,
        "transport": str,
        "model_version": int,
        "version_label": str,
        "timeout_ms": int,
        "max_retries": int,
        "max_message_bytes": int,
        "ready_timeout_s": float,
    },
    "ABTestRouter": {
        "ratio_a": float,
        "n_children": int,
        "weights": str,
        "seed": int,
        "sticky_key": str,
        "state_path": str,
    },
    "EpsilonGreedyRouter": {
        "n_branches": int,
        "epsilon": float,
        "best_branch": int,
        "seed": int,
        "state_path": str,
    },
    "ThompsonSamplingRouter": {
        "n_branches": int,
        "alpha0": float,
        "beta0": float,
        "seed": int,
        "state_path": str,
    },
    "UCB1Router": {"n_branches": int, "state_path": str},
    "MeanCombiner": {},
    "WeightedMeanCombiner": {"weights": str},
    "MajorityVoteCombiner": {"output": str},
    "MaxConfidenceCombiner": {},
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
        seldon_types, choices = _seldon_types(hints.get(field.name, field.type))
        required = (
            field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
        )
        result[field.name] = ParameterSpec(field.name, seldon_types, required, choices)
    return result
