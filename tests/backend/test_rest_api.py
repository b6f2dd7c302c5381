"""The REST face against TF Serving's own expectations (http_rest_api_handler_test.cc, the REST
API guide, and the metadata files TF Serving's tests compare with)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.servers import Backend, start_backend

#: http_rest_api_handler_test.cc serves this model at version 123 only, labelled so.
HANDLER_TEST_MODEL = "saved_model_half_plus_two_2_versions"
HANDLER_TEST_LABEL = "Version_Label"
HANDLER_TEST_CONFIG = """
model_config_list {
  config {
    name: "%(name)s"
    base_path: "%(root)s/saved_model_half_plus_two_2_versions"
    model_platform: "tensorflow"
    model_version_policy { specific { versions: 123 } }
    version_labels { key: "%(label)s" value: 123 }
  }
}
"""


@pytest.fixture(scope="module")
def handler_backend(
    log_dir: Path, tfserving_testdata: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    """A backend configured as TF Serving's REST handler test configures its ServerCore."""
    config = tmp_path_factory.mktemp("handler") / "models.config"
    config.write_text(
        HANDLER_TEST_CONFIG
        % {"name": HANDLER_TEST_MODEL, "root": tfserving_testdata, "label": HANDLER_TEST_LABEL}
    )
    server = start_backend(
        log_dir, [f"--model_config_file={config}"], name="handler", ready_model=HANDLER_TEST_MODEL
    )
    yield server
    server.server.stop()


def post(backend: Backend, path: str, body: Any) -> requests.Response:
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return requests.post(f"{backend.rest_endpoint}{path}", data=data, timeout=30)


def get(backend: Backend, path: str) -> requests.Response:
    return requests.get(f"{backend.rest_endpoint}{path}", timeout=30)


def assert_error(reply: requests.Response, status: int, fragment: str) -> None:
    assert reply.status_code == status, reply.text
    assert reply.headers["Content-Type"] == "application/json"
    assert fragment in reply.json()["error"], reply.json()


class TestSharedModels:
    """Every shared test model answers what TF Serving answers for it."""

    def test_half_plus_two_rest_guide_example(self, backend: Backend) -> None:
        reply = post(backend, "/v1/models/half_plus_two:predict", {"instances": [1.0, 2.0, 5.0]})
        assert reply.status_code == 200
        assert reply.headers["Content-Type"] == "application/json"
        assert reply.json() == {"predictions": [2.5, 3.0, 4.5]}

    def test_half_plus_three(self, backend: Backend) -> None:
        reply = post(backend, "/v1/models/half_plus_three:predict", {"instances": [1.0, 2.0, 5.0]})
        assert reply.json() == {"predictions": [3.5, 4.0, 5.5]}

    def test_tf2_model_rows_and_columns(self, backend: Backend) -> None:
        rows = post(backend, "/v1/models/half_plus_two_tf2:predict", {"instances": [[1.0], [3.0]]})
        assert rows.json() == {"predictions": [[2.5], [3.5]]}
        columns = post(backend, "/v1/models/half_plus_two_tf2:predict", {"inputs": [[1.0]]})
        assert columns.json() == {"outputs": [[2.5]]}

    def test_tf2_model_other_signatures(self, backend: Backend) -> None:
        reply = post(
            backend,
            "/v1/models/half_plus_two_tf2:predict",
            {"signature_name": "regress_x2_to_y3", "inputs": [[4.0]]},
        )
        assert reply.status_code == 200, reply.text
        assert reply.json() == {"outputs": [[5.0]]}  # x2 * 0.5 + 3

    def test_both_versions_reachable_by_number_and_by_label(self, backend: Backend) -> None:
        body = {"instances": [1.0]}
        by_version = {
            v: post(backend, f"/v1/models/two_versions/versions/{v}:predict", body).json()
            for v in (123, 124)
        }
        by_label = {
            label: post(backend, f"/v1/models/two_versions/labels/{label}:predict", body).json()
            for label in ("stable", "canary")
        }
        assert by_version[123] == by_label["stable"] == {"predictions": [2.5]}
        # Version 124 of TF Serving's test model computes the same function.
        assert by_version[124] == by_label["canary"] == {"predictions": [2.5]}

    def test_status_lists_every_served_version(self, backend: Backend) -> None:
        reply = get(backend, "/v1/models/two_versions")
        assert reply.status_code == 200
        ok = {"error_code": "OK", "error_message": ""}
        assert reply.json() == {
            "model_version_status": [
                {"version": "123", "state": "AVAILABLE", "status": ok},
                {"version": "124", "state": "AVAILABLE", "status": ok},
            ]
        }
        one = get(backend, "/v1/models/two_versions/versions/124").json()
        assert one == {
            "model_version_status": [{"version": "124", "state": "AVAILABLE", "status": ok}]
        }

    def test_metadata_matches_tf_serving_for_half_plus_two(
        self, backend: Backend, tfserving_testdata: Path
    ) -> None:
        metadata_file = tfserving_testdata / "half_plus_two_model_metadata.json"
        expected = json.loads(metadata_file.read_text())
        reply = get(backend, "/v1/models/half_plus_two/metadata")
        assert reply.status_code == 200
        actual = reply.json()
        # TF Serving's file was written for a model served as "default".
        assert actual["model_spec"] == {**expected["model_spec"], "name": "half_plus_two"}
        assert actual["metadata"] == expected["metadata"]

    def test_metadata_of_each_version(self, backend: Backend, tfserving_testdata: Path) -> None:
        expected = json.loads(
            (tfserving_testdata / "saved_model_half_plus_two_2_versions_metadata.json").read_text()
        )
        for path, version in (("/versions/123", "123"), ("/labels/canary", "124"), ("", "124")):
            actual = get(backend, f"/v1/models/two_versions{path}/metadata").json()
            assert actual["model_spec"] == {
                "name": "two_versions",
                "signature_name": "",
                "version": version,
            }
            assert actual["metadata"] == expected["metadata"]

    def test_tf2_metadata_has_tf_servings_signature_set(
        self, backend: Backend, tfserving_testdata: Path
    ) -> None:
        expected = json.loads(
            (
                tfserving_testdata / "saved_model_half_plus_two_tf2_2_versions_metadata.json"
            ).read_text()
        )["metadata"]["signature_def"]["signature_def"]
        actual = get(backend, "/v1/models/half_plus_two_tf2/metadata").json()
        signatures = actual["metadata"]["signature_def"]["signature_def"]
        assert set(signatures) <= set(expected)
        for key, signature in signatures.items():
            assert signature["method_name"] == expected[key]["method_name"]
            assert signature["inputs"].keys() == expected[key]["inputs"].keys()
            assert signature["outputs"].keys() == expected[key]["outputs"].keys()

    def test_counter_signatures_over_rest(self, backend: Backend) -> None:
        # Signatures without inputs cannot be called over REST (TF Serving: no input map).
        reply = post(
            backend,
            "/v1/models/counter:predict",
            {"signature_name": "get_counter", "instances": [1]},
        )
        assert_error(reply, 400, "Failed to get input map for signature: get_counter")
        reply = post(
            backend,
            "/v1/models/counter:predict",
            {"signature_name": "incr_counter_by", "inputs": {"delta": 0.0}},
        )
        assert reply.status_code == 200, reply.text
        assert isinstance(reply.json()["outputs"], float)

    def test_regress_and_classify_on_half_plus_two(self, backend: Backend) -> None:
        regress = post(
            backend,
            "/v1/models/half_plus_two:regress",
            {"signature_name": "regress_x_to_y", "examples": [{"x": 80.0}, {"x": 2}]},
        )
        assert regress.status_code == 400  # x=2 is an int64 feature, the model parses floats
        regress = post(
            backend,
            "/v1/models/half_plus_two:regress",
            {"signature_name": "regress_x_to_y", "examples": [{"x": 80.0}, {"x": 2.0}]},
        )
        assert regress.json() == {"results": [42.0, 3.0]}
        classify = post(
            backend,
            "/v1/models/half_plus_two:classify",
            {"signature_name": "classify_x_to_y", "examples": [{"x": 20.0}]},
        )
        assert classify.json() == {"results": [[["", 12.0]]]}


class TestHandlerTestCases:
    """http_rest_api_handler_test.cc, case by case, on the same model configuration."""

    @pytest.mark.parametrize(
        ("method", "path", "fragment"),
        [
            ("GET", "/v1/foo", "Malformed request"),
            ("POST", "/v1/foo", "Malformed request"),
            ("GET", "/v1/models", "Missing model name"),
            ("GET", "/v1/models/debug/model_name", "Malformed request"),
            ("POST", "/v1/models", "Malformed request"),
            ("GET", "/v1/models/foo:predict", "Malformed request"),
            ("GET", "/v1/models/foo/version/50:predict", "Malformed request"),
            ("POST", "/v1/models/foo/version/50:regress", "Malformed request"),
            ("POST", "/v1/models/foo/versions/HELLO:regress", "Malformed request"),
            ("POST", f"/v1/models/foo/versions/{2**64 - 1}:regress", "Failed to convert version"),
            ("POST", "/v1/models/foo/metadata", "Malformed request"),
            ("POST", "/v1/models/foo/label/some_label:regress", "Malformed request"),
            ("POST", "/v1/models/foo/versions/50/labels/some_label:regress", "Malformed request"),
            ("POST", "/v1/models/foo/versions/some_label:regress", "Malformed request"),
        ],
    )
    def test_unsupported_api_calls(
        self, handler_backend: Backend, method: str, path: str, fragment: str
    ) -> None:
        reply = requests.request(method, f"{handler_backend.rest_endpoint}{path}", timeout=30)
        assert_error(reply, 400, fragment)

    def test_predict_model_name_and_version_errors(self, handler_backend: Backend) -> None:
        for path in (
            "/v1/models/foo:predict",
            "/v1/models/foo/versions/50:predict",
            f"/v1/models/{HANDLER_TEST_MODEL}/versions/99:predict",
        ):
            assert_error(post(handler_backend, path, {"instances": [1]}), 404, "not found")

    def test_predict_request_errors(self, handler_backend: Backend) -> None:
        path = f"/v1/models/{HANDLER_TEST_MODEL}:predict"
        empty = post(handler_backend, path, "")
        assert_error(empty, 400, "JSON Parse error: The document is empty")
        assert_error(post(handler_backend, path, "instances = [1, 2]"), 400, "JSON Parse error")
        assert_error(
            post(handler_backend, path, {"instances": ["x", "y"]}),
            400,
            "not of expected type: float",
        )
        assert_error(
            post(
                handler_backend,
                f"/v1/models/{HANDLER_TEST_MODEL}/labels/Version_Nonexistent:predict",
                {"instances": ["x", "y"]},
            ),
            400,
            "Unrecognized servable version label",
        )
        assert_error(
            post(handler_backend, path, {"signature_name": 100}),
            400,
            "'signature_name' key must be a string value.",
        )

    def test_predict(self, handler_backend: Backend) -> None:
        base = f"/v1/models/{HANDLER_TEST_MODEL}"
        cases = [
            (
                f"{base}:predict",
                {"instances": [[1.0, 2.0], [3.0, 4.0]]},
                {"predictions": [[2.5, 3.0], [3.5, 4.0]]},
            ),
            (
                f"{base}/versions/123:predict",
                {"instances": [1.0, 2.0]},
                {"predictions": [2.5, 3.0]},
            ),
            (
                f"{base}/labels/{HANDLER_TEST_LABEL}:predict",
                {"instances": [1.0, 2.0]},
                {"predictions": [2.5, 3.0]},
            ),
            (
                f"{base}/versions/123:predict",
                {"signature_name": "serving_default", "instances": [3.0, 4.0]},
                {"predictions": [3.5, 4.0]},
            ),
            (
                f"{base}/versions/123:predict",
                {"signature_name": "serving_default", "inputs": [3.0, 4.0]},
                {"outputs": [3.5, 4.0]},
            ),
        ]
        for path, body, expected in cases:
            reply = post(handler_backend, path, body)
            assert reply.status_code == 200, reply.text
            assert reply.headers["Content-Type"] == "application/json"
            assert reply.json() == expected

    def test_regress(self, handler_backend: Backend) -> None:
        body = {"signature_name": "regress_x_to_y", "examples": [{"x": 80.0}]}
        base = f"/v1/models/{HANDLER_TEST_MODEL}"
        for path in (base, f"{base}/versions/123", f"{base}/labels/{HANDLER_TEST_LABEL}"):
            assert post(handler_backend, f"{path}:regress", body).json() == {"results": [42]}

    def test_classify(self, handler_backend: Backend) -> None:
        base = f"/v1/models/{HANDLER_TEST_MODEL}"
        reply = post(
            handler_backend,
            f"{base}:classify",
            {"signature_name": "classify_x_to_y", "examples": [{"x": 20.0}]},
        )
        assert reply.json() == {"results": [[["", 12]]]}
        reply = post(
            handler_backend,
            f"{base}/labels/{HANDLER_TEST_LABEL}:classify",
            {"signature_name": "classify_x_to_y", "examples": [{"x": 10.0}]},
        )
        assert reply.json() == {"results": [[["", 7]]]}

    def test_get_status(self, handler_backend: Backend) -> None:
        expected = {
            "model_version_status": [
                {
                    "version": "123",
                    "state": "AVAILABLE",
                    "status": {"error_code": "OK", "error_message": ""},
                }
            ]
        }
        base = f"/v1/models/{HANDLER_TEST_MODEL}"
        for path in (base, f"{base}/versions/123", f"{base}/labels/{HANDLER_TEST_LABEL}"):
            reply = get(handler_backend, path)
            assert reply.headers["Content-Type"] == "application/json"
            assert reply.json() == expected

    def test_get_model_metadata(self, handler_backend: Backend, tfserving_testdata: Path) -> None:
        expected = json.loads(
            (tfserving_testdata / "saved_model_half_plus_two_2_versions_metadata.json").read_text()
        )
        reply = get(handler_backend, f"/v1/models/{HANDLER_TEST_MODEL}/metadata")
        assert reply.headers["Content-Type"] == "application/json"
        assert reply.json() == expected

    def test_status_and_metadata_errors(self, handler_backend: Backend) -> None:
        assert_error(
            get(handler_backend, "/v1/models/nope"),
            404,
            "Could not find any versions of model nope",
        )
        assert_error(
            get(handler_backend, f"/v1/models/{HANDLER_TEST_MODEL}/versions/7"),
            404,
            f"Could not find version 7 of model {HANDLER_TEST_MODEL}",
        )
        assert_error(get(handler_backend, "/v1/models/nope/metadata"), 404, "not found")
        assert_error(get(handler_backend, "/nothing/here"), 404, "No handler")
