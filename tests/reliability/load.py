"""Closed-loop load with distinct inputs, each answer checked against its own input.

half_plus_two computes y = 0.5 x + 2; every input below is exactly representable in float32
and so is its answer, so a response that belongs to another request cannot pass the check.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import requests

#: Seconds one request may take before it counts as dropped.
REQUEST_TIMEOUT_S = 30.0


def distinct_input(thread: int, index: int, per_thread: int) -> float:
    """A value no other request of the run sends (x.25 keeps 0.5 x + 2 exact in float32)."""
    return float(thread * per_thread + index) + 0.25


def half_plus_two(x: float) -> float:
    return 0.5 * x + 2.0


def is_half_plus_two_of(answer: object, x: float) -> bool:
    """Whether `answer` is the model's float32 output for `x`, as a REST answer prints it: the
    shortest text that reads back as that float32 (`150002.12` for 150002.125), as TF Serving
    prints float32 too. Another request's answer differs by far more than float32's step."""
    if isinstance(answer, bool) or not isinstance(answer, (int, float)):
        return False
    return bool(np.float32(answer) == np.float32(half_plus_two(x)))


@dataclass
class LoadOutcome:
    """What a load run saw: answers by status, wrong answers and requests with no answer."""

    sent: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    mismatches: list[tuple[float, object]] = field(default_factory=list)
    drops: list[str] = field(default_factory=list)
    #: the first few bodies of answers other than 200, to say what went wrong
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(
        self, status: str, mismatch: tuple[float, object] | None = None, body: str = ""
    ) -> None:
        with self.lock:
            self.sent += 1
            self.statuses[status] += 1
            if status != "200" and len(self.failures) < 5:
                self.failures.append(f"{status}: {body[:300]}")
            if mismatch is not None:
                self.mismatches.append(mismatch)

    def drop(self, reason: str) -> None:
        with self.lock:
            self.sent += 1
            self.drops.append(reason)


def seldon_rest_predict(url: str) -> Callable[[requests.Session, float], requests.Response]:
    """POST one `data.ndarray` row [[x]] to a Seldon predictions URL."""

    def send(session: requests.Session, x: float) -> requests.Response:
        return session.post(url, json={"data": {"ndarray": [[x]]}}, timeout=REQUEST_TIMEOUT_S)

    return send


def seldon_answer(reply: requests.Response) -> object:
    """The single value of a Seldon ndarray answer (or the whole body when it has no such value)."""
    try:
        body = reply.json()
        return body["data"]["ndarray"][0][0]
    except (ValueError, KeyError, IndexError, TypeError):
        return reply.text[:200]


def run_load(
    send: Callable[[requests.Session, float], requests.Response],
    threads: int,
    per_thread: int,
    outcome: LoadOutcome | None = None,
    stop: threading.Event | None = None,
) -> LoadOutcome:
    """`threads` keep-alive clients each send `per_thread` distinct requests, one at a time.

    A 200 must carry 0.5 x + 2 for its own x, exactly in float32; other statuses are counted
    by code; a request with no answer at all (connection reset, timeout) is a drop.
    """
    result = outcome if outcome is not None else LoadOutcome()

    def client(thread: int) -> None:
        with requests.Session() as session:
            for index in range(per_thread):
                if stop is not None and stop.is_set():
                    return
                x = distinct_input(thread, index, per_thread)
                try:
                    reply = send(session, x)
                except requests.RequestException as error:
                    result.drop(f"{type(error).__name__}: {error}")
                    continue
                if reply.status_code == 200:
                    answer = seldon_answer(reply)
                    ok = is_half_plus_two_of(answer, x)
                    result.record("200", None if ok else (x, answer))
                else:
                    result.record(str(reply.status_code), body=reply.text)

    workers = [threading.Thread(target=client, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return result
