"""Request, response and feedback of one prediction joined by request id and node.

Events of one prediction arrive within milliseconds, in any order (the logger posts from
several workers). A prediction is held until no event of it came for `settle_s`, then handed
on whole, so every row knows the path the prediction took. Memory is bounded: past
`max_pending` predictions the oldest is handed on at once.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from seldon_tfserving.logs.bodies import Answer, FeedbackBody, Instances
from seldon_tfserving.logs.events import LoggedEvent


@dataclass
class NodeRecord:
    """What one graph node logged for one prediction."""

    protocol: str
    request: Instances | None = None
    request_time: datetime | None = None
    answer: Answer | None = None
    answer_time: datetime | None = None
    #: arrival order of answers across the prediction's nodes (for its path)
    answer_order: int = -1


@dataclass
class PredictionRecord:
    """Every node's record of one prediction (one request id of one deployment)."""

    request_id: str
    deployment: str
    predictor: str
    nodes: dict[str, NodeRecord] = field(default_factory=dict)
    events: int = 0
    last_seen: float = 0.0
    answers: int = 0

    def path(self) -> list[str]:
        """The nodes that answered, in the order they answered (leaves first): by the time
        each event says its answer was made, then by arrival. Loggers post concurrently, so
        arrival alone can put a router before the child it waited for."""
        answered = [
            (n.answer_time or datetime.max.replace(tzinfo=UTC), n.answer_order, name)
            for name, n in self.nodes.items()
            if n.answer
        ]
        return [name for *_, name in sorted(answered)]


@dataclass(frozen=True)
class FeedbackRecord:
    """One node's feedback on one prediction, kept apart from the prediction's rows."""

    event: LoggedEvent
    request_id: str
    feedback: FeedbackBody


class PredictionJoiner:
    """Holds predictions until they settle; thread-safe."""

    def __init__(self, settle_s: float = 1.0, max_pending: int = 10_000) -> None:
        self.settle_s = settle_s
        self.max_pending = max_pending
        self._pending: OrderedDict[tuple[str, str], PredictionRecord] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._pending)

    def add(self, event: LoggedEvent, body: Instances | Answer) -> list[PredictionRecord]:
        """Join `event`; the predictions pushed out to keep memory bounded come back."""
        key = (event.deployment, event.request_id)
        with self._lock:
            record = self._pending.pop(key, None)
            if record is None:
                record = PredictionRecord(event.request_id, event.deployment, event.predictor)
            self._pending[key] = record  # most recently seen last
            node = record.nodes.setdefault(event.node, NodeRecord(event.protocol))
            if isinstance(body, Instances):
                node.request, node.request_time = body, event.time
            else:
                node.answer, node.answer_time = body, event.time
                node.answer_order = record.answers
                record.answers += 1
            record.events += 1
            record.last_seen = time.monotonic()
            evicted: list[PredictionRecord] = []
            while len(self._pending) > self.max_pending:
                evicted.append(self._pending.popitem(last=False)[1])
            return evicted

    def settled(self, force: bool = False) -> list[PredictionRecord]:
        """Predictions that had no event for `settle_s` (every one when `force`)."""
        cutoff = time.monotonic() - self.settle_s
        done: list[PredictionRecord] = []
        with self._lock:
            while self._pending:
                key, record = next(iter(self._pending.items()))
                if not force and record.last_seen > cutoff:
                    break
                del self._pending[key]
                done.append(record)
        return done
