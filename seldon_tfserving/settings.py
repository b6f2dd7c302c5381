"""TfServingModel's parameters as one typed, frozen object, validated once at start-up.

Declared like every class's settings (`parameters.py`). Seldon hands `parameters` already
typed; a caller constructing the class directly may pass numbers as strings, so the readers
below accept those too. No TensorFlow or Seldon here: the deploy validator reads this.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlsplit

from seldon_tfserving.parameters import (
    ConfigurationError,
    Converter,
    SeldonSettings,
    seldon_parameter,
)
from seldon_tfserving.transport import Transport as Transport

#: gRPC's own ceiling for a message size (a signed 32-bit length).
MAX_GRPC_MESSAGE_BYTES = 2**31 - 1

_HOST_PORT = re.compile(r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(?P<port>[0-9]{1,5})$")


# --- readers: a given value as its Seldon type (None: as if not given) ------------------------


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be a string, not {type(value).__name__}")
    stripped: str = value.strip()
    if not stripped:
        raise ValueError("must not be empty")
    return stripped


def _required_text(value: Any) -> str | None:
    return None if value is None else _text(value)


def _optional_text(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"must be a string, not {type(value).__name__}")
    return value.strip() or None


def _integer(value: Any) -> int | None:
    """An int, or a whole float, or an int written as a string."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValueError("must be an integer, not a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise ValueError(f"must be an integer, not {value!r}")


def _number(value: Any) -> float | None:
    """A finite float from a number or a number written as a string."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValueError("must be a number, not a boolean")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"must be a number, not {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"must be a finite number, not {value!r}")
    return number


# --- converters: the value checked and made the field's -------------------------------------


def _grpc_endpoint(value: str) -> str:
    """`host:port` or `[v6]:port`, as gRPC's default resolver takes it; unix sockets too."""
    if value.startswith(("unix:", "unix-abstract:")):
        return value
    match = _HOST_PORT.match(value)
    if match is None or not 0 < int(match["port"]) < 65536:
        raise ValueError(f"must look like host:port (e.g. localhost:8500), not {value!r}")
    return value


def _rest_endpoint(value: str) -> str:
    """`http(s)://host:port[/prefix]`, without the trailing slash."""
    parts = urlsplit(value)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or port == -1
        or parts.query
        or parts.fragment
    ):
        raise ValueError(
            f"must look like http://host:port (e.g. http://localhost:8501), not {value!r}"
        )
    return value.rstrip("/")


def _transport(value: str) -> str:
    lowered = value.lower()
    if lowered not in ("grpc", "rest"):
        raise ValueError(f"must be 'grpc' or 'rest', not {lowered!r}")
    return lowered


def _positive_version(version: int) -> int:
    if version <= 0:
        raise ValueError(f"must be a positive integer, not {version}")
    return version


def _holds(rule: Callable[[Any], bool], problem: str) -> Converter:
    """A converter passing a value through when `rule` holds for it, else saying `problem`."""

    def checked(value: Any) -> Any:
        if not rule(value):
            raise ValueError(problem)
        return value

    return checked


@dataclass(frozen=True)
class TfServingSettings(SeldonSettings):
    """Where TF Serving is, which model/signature to call, and how patiently.

    Field names are the Seldon parameter names; the defaults here are the only defaults.
    """

    unknown_parameter: ClassVar[str] = "unknown parameter; known parameters are {known}"

    model_name: str = seldon_parameter(
        "STRING", required=True, accept=_required_text, doc="the model TF Serving serves"
    )
    grpc_endpoint: str = seldon_parameter(
        "STRING",
        "localhost:8500",
        accept=_text,
        convert=_grpc_endpoint,
        doc="TF Serving's gRPC address: host:port, [v6]:port or unix:path",
    )
    rest_endpoint: str = seldon_parameter(
        "STRING",
        "http://localhost:8501",
        accept=_text,
        convert=_rest_endpoint,
        doc="TF Serving's REST address: http(s)://host:port[/prefix]",
    )
    signature_name: str = seldon_parameter(
        "STRING", "serving_default", accept=_text, doc="the SignatureDef requests call"
    )
    model_input: str | None = seldon_parameter(
        "STRING", accept=_optional_text, doc="the signature input a Seldon payload feeds"
    )
    model_output: str | None = seldon_parameter(
        "STRING", accept=_optional_text, doc="the one signature output answered (default: all)"
    )
    transport: Transport = seldon_parameter(
        "STRING",
        "grpc",
        accept=_text,
        convert=_transport,
        choices=("grpc", "rest"),
        doc="how TF Serving is called: grpc or rest",
    )
    model_version: int | None = seldon_parameter(
        "INT",
        accept=_integer,
        convert=_positive_version,
        doc="the version pinned (default: the latest TF Serving has)",
    )
    version_label: str | None = seldon_parameter(
        "STRING", accept=_optional_text, doc="the version label pinned, instead of a version"
    )
    timeout_ms: int = seldon_parameter(
        "INT",
        5000,
        accept=_integer,
        convert=_holds(lambda ms: ms > 0, "must be greater than 0"),
        doc="deadline of each call to TF Serving, in milliseconds",
    )
    max_retries: int = seldon_parameter(
        "INT",
        2,
        accept=_integer,
        convert=_holds(lambda n: 0 <= n <= 10, "must be between 0 and 10"),
        doc="retries of a call TF Serving answered UNAVAILABLE",
    )
    max_message_bytes: int = seldon_parameter(
        "INT",
        256 * 1024 * 1024,
        accept=_integer,
        convert=_holds(
            lambda size: 0 < size <= MAX_GRPC_MESSAGE_BYTES,
            f"must be between 1 and {MAX_GRPC_MESSAGE_BYTES}",
        ),
        doc="largest request or answer exchanged with TF Serving",
    )
    ready_timeout_s: float = seldon_parameter(
        "FLOAT",
        60.0,
        accept=_number,
        convert=_holds(lambda s: s >= 0, "must be 0 or more"),
        doc="how long start-up waits for the model before /metadata goes without it",
    )

    def __post_init__(self) -> None:
        if self.model_version is not None and self.version_label is not None:
            raise ConfigurationError(
                "version_label", "set either model_version or version_label, not both"
            )

    @property
    def timeout_s(self) -> float:
        return self.timeout_ms / 1000.0
