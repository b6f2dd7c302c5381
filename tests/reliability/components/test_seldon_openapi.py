"""Seldon's own OpenAPI spec of the microservice API against a wrapper and a router: 0 5xx.

The spec ships inside seldon-core (`seldon_core/openapi/seldon.json`) and is loaded from the
installed package as it is: every operation (`/predict`, `/send-feedback`, `/route`,
`/aggregate`, `/transform-input`, `/transform-output`; POST with a form `json` field, GET with
a `json` query parameter). schemathesis generates cases that follow the schemas and cases
that break them; a fixed, derandomized budget keeps the run bounded. The spec types the
`json` field and parameter as a SeldonMessage object; Seldon's clients send its JSON text
there, so each generated object is sent as its JSON text (anything else as generated).
"""

from __future__ import annotations

import importlib.resources
import json
from collections import Counter
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reliability.conftest import ReliabilityLedger
from tests.servers import Microservice

#: Cases per component, over every operation and both generation modes.
EXAMPLES = 150


def seldon_microservice_spec() -> dict[str, Any]:
    """The seldon.json that the installed seldon-core ships, unchanged."""
    spec = importlib.resources.files("seldon_core") / "openapi" / "seldon.json"
    document: dict[str, Any] = json.loads(spec.read_text())
    return document


SPEC = seldon_microservice_spec()
API = schemathesis.openapi.from_dict(SPEC)
OPERATIONS = [(path, method.upper()) for path, item in SPEC["paths"].items() for method in item]
CASES = st.one_of(
    *(
        API[path][method].as_strategy(generation_mode=mode)
        for path, method in OPERATIONS
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
    )
)


def test_the_spec_is_seldons_microservice_api() -> None:
    assert {"/predict", "/send-feedback", "/route", "/aggregate"} <= set(SPEC["paths"])
    assert len(OPERATIONS) == 12


#: answers by component and status, so the last test can say the cases reached Seldon's code
SEEN: Counter[tuple[str, int]] = Counter()


def as_seldon_sends_it(case: Any) -> None:
    """The `json` form field or query parameter as JSON text, as SeldonClient sends it."""
    if isinstance(case.body, dict) and isinstance(case.body.get("json"), (dict, list)):
        case.body = {**case.body, "json": json.dumps(case.body["json"])}
    if isinstance(case.query, dict) and isinstance(case.query.get("json"), (dict, list)):
        case.query = {**case.query, "json": json.dumps(case.query["json"])}


def _never_a_5xx(service: Microservice, case: Any, ledger: ReliabilityLedger, who: str) -> None:
    as_seldon_sends_it(case)
    with requests.Session() as session:
        response = case.call(base_url=service.http_url, session=session, timeout=30)
    SEEN[(who, response.status_code)] += 1
    ledger.answered(f"schemathesis {who} {response.status_code}")
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:300]} "
        f"for query {case.query!r} body {json.dumps(case.body, default=str)[:300]}"
    )


_BOUNDED = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.mark.timeout(600)
@_BOUNDED
@given(case=CASES)
def test_seldons_spec_never_gets_a_5xx_from_a_wrapper(
    wrapper: Microservice, ledger: ReliabilityLedger, case: Any
) -> None:
    _never_a_5xx(wrapper, case, ledger, "wrapper")


@pytest.mark.timeout(600)
@_BOUNDED
@given(case=CASES)
def test_seldons_spec_never_gets_a_5xx_from_a_router(
    router: Microservice, ledger: ReliabilityLedger, case: Any
) -> None:
    _never_a_5xx(router, case, ledger, "router")


def test_the_cases_reached_seldons_code() -> None:
    """Run after the two above (file order): some cases were answered 200 by each component,
    and some refused as bad input, so the suite is not only the HTTP layer's refusals."""
    for who in ("wrapper", "router"):
        assert SEEN[(who, 200)] > 0, SEEN
        assert SEEN[(who, 400)] > 0, SEEN
