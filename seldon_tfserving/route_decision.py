"""A router's decision, as both its faces answer it (Seldon's `route` and TF Serving's `:route`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RouteDecision:
    """One routing decision: the child that runs, the tags saying why, the metrics counting it."""

    branch: int
    tags: dict[str, Any]
    metrics: list[dict[str, Any]]


#: A router's policy asked for one request: the caller's Seldon meta (puid, tags) or None.
DecideRoute = Callable[[dict[str, Any] | None], RouteDecision]
