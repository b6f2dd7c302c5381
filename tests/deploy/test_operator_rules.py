"""The operator's webhook rules (seldon-core v1.18 seldondeployment_webhook.go), one by one.

Each case is a small deployment that passes the CRD schema and breaks one rule; the finding
must sit at the path the rule names. Prepackaged and builtin nodes need no container, so the
documents stay small.
"""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema.protocols import Validator

from seldon_tfserving.deploy import schema
from seldon_tfserving.deploy.validate import validate_documents


@pytest.fixture(scope="module")
def validator() -> Validator:
    return schema.builtin_validator()


def sklearn_node(name: str = "model") -> dict[str, Any]:
    return {"name": name, "implementation": "SKLEARN_SERVER", "modelUri": "gs://bucket/iris"}


def predictor(name: str = "default", **extra: Any) -> dict[str, Any]:
    return {"name": name, "graph": sklearn_node(), **extra}


def sdep(*predictors: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "machinelearning.seldon.io/v1",
        "kind": "SeldonDeployment",
        "metadata": {"name": "rules"},
        "spec": {"predictors": list(predictors), **spec},
    }


def findings(doc: dict[str, Any], validator: Validator) -> dict[str, str]:
    """path -> message for every finding of one document."""
    [report] = validate_documents([doc], validator)
    return {f.path: f.message for f in report.findings}


def test_a_minimal_prepackaged_deployment_is_valid(validator: Validator) -> None:
    assert findings(sdep(predictor()), validator) == {}


CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("no-predictors", sdep(), "spec.predictors", "Graph contains no predictors"),
    (
        "invalid-protocol",
        sdep(predictor(), protocol="grpc"),
        "spec.protocol",
        "Invalid protocol 'grpc'",
    ),
    (
        "invalid-transport",
        sdep(predictor(), transport="http"),
        "spec.transport",
        "Invalid transport 'http'",
    ),
    (
        "kafka-without-envs",
        sdep(predictor(), serverType="kafka"),
        "spec.predictors[0].svcOrchSpec.env",
        "For kafka please supply svcOrchSpec envs",
    ),
    (
        "duplicate-predictor-names",
        sdep(predictor(traffic=50), predictor(traffic=50)),
        "spec.predictors[1].name",
        "Duplicate predictor name 'default'",
    ),
    (
        "prepackaged-without-model-uri",
        sdep({"name": "default", "graph": {"name": "m", "implementation": "XGBOOST_SERVER"}}),
        "spec.predictors[0].graph.modelUri",
        "modelUri required when using standalone servers",
    ),
    (
        "sklearn-with-tensorflow-protocol",
        sdep(predictor(), protocol="tensorflow"),
        "spec.predictors[0].graph.implementation",
        "Prepackaged server does not handle tensorflow protocol SKLEARN_SERVER",
    ),
    (
        "huggingface-with-tensorflow-protocol",
        sdep(
            {"name": "default", "graph": {"name": "m", "implementation": "HUGGINGFACE_SERVER"}},
            protocol="tensorflow",
        ),
        "spec.predictors[0].graph.implementation",
        "Prepackaged server does not handle tensorflow protocol HUGGINGFACE_SERVER",
    ),
    (
        "no-engine-with-a-graph",
        sdep(
            {
                "name": "default",
                "annotations": {"seldon.io/no-engine": "true"},
                "graph": {
                    "name": "combine",
                    "implementation": "AVERAGE_COMBINER",
                    "children": [sklearn_node("a"), sklearn_node("b")],
                },
            }
        ),
        "spec.predictors[0].annotations",
        "Running without engine only valid for single element graphs",
    ),
    (
        "two-shadows",
        sdep(predictor("main"), predictor("s1", shadow=True), predictor("s2", shadow=True)),
        "spec.predictors[2].shadow",
        "Multiple shadows are not allowed",
    ),
    (
        "single-predictor-partial-traffic",
        sdep(predictor(traffic=50)),
        "spec.predictors[0].traffic",
        "Traffic must sum be 100 for a single predictor when set",
    ),
    (
        "two-endpoint-types",
        sdep(
            {
                "name": "default",
                "graph": {
                    "name": "router",
                    "implementation": "RANDOM_ABTEST",
                    "parameters": [{"name": "ratioA", "type": "FLOAT", "value": "0.5"}],
                    "children": [
                        {**sklearn_node("a"), "endpoint": {"type": "REST"}},
                        {**sklearn_node("b"), "endpoint": {"type": "GRPC"}},
                    ],
                },
            }
        ),
        "spec",
        "Multiple endpoint.types found",
    ),
    (
        "endpoint-type-against-transport",
        sdep(
            {"name": "default", "graph": {**sklearn_node(), "endpoint": {"type": "GRPC"}}},
            transport="rest",
        ),
        "spec.transport",
        "Mixed transport types found",
    ),
    (
        "unknown-type-without-methods",
        sdep(
            {"name": "default", "graph": {"name": "m", "type": "UNKNOWN_TYPE"}},
        ),
        "spec.predictors[0].graph.type",
        "Predictive Unit has no implementation methods defined",
    ),
    (
        "random-abtest-without-ratio",
        sdep(
            {
                "name": "default",
                "graph": {
                    "name": "router",
                    "implementation": "RANDOM_ABTEST",
                    "children": [sklearn_node("a"), sklearn_node("b")],
                },
            }
        ),
        "spec.predictors[0].graph.parameters",
        "RANDOM_ABTEST needs parameter ratioA",
    ),
    (
        "unknown-method",
        sdep({"name": "default", "graph": {**sklearn_node(), "methods": ["PREDICT"]}}),
        "spec.predictors[0].graph.methods[0]",
        "unknown method 'PREDICT'",
    ),
    (
        "bool-parameter-not-a-truth-value",
        sdep(
            {
                "name": "default",
                "graph": {
                    **sklearn_node(),
                    "parameters": [{"name": "flag", "type": "BOOL", "value": "maybe"}],
                },
            }
        ),
        "spec.predictors[0].graph.parameters[0].value",
        "flag: 'maybe' does not parse as BOOL",
    ),
    (
        "unknown-parameter-type",
        sdep(
            {
                "name": "default",
                "graph": {
                    **sklearn_node(),
                    "parameters": [{"name": "n", "type": "LONG", "value": "1"}],
                },
            }
        ),
        "spec.predictors[0].graph.parameters[0].type",
        "unknown parameter type 'LONG'",
    ),
]


@pytest.mark.parametrize(
    ("doc", "path", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_rule_is_enforced_at_its_path(
    doc: dict[str, Any], path: str, message: str, validator: Validator
) -> None:
    found = findings(doc, validator)
    assert path in found, found
    assert message in found[path]


@pytest.mark.parametrize("truth", ["yes", "True", "off", "0"])
def test_bool_parameters_parse_as_seldon_parses_them(truth: str, validator: Validator) -> None:
    node = {**sklearn_node(), "parameters": [{"name": "flag", "type": "BOOL", "value": truth}]}
    assert findings(sdep({"name": "default", "graph": node}), validator) == {}


def test_shadow_traffic_is_not_part_of_the_sum(validator: Validator) -> None:
    doc = sdep(predictor("main", traffic=100), predictor("mirror", shadow=True, traffic=100))
    assert findings(doc, validator) == {}


def test_huggingface_needs_no_model_uri_as_the_webhook_says(validator: Validator) -> None:
    node = {"name": "m", "implementation": "HUGGINGFACE_SERVER"}
    assert findings(sdep({"name": "default", "graph": node}), validator) == {}
