"""TF Serving's REST API on a TfServingModel, under the real `seldon-core-microservice`.

The referee is the model's own answer: the same request sent straight to the backend
(`seldon-tfserving serve-models` with TF Serving's two_versions: versions 123 and 124,
labels stable=123 and canary=124). Over REST to TF Serving the wrapper's answer is the
backend's, byte for byte; over gRPC it is the same JSON document.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests

from tests.model.tf_calls import assert_tf_error, get, post
from tests.servers import Backend, Microservice, scrape_settled, scrape_until

UNPINNED = ["grpc", "rest"]
MODEL = "two_versions"
#: The name Seldon's executor puts in the URL: the client's, not the wrapper's model_name.
CLIENTS_NAME = "name-the-client-used"

PREDICT_BODIES: list[Any] = [
    {"instances": [[1.0], [2.0], [5.0]]},
    {"inputs": [[1.0], [2.0]]},
    {"signature_name": "serving_default", "inputs": {"x": [[3.0]]}},
    {"instances": [{"x": [4.0]}, {"x": [6.0]}]},
]


def same_answer(via: requests.Response, direct: requests.Response, byte_for_byte: bool) -> None:
    assert direct.status_code == 200, direct.text
    assert via.status_code == 200, via.text
    assert via.headers["Content-Type"] == "application/json"
    assert via.json() == direct.json()
    if byte_for_byte:
        assert via.content == direct.content


@pytest.mark.parametrize("name", UNPINNED)
@pytest.mark.parametrize("body", PREDICT_BODIES, ids=["rows", "columns", "signed", "named"])
def test_predict_answers_what_the_model_answers(
    tf_wrappers: dict[str, Microservice], backend: Backend, name: str, body: Any
) -> None:
    direct = post(backend.rest_endpoint, f"/v1/models/{MODEL}:predict", body)
    via = post(tf_wrappers[name].http_url, f"/v1/models/{CLIENTS_NAME}:predict", body)
    same_answer(via, direct, byte_for_byte=name == "rest")


@pytest.mark.parametrize("name", UNPINNED)
def test_the_executors_spelling_and_the_wrappers_own_name_answer_alike(
    tf_wrappers: dict[str, Microservice], backend: Backend, name: str
) -> None:
    """Seldon's executor accepts `/v1/models/<m>/:predict`; the URL's name is never the one
    called: the wrapper's model_name is."""
    body = {"instances": [[1.5]]}
    direct = post(backend.rest_endpoint, f"/v1/models/{MODEL}:predict", body)
    for path in (f"/v1/models/{CLIENTS_NAME}/:predict", f"/v1/models/{MODEL}:predict"):
        same_answer(post(tf_wrappers[name].http_url, path, body), direct, name == "rest")


@pytest.mark.parametrize("name", UNPINNED)
@pytest.mark.parametrize(
    ("verb", "body"),
    [
        ("classify", {"signature_name": "classify_x_to_y", "examples": [{"x": 1.0}, {"x": 3.0}]}),
        ("regress", {"signature_name": "regress_x_to_y", "examples": [{"x": [2.0]}]}),
        (
            "regress",
            {"signature_name": "regress_x_to_y", "context": {"k": [7]}, "examples": [{"x": 4.0}]},
        ),
    ],
)
def test_classify_and_regress_answer_what_the_model_answers(
    tf_wrappers: dict[str, Microservice], backend: Backend, name: str, verb: str, body: Any
) -> None:
    direct = post(backend.rest_endpoint, f"/v1/models/{MODEL}:{verb}", body)
    via = post(tf_wrappers[name].http_url, f"/v1/models/{CLIENTS_NAME}:{verb}", body)
    same_answer(via, direct, byte_for_byte=name == "rest")


@pytest.mark.parametrize("name", UNPINNED)
@pytest.mark.parametrize("version", ["", "/versions/123", "/labels/canary"])
def test_status_and_metadata_are_the_models(
    tf_wrappers: dict[str, Microservice], backend: Backend, name: str, version: str
) -> None:
    for tail in ("", "/metadata"):
        direct = get(backend.rest_endpoint, f"/v1/models/{MODEL}{version}{tail}")
        via = get(tf_wrappers[name].http_url, f"/v1/models/{CLIENTS_NAME}{version}{tail}")
        same_answer(via, direct, byte_for_byte=name == "rest")


@pytest.mark.parametrize("name", UNPINNED)
def test_a_version_or_label_in_the_url_is_honoured_when_unpinned(
    tf_wrappers: dict[str, Microservice], name: str
) -> None:
    base = tf_wrappers[name].http_url
    for path, version in [
        ("", "124"),
        ("/versions/123", "123"),
        ("/labels/stable", "123"),
        ("/labels/canary", "124"),
    ]:
        metadata = get(base, f"/v1/models/{CLIENTS_NAME}{path}/metadata")
        assert metadata.status_code == 200, metadata.text
        assert metadata.json()["model_spec"]["version"] == version
        reply = post(base, f"/v1/models/{CLIENTS_NAME}{path}:predict", {"instances": [[2.0]]})
        assert reply.status_code == 200 and reply.json() == {"predictions": [[3.0]]}, reply.text
    missing = post(base, f"/v1/models/{CLIENTS_NAME}/versions/999:predict", {"instances": [[1.0]]})
    assert_tf_error(missing, 404, "999")


@pytest.mark.parametrize(
    ("name", "pin", "version"),
    [("pinned_grpc", "/versions/123", "123"), ("pinned_rest", "/labels/canary", "124")],
)
def test_a_pinned_wrapper_answers_with_its_pin(
    tf_wrappers: dict[str, Microservice], backend: Backend, name: str, pin: str, version: str
) -> None:
    """An unqualified URL is the pin's; one repeating the pin is too."""
    base = tf_wrappers[name].http_url
    for path in ("", pin):
        metadata = get(base, f"/v1/models/{CLIENTS_NAME}{path}/metadata")
        assert metadata.status_code == 200 and metadata.json()["model_spec"]["version"] == version
        direct = get(backend.rest_endpoint, f"/v1/models/{MODEL}{pin}")
        same_answer(get(base, f"/v1/models/{CLIENTS_NAME}{path}"), direct, byte_for_byte=False)


@pytest.mark.parametrize(
    ("name", "path", "asked", "pinned"),
    [
        ("pinned_grpc", "/versions/124", "version 124", "version 123"),
        ("pinned_grpc", "/labels/stable", "label 'stable'", "version 123"),
        ("pinned_rest", "/versions/124", "version 124", "label 'canary'"),
        ("pinned_rest", "/labels/stable", "label 'stable'", "label 'canary'"),
    ],
)
def test_a_url_contradicting_the_pin_is_a_400_naming_both(
    tf_wrappers: dict[str, Microservice], name: str, path: str, asked: str, pinned: str
) -> None:
    base = tf_wrappers[name].http_url
    body = {"signature_name": "serving_default", "instances": [[1.0]]}
    for reply in (
        post(base, f"/v1/models/{CLIENTS_NAME}{path}:predict", body),
        get(base, f"/v1/models/{CLIENTS_NAME}{path}"),
        get(base, f"/v1/models/{CLIENTS_NAME}{path}/metadata"),
    ):
        assert_tf_error(reply, 400, asked)
        assert pinned in reply.json()["error"]


@pytest.mark.parametrize(("name", "path"), [("pinned_grpc", "/versions/123"), ("pinned_rest", "")])
def test_a_request_naming_no_signature_calls_the_wrappers_signature_name(
    tf_wrappers: dict[str, Microservice], backend: Backend, name: str, path: str
) -> None:
    """Both pinned wrappers are configured with signature_name classify_x_to_y."""
    examples = {"examples": [{"x": 2.0}]}
    direct = post(
        backend.rest_endpoint,
        f"/v1/models/{MODEL}{path or '/labels/canary'}:classify",
        {"signature_name": "classify_x_to_y", **examples},
    )
    via = post(tf_wrappers[name].http_url, f"/v1/models/{CLIENTS_NAME}{path}:classify", examples)
    same_answer(via, direct, byte_for_byte=False)
    named = post(
        tf_wrappers[name].http_url,
        f"/v1/models/{CLIENTS_NAME}:predict",
        {"signature_name": "serving_default", "instances": [[2.0]]},
    )
    assert named.status_code == 200 and named.json() == {"predictions": [[3.0]]}, named.text


@pytest.mark.parametrize("name", UNPINNED)
@pytest.mark.parametrize(
    ("method", "path", "says"),
    [
        ("POST", "/v1/models/m:route", "Malformed request: POST /v1/models/m:route"),
        ("POST", "/v1/models/m:aggregate", "Malformed request: POST /v1/models/m:aggregate"),
        ("POST", "/v1/models/m", "Malformed request: POST /v1/models/m"),
        ("GET", "/v1/models/m:predict", "Malformed request: GET /v1/models/m:predict"),
        ("PUT", "/v1/models/m/metadata", "Malformed request: PUT /v1/models/m/metadata"),
        ("DELETE", "/v1/models/m", "Malformed request: DELETE /v1/models/m"),
        ("GET", "/v1/", "Malformed request: GET /v1/"),
        ("GET", "/v1/models", "Missing model name in request."),
    ],
)
def test_other_calls_under_v1_are_tf_servings_400(
    tf_wrappers: dict[str, Microservice], name: str, method: str, path: str, says: str
) -> None:
    reply = requests.request(method, tf_wrappers[name].http_url + path, timeout=30)
    assert_tf_error(reply, 400, says)


@pytest.mark.parametrize("name", UNPINNED)
def test_seldons_api_answers_beside_tf_servings(
    tf_wrappers: dict[str, Microservice], name: str
) -> None:
    reply = requests.post(
        f"{tf_wrappers[name].http_url}/api/v1.0/predictions",
        json={"data": {"ndarray": [[2.0]]}},
        timeout=30,
    )
    assert reply.status_code == 200 and reply.json()["data"]["ndarray"] == [[3.0]], reply.text
    assert get(tf_wrappers[name].http_url, "/health/status").status_code == 200


def _latency_count(text: str, version: str, method: str) -> float:
    pattern = re.compile(
        r'^tfserving_request_duration_count\{(?=[^}]*method="' + method + r'")'
        r'(?=[^}]*tfserving_model="two_versions")(?=[^}]*tfserving_version="' + version + r'")'
    )
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if pattern.match(line))


@pytest.mark.parametrize("name", UNPINNED)
def test_tf_calls_reach_seldons_metrics_per_model_and_answering_version(
    tf_wrappers: dict[str, Microservice], name: str
) -> None:
    service = tf_wrappers[name]
    url = f"http://127.0.0.1:{service.metrics_port}/metrics"
    before = scrape_settled(url)
    asked = [
        ("", "predict", {"instances": [[1.0]]}),
        ("/versions/123", "predict", {"instances": [[1.0]]}),
        (
            "/labels/stable",
            "regress",
            {"signature_name": "regress_x_to_y", "examples": [{"x": 1.0}]},
        ),
    ]
    for path, verb, body in asked:
        assert post(service.http_url, f"/v1/models/m{path}:{verb}", body).status_code == 200
    expected = {("124", "predict"): 1, ("123", "predict"): 1, ("123", "regress"): 1}

    def counted(text: str) -> bool:
        return all(
            _latency_count(text, *key) - _latency_count(before, *key) >= count
            for key, count in expected.items()
        )

    assert counted(scrape_until(url, counted))
