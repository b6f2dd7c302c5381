"""Which of our Seldon classes a manifest runs, and which parameters each accepts.

The convention the validator, `render` and the local runner share with the wrapper image
(s2i/.s2i/environment, s2i/Dockerfile): a graph node runs in the container of the same
`name`; that container's env `MODEL_NAME` names our class (`seldon_tfserving.ABTestRouter`,
or just `ABTestRouter`) and `SERVICE_TYPE` agrees with the node's `type`; the node's
`parameters` become the class's settings. The classes and their declared parameters come
from `seldon_tfserving.classes`, which imports settings only, never the classes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from seldon_tfserving.classes import PACKAGE, SELDON_CLASSES, SeldonClass

MODEL_NAME_ENV = "MODEL_NAME"
SERVICE_TYPE_ENV = "SERVICE_TYPE"

#: Every class `seldon-core-microservice seldon_tfserving.X` can host, by name.
COMPONENTS: dict[str, SeldonClass] = {
    seldon_class.name: seldon_class for seldon_class in SELDON_CLASSES
}

#: Our routers whose choices change with the rewards they are sent (the bandits); the others
#: split traffic the same whatever feedback says.
FEEDBACK_LEARNERS = frozenset({"EpsilonGreedyRouter", "ThompsonSamplingRouter", "UCB1Router"})


def component_named(model_name: str) -> SeldonClass | None:
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
