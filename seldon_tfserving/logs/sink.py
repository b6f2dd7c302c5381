"""The log sink's core: an event in, a row out, or a dead letter with the reason.

`receive` returns only once the event is held (joined in memory, or dead-lettered on disk);
`stop` writes everything held, so an event that was answered 200 is never lost to a SIGTERM.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from seldon_tfserving.logs import seldon_bodies, tf_bodies
from seldon_tfserving.logs.bodies import Answer, FeedbackBody, Instances
from seldon_tfserving.logs.dead_letter import DeadLetters
from seldon_tfserving.logs.events import EventRejected, LoggedEvent, read_event
from seldon_tfserving.logs.joiner import FeedbackRecord, PredictionJoiner, PredictionRecord
from seldon_tfserving.logs.metrics import SinkMetrics
from seldon_tfserving.logs.rows import FEEDBACK, PREDICTIONS, feedback_rows, prediction_rows
from seldon_tfserving.logs.store import ParquetStore


@dataclass(frozen=True)
class SinkSettings:
    """Where rows go and how they are batched."""

    root: Path
    batch_rows: int = 1000
    batch_s: float = 5.0
    settle_s: float = 1.0
    max_pending: int = 10_000


@dataclass(frozen=True)
class Receipt:
    """The answer to the sender: 200 when held, 400 with the reason when dead-lettered."""

    status: int
    reason: str = ""


def read_body(event: LoggedEvent) -> Instances | Answer | FeedbackBody:
    """The event's body read by its kind and protocol (feedback is always Seldon's)."""
    if event.kind == "feedback":
        return seldon_bodies.read_feedback(
            seldon_bodies.seldon_document(event.body, event.content_type, feedback=True)
        )
    if event.protocol == "tensorflow":
        if event.kind == "request":
            return tf_bodies.read_instances(event.body, event.content_type)
        return tf_bodies.read_answer(event.body, event.content_type)
    document = seldon_bodies.seldon_document(event.body, event.content_type)
    if event.kind == "request":
        return seldon_bodies.read_instances(document)
    return seldon_bodies.read_answer(document)


def load_proto_readers() -> None:
    """Import the protobuf readers now, not inside a sender's request: their first import loads
    TensorFlow's protos (and its whole runtime, unless `tensorflow_protos_only` came first)."""
    import seldon_core.proto.prediction_pb2  # noqa: F401
    import tensorflow_serving.apis.predict_pb2  # noqa: F401

    import seldon_tfserving.codec.tensor_proto  # noqa: F401


class LogSink:
    """Joins events into rows and keeps them in a ParquetStore; a flusher thread writes."""

    def __init__(self, settings: SinkSettings, metrics: SinkMetrics | None = None) -> None:
        self.settings = settings
        self.metrics = metrics or SinkMetrics()
        self.joiner = PredictionJoiner(settings.settle_s, settings.max_pending)
        self.store = ParquetStore(
            settings.root, settings.batch_rows, settings.batch_s, self.metrics.on_written
        )
        self.dead_letters = DeadLetters(settings.root)
        self._stopping = threading.Event()
        self._flusher = threading.Thread(target=self._flush_loop, name="log-sink-flusher")

    def start(self) -> None:
        self._flusher.start()

    def receive(self, headers: Mapping[str, str], body: bytes) -> Receipt:
        try:
            event = read_event(headers, body)
        except EventRejected as rejected:
            self.metrics.received.labels("unknown").inc()
            return self._dead_letter(rejected, headers, body)
        self.metrics.received.labels(event.kind).inc()
        try:
            parsed = read_body(event)
        except EventRejected as rejected:
            return self._dead_letter(rejected, headers, body)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as error:
            reason = EventRejected(f"the {event.kind} body does not read: {error!r}")
            return self._dead_letter(reason, headers, body)
        if isinstance(parsed, FeedbackBody):
            record = FeedbackRecord(event, parsed.request_id or event.request_id, parsed)
            self.store.add(FEEDBACK, feedback_rows(record), events=1)
        else:
            self._write(self.joiner.add(event, parsed))
        return Receipt(200)

    def _dead_letter(
        self, rejected: EventRejected, headers: Mapping[str, str], body: bytes
    ) -> Receipt:
        self.dead_letters.keep(str(rejected), headers, body)
        self.metrics.dead_lettered.inc()
        return Receipt(400, str(rejected))

    def _write(self, records: list[PredictionRecord]) -> None:
        for record in records:
            self.store.add(PREDICTIONS, prediction_rows(record), events=record.events)

    def _flush_loop(self) -> None:
        tick = max(0.05, min(self.settings.settle_s, self.settings.batch_s) / 4)
        while not self._stopping.wait(tick):
            self._write(self.joiner.settled())
            self.store.flush_if_due()

    def stop(self) -> None:
        """Write every held prediction and row, then end the flusher."""
        self._stopping.set()
        if self._flusher.is_alive():
            self._flusher.join()
        self._write(self.joiner.settled(force=True))
        self.store.flush()
