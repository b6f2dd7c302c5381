"""The request logger's queue is bounded in bytes as well as in events: big bodies queued
for a slow sink cannot grow the gateway's memory past `logger_queue_bytes`."""

from __future__ import annotations

import socket
import threading
import time

from seldon_tfserving.gateway.metrics import GatewayMetrics
from seldon_tfserving.gateway.request_logger import LogEvent, RequestLogger


def test_bodies_over_the_byte_budget_are_dropped_and_counted() -> None:
    stalled = socket.socket()
    stalled.bind(("127.0.0.1", 0))
    stalled.listen(16)
    url = f"http://127.0.0.1:{stalled.getsockname()[1]}/"
    metrics = GatewayMetrics()
    logger = RequestLogger(
        "http://localhost:0/",
        metrics,
        queue_size=100,
        workers=1,
        timeout_s=5,
        max_queued_bytes=10_000,
    )
    logger.start()
    try:
        big = LogEvent(url, b"x" * 4_000, "application/json", "request", "m", "p", "d", "ns", "pr")
        for _ in range(5):
            logger.log(big)  # one is with the stalled worker, one waits: 8,000 bytes held
        time.sleep(0.2)
        assert logger.dropped == 3
        assert "seldon_api_executor_request_logger_dropped_total 3.0" in (
            metrics.exposition().decode()
        )
        small = LogEvent(url, b"{}", "application/json", "request", "m", "p", "d", "ns", "pr")
        logger.log(small)  # what fits still goes
        assert logger.dropped == 3
    finally:
        stopper = threading.Thread(target=logger.stop, kwargs={"timeout_s": 0.1})
        stopper.start()
        stalled.close()
        stopper.join(timeout=10)
