"""Which seldon-core hosts our classes, read once, and whether the hooks fit it.

The hooks reach into seldon-core's wrapper (the Flask app factory, the gRPC servicer and
server), its metrics object and its user-model helpers. Those are the same in 1.17.1 (the last
Apache-2.0 release) and 1.19.0 (BSL 1.1): the two packages' Python differs in formatting only.
What differs is the stack around them (Flask 2.2 / 3.1, gunicorn 20.1 / 23+, protobuf 3.20 / 5),
which the glue meets through public APIs present in both. A release outside the range tested,
or one missing a piece the hooks use, is refused at start-up, naming it.
"""

from __future__ import annotations

import functools
import importlib
import re
from dataclasses import dataclass
from importlib import metadata

#: The releases tested (`make test`, `make test-apache`): from 1.17.1 up to, not including, 1.20.
OLDEST = (1, 17, 1)
NEWER_THAN_TESTED = (1, 20)
#: The first release under the Business Source License 1.1.
FIRST_BSL = (1, 18)
_RELEASE = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")

#: Seldon's gRPC servicer methods the hooks wrap (`SeldonModelGRPC`).
SERVICER_METHODS = (
    "Predict",
    "SendFeedback",
    "TransformInput",
    "TransformOutput",
    "Route",
    "Aggregate",
    "Metadata",
    "ModelMetadata",
)
#: What the hooks use of seldon-core, module by module.
HOOKED_NAMES: dict[str, tuple[str, ...]] = {
    "seldon_core.wrapper": ("SeldonModelGRPC", "get_rest_microservice", "get_grpc_server"),
    "seldon_core.seldon_methods": (
        "handle_raw_custom_metrics",
        "INCLUDE_METRICS_IN_CLIENT_RESPONSE",
    ),
    "seldon_core.metrics": (
        "PREDICT_METRIC_METHOD_TAG",
        "FEEDBACK_METRIC_METHOD_TAG",
        "FEEDBACK_KEY",
        "FEEDBACK_REWARD_KEY",
        "legacy_mode",
    ),
    "seldon_core.user_model": ("SeldonNotImplementedError",),
}


class UnsupportedSeldonCore(RuntimeError):
    """The installed seldon-core is not one our hooks fit; raised at start-up, naming why."""


@dataclass(frozen=True)
class SeldonCoreRelease:
    """The installed seldon-core: its version and the licence it is under."""

    version: str
    release: tuple[int, ...]

    @property
    def licence(self) -> str:
        return "BSL-1.1" if self.release[:2] >= FIRST_BSL else "Apache-2.0"


def release_of(version: str) -> tuple[int, ...]:
    """`1.19.0` -> (1, 19, 0); a pre-release counts as its release (`1.19.0rc1` -> 1.19.0)."""
    match = _RELEASE.match(version)
    if match is None:
        raise UnsupportedSeldonCore(f"seldon-core's version {version!r} is not a release number")
    return tuple(int(part) for part in match.groups(default="0"))


def check_release(version: str) -> SeldonCoreRelease:
    """`version` as a tested release, or UnsupportedSeldonCore naming the range."""
    release = release_of(version)
    if release < OLDEST or release[:2] >= NEWER_THAN_TESTED:
        raise UnsupportedSeldonCore(
            f"seldon-core {version} is not supported: seldon-tfserving hosts its classes on "
            "seldon-core 1.17.1 to 1.19.x (its hooks reach into seldon-core's wrapper)"
        )
    return SeldonCoreRelease(version, release)


def missing_pieces() -> list[str]:
    """The pieces of seldon-core the hooks use that the installed release lacks."""
    missing = []
    for module_name, names in HOOKED_NAMES.items():
        module = importlib.import_module(module_name)
        missing += [f"{module_name}.{name}" for name in names if not hasattr(module, name)]
    servicer = getattr(importlib.import_module("seldon_core.wrapper"), "SeldonModelGRPC", None)
    if servicer is not None:
        missing += [
            f"seldon_core.wrapper.SeldonModelGRPC.{name}"
            for name in SERVICER_METHODS
            if not hasattr(servicer, name)
        ]
    return missing


@functools.cache
def hosting_release() -> SeldonCoreRelease:
    """The seldon-core hosting this process, checked once, before any hook is installed."""
    hosting = check_release(metadata.version("seldon-core"))
    missing = missing_pieces()
    if missing:
        raise UnsupportedSeldonCore(
            f"seldon-core {hosting.version} lacks what seldon-tfserving's hooks use: "
            + ", ".join(missing)
        )
    return hosting


#: The gunicorn whose asyncio worker serves the bounded REST port (`rest_worker.py`).
BOUNDED_REST_GUNICORN = (27, 0)


@functools.cache
def bounded_rest_port_missing() -> str | None:
    """Why this stack cannot serve the bounded REST port, or None when it can: it is built on
    gunicorn 27's asyncio worker, and seldon-core 1.17.1 caps gunicorn below 20.2."""
    version = metadata.version("gunicorn")
    found = _RELEASE.match(version)
    release = tuple(int(part) for part in found.groups() if part) if found else ()
    if release[:2] >= BOUNDED_REST_GUNICORN:
        return None
    wanted = ".".join(map(str, BOUNDED_REST_GUNICORN))
    return f"it needs gunicorn {wanted} or later, this stack has gunicorn {version}"
