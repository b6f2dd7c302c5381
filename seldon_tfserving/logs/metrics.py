"""The sink's own Prometheus metrics, in a registry of its own (served on /metrics)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

PREFIX = "seldon_tfserving_log_sink"


class SinkMetrics:
    """Events received (by type), written, dead-lettered; rows written; write latency."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.received = Counter(
            f"{PREFIX}_events_received", "CloudEvents received", ["type"], registry=self.registry
        )
        self.written = Counter(
            f"{PREFIX}_events_written",
            "events whose rows are in Parquet files",
            registry=self.registry,
        )
        self.dead_lettered = Counter(
            f"{PREFIX}_events_dead_lettered",
            "events kept in the dead-letter file instead",
            registry=self.registry,
        )
        self.rows_written = Counter(
            f"{PREFIX}_rows_written", "rows written to Parquet", registry=self.registry
        )
        self.write_seconds = Histogram(
            f"{PREFIX}_write_seconds",
            "time to write one batch of Parquet files",
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
        )

    def on_written(self, rows: int, events: int, seconds: float) -> None:
        self.rows_written.inc(rows)
        self.written.inc(events)
        self.write_seconds.observe(seconds)
