"""A router's decision as the SeldonMessage JSON Seldon's executor reads a `:route` reply as.

The executor parses the reply strictly (jsonpb: unknown fields refused) and takes the first
number of `data.ndarray`; the router's tags travel in `meta.tags`, as Seldon's own
microservice writes them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def route_reply_json(branch: int, tags: Mapping[str, Any]) -> bytes:
    """`{"data": {"names": [], "ndarray": [[branch]]}, "meta": {"tags": {...}}}`."""
    document = {
        "meta": {"tags": dict(tags)},
        "data": {"names": [], "ndarray": [[branch]]},
    }
    return json.dumps(document).encode("utf-8")
