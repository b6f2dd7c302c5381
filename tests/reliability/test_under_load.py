"""Correctness under load: 8 clients x 400 distinct requests, each answer checked.

Through the wrapper alone and through an A/B graph behind the gateway: every request gets its
own answer (0 mismatches), and none goes unanswered (0 drops).
"""

from __future__ import annotations

import pytest

from seldon_tfserving.runner.local import LocalRunner
from tests.reliability.conftest import THREADS, ReliabilityLedger
from tests.reliability.graphs import NAMESPACE
from tests.reliability.load import LoadOutcome, run_load, seldon_rest_predict
from tests.servers import Microservice

PER_THREAD = 400


def record(ledger: ReliabilityLedger, outcome: LoadOutcome) -> None:
    for status, count in outcome.statuses.items():
        ledger.answered(status, count)
    if outcome.drops:
        ledger.answered("no answer", len(outcome.drops))
    ledger.mismatched(len(outcome.mismatches))
    ledger.dropped(len(outcome.drops))


def assert_every_answer_is_its_own(outcome: LoadOutcome) -> None:
    assert outcome.sent == THREADS * PER_THREAD
    assert outcome.drops == [], f"{len(outcome.drops)} dropped, first: {outcome.drops[:3]}"
    assert outcome.mismatches == [], f"{len(outcome.mismatches)} wrong: {outcome.mismatches[:5]}"
    assert outcome.statuses == {"200": THREADS * PER_THREAD}, outcome.failures


@pytest.mark.timeout(150)
def test_the_wrapper_answers_each_of_3200_concurrent_requests_with_its_own_result(
    wrapper: Microservice, ledger: ReliabilityLedger
) -> None:
    outcome = run_load(
        seldon_rest_predict(f"{wrapper.http_url}/api/v1.0/predictions"), THREADS, PER_THREAD
    )
    record(ledger, outcome)
    assert_every_answer_is_its_own(outcome)


@pytest.mark.timeout(200)
def test_an_ab_graph_answers_each_of_3200_concurrent_requests_with_its_own_result(
    ab_graph: LocalRunner, ledger: ReliabilityLedger
) -> None:
    url = f"{ab_graph.http_url}/seldon/{NAMESPACE}/ab/api/v1.0/predictions"
    outcome = run_load(seldon_rest_predict(url), THREADS, PER_THREAD)
    record(ledger, outcome)
    assert_every_answer_is_its_own(outcome)
