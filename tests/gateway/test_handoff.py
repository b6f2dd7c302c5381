"""The HTTP front's hand-over of requests to its workers: each job to exactly one worker."""

from __future__ import annotations

import threading
from collections import Counter

from seldon_tfserving.gateway.handoff import Handoff
from tests.waiting import eventually


def test_every_job_is_taken_once_by_many_workers_from_many_producers() -> None:
    handoff: Handoff[int | None] = Handoff()
    taken: list[int] = []
    lock = threading.Lock()

    def work() -> None:
        while (job := handoff.take()) is not None:
            with lock:
                taken.append(job)

    workers = [threading.Thread(target=work) for _ in range(16)]
    for worker in workers:
        worker.start()

    def produce(first: int) -> None:
        for job in range(first, first + 2000):
            handoff.put(job)

    producers = [threading.Thread(target=produce, args=(i * 2000,)) for i in range(4)]
    for producer in producers:
        producer.start()
    for producer in producers:
        producer.join()
    eventually(lambda: len(taken) == 8000, awaited="every job taken")
    for _ in workers:
        handoff.put(None)  # the front's stop: one None per worker
    for worker in workers:
        worker.join(timeout=10)
    assert not any(worker.is_alive() for worker in workers), "each None stopped one worker"
    counts = Counter(taken)
    assert set(counts) == set(range(8000)) and set(counts.values()) == {1}, "none lost, none twice"


def test_jobs_put_while_no_worker_is_idle_wait_and_are_taken_in_order() -> None:
    handoff: Handoff[str] = Handoff()
    for job in ("first", "second", "third"):
        handoff.put(job)
    assert [handoff.take() for _ in range(3)] == ["first", "second", "third"]


def test_a_worker_waits_for_a_job_put_after_it_went_idle() -> None:
    handoff: Handoff[str] = Handoff()
    got: list[str] = []
    worker = threading.Thread(target=lambda: got.append(handoff.take()))
    worker.start()
    worker.join(timeout=0.2)
    assert worker.is_alive() and got == [], "no job yet: the worker sleeps"
    handoff.put("late")
    worker.join(timeout=10)
    assert got == ["late"]
