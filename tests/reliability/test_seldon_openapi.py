"""Seldon's own OpenAPI schemas against the gateway's external paths: 0 5xx.

The seldon-core package ships `seldon_core/openapi/seldon.json` (the microservice API:
`/predict`, `/send-feedback`, ...), with Seldon's `SeldonMessage` and `Feedback` schemas; the
external API's spec (`openapi/engine.oas3.json`) lives only in Seldon's repository. So the
schemas are loaded from the installed package and put on the paths the engine spec gives
them: POST `/seldon/{namespace}/{deployment}/api/v1.0/predictions` (a SeldonMessage) and
`.../feedback` (a Feedback), JSON bodies. schemathesis generates cases that follow the schemas
and cases that break them; a fixed, derandomized number of each keeps the run bounded.
"""

from __future__ import annotations

import importlib.resources
import json
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seldon_tfserving.runner.local import LocalRunner
from tests.reliability.conftest import ReliabilityLedger
from tests.reliability.graphs import NAMESPACE

#: Cases per operation and generation mode (two operations, two modes).
EXAMPLES = 60
PREDICTIONS = "/seldon/{namespace}/{deployment}/api/v1.0/predictions"
FEEDBACK = "/seldon/{namespace}/{deployment}/api/v1.0/feedback"


def seldon_schemas() -> dict[str, Any]:
    """The `components` of the seldon.json that the installed seldon-core ships."""
    spec = importlib.resources.files("seldon_core") / "openapi" / "seldon.json"
    document: dict[str, Any] = json.loads(spec.read_text())
    return dict(document["components"])


def _operation(schema: str, deployments: list[str]) -> dict[str, Any]:
    return {
        "post": {
            "parameters": [
                {
                    "name": "namespace",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "enum": [NAMESPACE]},
                },
                {
                    "name": "deployment",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "enum": deployments},
                },
            ],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": schema}}},
            },
            "responses": {"200": {"description": "the graph's answer"}},
        }
    }


def gateway_api(deployments: list[str]) -> Any:
    """The gateway's external API with Seldon's schemas, as a schemathesis schema."""
    return schemathesis.openapi.from_dict(
        {
            "openapi": "3.0.0",
            "info": {"title": "Seldon external API through the local gateway", "version": "1"},
            "paths": {
                PREDICTIONS: _operation("#/components/schemas/SeldonMessage", deployments),
                FEEDBACK: _operation("#/components/schemas/Feedback", deployments),
            },
            "components": seldon_schemas(),
        }
    )


API = gateway_api(["ab"])
CASES = st.one_of(
    *(
        API[path]["POST"].as_strategy(generation_mode=mode)
        for path in (PREDICTIONS, FEEDBACK)
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
    )
)


def test_the_schemas_come_from_the_installed_seldon_core() -> None:
    schemas = seldon_schemas()["schemas"]
    assert {"SeldonMessage", "Feedback", "Meta", "DefaultData"} <= set(schemas)


@pytest.mark.timeout(600)
@settings(
    max_examples=4 * EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
@given(case=CASES)
def test_seldons_schemas_never_get_a_5xx_from_the_gateway(
    ab_graph: LocalRunner, ledger: ReliabilityLedger, case: Any
) -> None:
    with requests.Session() as session:
        response = case.call(base_url=ab_graph.http_url, session=session, timeout=30)
    ledger.answered(f"schemathesis {response.status_code}")
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path}: {response.status_code} "
        f"{response.text[:300]} for {json.dumps(case.body, default=str)[:300]}"
    )
