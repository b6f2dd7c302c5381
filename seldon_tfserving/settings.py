"""TfServingModel's parameters as one typed, frozen object, validated once at start-up.

Seldon hands `parameters` to the class constructor already typed (INT -> int, STRING -> str,
...); a caller constructing the class directly may pass numbers as strings. Every problem is
raised as `ConfigurationError` naming the parameter, so a bad manifest fails at start-up with
a message that says which value to fix. No TensorFlow here: the deploy helper imports this.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from seldon_tfserving.errors import ConfigurationError

Transport = Literal["grpc", "rest"]

#: gRPC's own ceiling for a message size (a signed 32-bit length).
MAX_GRPC_MESSAGE_BYTES = 2**31 - 1

_HOST_PORT = re.compile(r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(?P<port>[0-9]{1,5})$")


@dataclass(frozen=True)
class TfServingSettings:
    """Where TF Serving is, which model/signature to call, and how patiently.

    Field names are the Seldon parameter names; the defaults here are the only defaults.
    """

    model_name: str
    grpc_endpoint: str = "localhost:8500"
    rest_endpoint: str = "http://localhost:8501"
    signature_name: str = "serving_default"
    model_input: str | None = None
    model_output: str | None = None
    transport: Transport = "grpc"
    model_version: int | None = None
    version_label: str | None = None
    timeout_ms: int = 5000
    max_retries: int = 2
    max_message_bytes: int = 256 * 1024 * 1024
    ready_timeout_s: float = 60.0

    @classmethod
    def from_parameters(cls, **parameters: Any) -> TfServingSettings:
        """Parse Seldon parameters (or constructor kwargs); raise ConfigurationError if wrong."""
        known = {f.name for f in dataclasses.fields(cls)}
        for name in parameters:
            if name not in known:
                raise ConfigurationError(
                    name, f"unknown parameter; known parameters are {', '.join(sorted(known))}"
                )
        defaults: dict[str, Any] = {f.name: f.default for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        values["model_name"] = _required_text(parameters, "model_name")
        values["grpc_endpoint"] = _grpc_endpoint(
            _text(parameters, "grpc_endpoint", defaults["grpc_endpoint"])
        )
        values["rest_endpoint"] = _rest_endpoint(
            _text(parameters, "rest_endpoint", defaults["rest_endpoint"])
        )
        values["signature_name"] = _text(parameters, "signature_name", defaults["signature_name"])
        values["model_input"] = _optional_text(parameters, "model_input")
        values["model_output"] = _optional_text(parameters, "model_output")
        transport = _text(parameters, "transport", defaults["transport"]).lower()
        if transport not in ("grpc", "rest"):
            raise ConfigurationError("transport", f"must be 'grpc' or 'rest', not {transport!r}")
        values["transport"] = transport
        version = _optional_int(parameters, "model_version")
        if version is not None and version <= 0:
            raise ConfigurationError("model_version", f"must be a positive integer, not {version}")
        label = _optional_text(parameters, "version_label")
        if version is not None and label is not None:
            raise ConfigurationError(
                "version_label", "set either model_version or version_label, not both"
            )
        values["model_version"] = version
        values["version_label"] = label
        values["timeout_ms"] = _int(parameters, "timeout_ms", defaults["timeout_ms"])
        if values["timeout_ms"] <= 0:
            raise ConfigurationError("timeout_ms", "must be greater than 0")
        values["max_retries"] = _int(parameters, "max_retries", defaults["max_retries"])
        if not 0 <= values["max_retries"] <= 10:
            raise ConfigurationError("max_retries", "must be between 0 and 10")
        values["max_message_bytes"] = _int(
            parameters, "max_message_bytes", defaults["max_message_bytes"]
        )
        if not 0 < values["max_message_bytes"] <= MAX_GRPC_MESSAGE_BYTES:
            raise ConfigurationError(
                "max_message_bytes", f"must be between 1 and {MAX_GRPC_MESSAGE_BYTES}"
            )
        values["ready_timeout_s"] = _float(
            parameters, "ready_timeout_s", defaults["ready_timeout_s"]
        )
        if values["ready_timeout_s"] < 0:
            raise ConfigurationError("ready_timeout_s", "must be 0 or more")
        return cls(**values)

    @property
    def timeout_s(self) -> float:
        return self.timeout_ms / 1000.0


def _text(parameters: dict[str, Any], name: str, default: str) -> str:
    value = parameters.get(name, default)
    if not isinstance(value, str):
        raise ConfigurationError(name, f"must be a string, not {type(value).__name__}")
    value = value.strip()
    if not value:
        raise ConfigurationError(name, "must not be empty")
    return value


def _required_text(parameters: dict[str, Any], name: str) -> str:
    if parameters.get(name) is None:
        raise ConfigurationError(name, "is required")
    return _text(parameters, name, "")


def _optional_text(parameters: dict[str, Any], name: str) -> str | None:
    value = parameters.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigurationError(name, f"must be a string, not {type(value).__name__}")
    return value.strip() or None


def _int(parameters: dict[str, Any], name: str, default: int) -> int:
    value = _optional_int(parameters, name)
    return default if value is None else value


def _optional_int(parameters: dict[str, Any], name: str) -> int | None:
    value = parameters.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ConfigurationError(name, "must be an integer, not a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise ConfigurationError(name, f"must be an integer, not {value!r}")


def _float(parameters: dict[str, Any], name: str, default: float) -> float:
    value = parameters.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    if isinstance(value, bool):
        raise ConfigurationError(name, "must be a number, not a boolean")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigurationError(name, f"must be a number, not {value!r}") from None
    if not math.isfinite(number):
        raise ConfigurationError(name, f"must be a finite number, not {value!r}")
    return number


def _grpc_endpoint(value: str) -> str:
    """`host:port` or `[v6]:port`, as gRPC's default resolver takes it; unix sockets too."""
    if value.startswith(("unix:", "unix-abstract:")):
        return value
    match = _HOST_PORT.match(value)
    if match is None or not 0 < int(match["port"]) < 65536:
        raise ConfigurationError(
            "grpc_endpoint", f"must look like host:port (e.g. localhost:8500), not {value!r}"
        )
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
        raise ConfigurationError(
            "rest_endpoint",
            f"must look like http://host:port (e.g. http://localhost:8501), not {value!r}",
        )
    return value.rstrip("/")
