"""The bounds of a component's REST port and of its stop, read once from the environment (each
variable named after what it bounds); no server is imported here, so every stack reads them."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

#: What only the bounded REST port applies (the stop grace holds on every stack).
REST_PORT_BOUNDS_ENV = (
    "SELDON_TFSERVING_REST_HEADER_TIMEOUT_S",
    "SELDON_TFSERVING_REST_BODY_TIMEOUT_S",
    "SELDON_TFSERVING_REST_MAX_CONNECTIONS",
)


@dataclass(frozen=True)
class ComponentServerSettings:
    """The bounds of a component's REST port beyond Seldon's own options (env, in seconds)."""

    #: SELDON_TFSERVING_REST_HEADER_TIMEOUT_S: a request's headers must be in by then
    header_timeout_s: float = 10.0
    #: SELDON_TFSERVING_REST_BODY_TIMEOUT_S: its body, from the end of the headers
    body_timeout_s: float = 60.0
    #: SELDON_TFSERVING_REST_MAX_CONNECTIONS: open connections per worker (beyond: closed)
    max_connections: int = 1000
    #: SELDON_TFSERVING_STOP_GRACE_S: after SIGTERM, how long requests in flight may take
    stop_grace_s: float = 3.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ComponentServerSettings:
        """The settings the environment gives; a bad value fails at start, naming its key."""
        source = os.environ if env is None else env
        defaults = cls()
        return cls(
            header_timeout_s=_positive(
                source, "SELDON_TFSERVING_REST_HEADER_TIMEOUT_S", defaults.header_timeout_s
            ),
            body_timeout_s=_positive(
                source, "SELDON_TFSERVING_REST_BODY_TIMEOUT_S", defaults.body_timeout_s
            ),
            max_connections=int(
                _positive(source, "SELDON_TFSERVING_REST_MAX_CONNECTIONS", defaults.max_connections)
            ),
            stop_grace_s=_positive(source, "SELDON_TFSERVING_STOP_GRACE_S", defaults.stop_grace_s),
        )


def _positive(env: Mapping[str, str], key: str, default: float) -> float:
    raw = env.get(key)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{key} must be a number of seconds or a count, got {raw!r}") from None
    if not value > 0:
        raise ValueError(f"{key} must be greater than 0, got {raw!r}")
    return value
