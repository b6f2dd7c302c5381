"""The routing each recent prediction took, by puid, for feedback under the TF protocol.

A TF Serving body has no `meta`, so the client cannot hand `meta.routing` back with its
feedback as Seldon's protocol has it do; it hands back the puid instead (the `Seldon-Puid`
header or `meta.puid`), and the gateway finds the routing here. The map is bounded: the
oldest entries go first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

from seldon_tfserving.transport import Transport


@dataclass(frozen=True)
class TakenRouting:
    """Which predictor answered a prediction, the route each of its nodes took, and the
    transport it came by: the component processes that decided (seldon-core serves REST and
    gRPC from separate ones, each learning on its own) are the ones its feedback must reach."""

    predictor: str
    routing: Mapping[str, int]
    transport: Transport = "rest"


class RoutingMemory:
    """puid -> TakenRouting for the last `capacity` predictions."""

    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError(f"capacity must be positive, got {capacity}")
        self._capacity = capacity
        self._entries: OrderedDict[str, TakenRouting] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, puid: str, taken: TakenRouting) -> None:
        with self._lock:
            self._entries[puid] = taken
            self._entries.move_to_end(puid)
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)

    def recall(self, puid: str) -> TakenRouting | None:
        with self._lock:
            return self._entries.get(puid)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
