"""Config reloads as TF Serving does them: HandleReloadConfigRequest and a polled config file.

Models left out are unloaded, new ones loaded, kept ones keep their loaded versions and get
their new labels in one swap: requests to them never fail while the config changes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
from google.protobuf import text_format
from tensorflow_serving.apis import (
    get_model_status_pb2,
    model_management_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)
from tensorflow_serving.config import model_server_config_pb2

from seldon_tfserving.codec.tensor_proto import ndarray_to_tensor_proto, tensor_proto_to_ndarray
from tests.servers import Backend, start_backend
from tests.waiting import eventually

TWO_VERSIONS = "saved_model_half_plus_two_2_versions"  # versions 123 and 124
HALF_PLUS_THREE = "saved_model_half_plus_three"


def model_entry(name: str, base: Path, labels: dict[str, int] | None = None) -> str:
    label_lines = "".join(
        f'    version_labels {{ key: "{label}" value: {version} }}\n'
        for label, version in (labels or {}).items()
    )
    return (
        f'  config {{\n    name: "{name}"\n    base_path: "{base}"\n'
        f'    model_platform: "tensorflow"\n    model_version_policy {{ all {{}} }}\n'
        f"{label_lines}  }}\n"
    )


def config_text(*entries: str) -> str:
    return "model_config_list {\n" + "".join(entries) + "}\n"


def reload_request(text: str) -> model_management_pb2.ReloadConfigRequest:
    config = text_format.Parse(text, model_server_config_pb2.ModelServerConfig())
    return model_management_pb2.ReloadConfigRequest(config=config)


def predict(stub: Any, model: str, label: str | None = None, x: float = 1.0) -> tuple[int, float]:
    """(answering version, y) for y = f(x)."""
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    if label:
        request.model_spec.version_label = label
    request.inputs["x"].CopyFrom(ndarray_to_tensor_proto(np.array([x], dtype=np.float32)))
    reply = stub.Predict(request, timeout=10)
    y = tensor_proto_to_ndarray(reply.outputs["y"])
    return reply.model_spec.version.value, float(y.reshape(-1)[0])


def version_states(models: Any, name: str) -> dict[int, str]:
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = name
    reply = models.GetModelStatus(request, timeout=10)
    return {
        entry.version: get_model_status_pb2.ModelVersionStatus.State.Name(entry.state)
        for entry in reply.model_version_status
    }


@dataclass
class Backends:
    server: Backend
    channel: grpc.Channel
    prediction: Any
    models: Any
    testdata: Path

    def two_versions(self, **labels: int) -> str:
        return model_entry("two_versions", self.testdata / TWO_VERSIONS, labels)

    def reload(self, *entries: str) -> model_management_pb2.ReloadConfigResponse:
        return self.models.HandleReloadConfigRequest(
            reload_request(config_text(*entries)), timeout=60
        )


@pytest.fixture(scope="module")
def served(
    log_dir: Path, tfserving_testdata: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backends]:
    """One backend for the reload RPC tests; each test sends the whole config it starts from."""
    path = tmp_path_factory.mktemp("reload") / "models.config"
    path.write_text(
        config_text(
            model_entry(
                "two_versions", tfserving_testdata / TWO_VERSIONS, {"stable": 123, "canary": 124}
            )
        )
    )
    server = start_backend(
        log_dir,
        [f"--model_config_file={path}", "--max_num_load_retries=0"],
        name="reload",
        ready_model="two_versions",
    )
    with grpc.insecure_channel(server.grpc_endpoint) as channel:
        yield Backends(
            server,
            channel,
            prediction_service_pb2_grpc.PredictionServiceStub(channel),
            model_service_pb2_grpc.ModelServiceStub(channel),
            tfserving_testdata,
        )
    server.server.stop()


@dataclass
class Traffic:
    """Predicts on the `stable` label, back to back, recording each answer or failure."""

    prediction: Any
    answers: list[tuple[float, int]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                version, y = predict(self.prediction, "two_versions", label="stable")
                assert y == 2.5, y
                self.answers.append((time.monotonic(), version))
            except (grpc.RpcError, AssertionError) as exc:
                self.failures.append(repr(exc))

    def wait_for(self, count: int, timeout_s: float = 10.0) -> None:
        eventually(
            lambda: len(self.answers) >= count,
            timeout_s,
            interval_s=0.01,
            awaited=f"{count} answers",
            detail=lambda: f"only {len(self.answers)} answers",
        )


def test_moving_a_label_under_load_switches_answers_without_a_failure(served: Backends) -> None:
    served.reload(served.two_versions(stable=123, canary=124))
    traffic = Traffic(served.prediction)
    sender = threading.Thread(target=traffic.run)
    sender.start()
    try:
        traffic.wait_for(50)
        began = time.monotonic()
        reply = served.reload(served.two_versions(stable=124, canary=124))
        took_s = time.monotonic() - began
        switched = len(traffic.answers)
        traffic.wait_for(switched + 50)
    finally:
        traffic.stop.set()
        sender.join(timeout=10)

    assert reply.status.error_code == 0
    assert traffic.failures == []
    versions = [version for _, version in traffic.answers]
    first_new = versions.index(124)
    assert set(versions[:first_new]) == {123} and set(versions[first_new:]) == {124}
    assert versions[-1] == 124
    times = [at for at, _ in traffic.answers]
    widest_gap_ms = max(b - a for a, b in zip(times, times[1:], strict=False)) * 1000
    print(
        f"label move: reload {took_s * 1000:.0f} ms, widest gap between answers "
        f"{widest_gap_ms:.0f} ms over {len(times)} answers"
    )
    assert widest_gap_ms < 1000
    assert predict(served.prediction, "two_versions", label="canary")[0] == 124


def test_models_are_added_and_removed_and_kept_versions_are_not_reloaded(
    served: Backends,
) -> None:
    served.reload(served.two_versions(stable=123))
    three = model_entry("three", served.testdata / HALF_PLUS_THREE)

    served.reload(served.two_versions(stable=123), three)
    assert version_states(served.models, "three") == {123: "AVAILABLE"}
    assert predict(served.prediction, "three", x=1.0) == (123, 3.5)

    served.reload(served.two_versions(stable=123))
    assert version_states(served.models, "three") == {123: "END"}
    with pytest.raises(grpc.RpcError) as refused:
        predict(served.prediction, "three")
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND
    assert "Servable not found for request: Latest(three)" in refused.value.details()

    assert version_states(served.models, "two_versions") == {123: "AVAILABLE", 124: "AVAILABLE"}
    log = served.server.server.log_path.read_text()
    assert log.count("loaded model two_versions version 123 ") == 1
    assert log.count("loaded model two_versions version 124 ") == 1


def test_a_label_may_only_name_an_available_version(served: Backends) -> None:
    served.reload(served.two_versions(stable=123, canary=124))
    with pytest.raises(grpc.RpcError) as refused:
        served.reload(served.two_versions(stable=999, canary=123))
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert refused.value.details() == (
        "Request to assign label to version 999 of model two_versions, "
        "which is not currently available for inference"
    )
    # a refused config changes nothing
    assert predict(served.prediction, "two_versions", label="stable")[0] == 123
    assert predict(served.prediction, "two_versions", label="canary")[0] == 124


@pytest.mark.parametrize(
    ("request_text", "message"),
    [
        ("", "Only ModelConfigList is currently supported"),
        ("DUPLICATE", "Illegal to list model two_versions multiple times in config list"),
    ],
)
def test_malformed_configs_are_invalid_arguments(
    served: Backends, request_text: str, message: str
) -> None:
    if request_text == "DUPLICATE":
        request_text = config_text(served.two_versions(), served.two_versions())
    with pytest.raises(grpc.RpcError) as refused:
        served.models.HandleReloadConfigRequest(reload_request(request_text), timeout=10)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in refused.value.details()


def test_a_polled_config_file_is_applied_within_a_few_polls(
    backend_factory: Callable[..., Backend], tfserving_testdata: Path, tmp_path: Path
) -> None:
    base = tfserving_testdata / TWO_VERSIONS
    path = tmp_path / "models.config"
    path.write_text(config_text(model_entry("m", base, {"stable": 123, "canary": 124})))
    server = backend_factory(
        [
            f"--model_config_file={path}",
            "--model_config_file_poll_wait_seconds=0.3",
            "--allow_version_labels_for_unavailable_models",
        ],
        ready_model="m",
        name="config-poll",
    )
    with grpc.insecure_channel(server.grpc_endpoint) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)

        def label_answers(label: str, version: int) -> Callable[[], bool]:
            return lambda: predict(stub, "m", label=label)[0] == version

        path.write_text(config_text(model_entry("m", base, {"stable": 124, "canary": 124})))
        eventually(label_answers("stable", 124), 5, awaited="stable -> 124 picked up")

        # the flag lets a NEW label name a version not available (yet)
        labels = {"stable": 124, "canary": 123, "next": 125}
        path.write_text(config_text(model_entry("m", base, labels)))
        eventually(label_answers("canary", 123), 5, awaited="canary -> 123 picked up")
        with pytest.raises(grpc.RpcError) as absent:
            predict(stub, "m", label="next")
        assert absent.value.code() == grpc.StatusCode.NOT_FOUND

        # ...but not MOVE an existing one there: that file is refused whole
        labels = {"stable": 125, "canary": 124, "next": 125}
        path.write_text(config_text(model_entry("m", base, labels)))
        time.sleep(1.2)  # four polls
        assert predict(stub, "m", label="canary")[0] == 123
        assert predict(stub, "m", label="stable")[0] == 124
    log = server.server.log_path.read_text()
    assert "Request to assign label to version 125 of model m" in log


def test_a_new_model_that_cannot_load_fails_the_reload_and_spares_the_others(
    served: Backends, tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    (broken / "1").mkdir(parents=True)
    (broken / "1" / "saved_model.pb").write_bytes(b"not a SavedModel")

    with pytest.raises(grpc.RpcError) as failed:
        served.reload(served.two_versions(stable=124), model_entry("broken", broken))
    # TF Serving answers UNKNOWN here; errors.py has no class for it, so INTERNAL
    assert failed.value.code() == grpc.StatusCode.INTERNAL
    assert "1 model(s) did not become available" in failed.value.details()
    assert version_states(served.models, "broken") == {1: "END"}
    # the rest of the config was applied, as in TF Serving
    assert predict(served.prediction, "two_versions", label="stable")[0] == 124


@pytest.mark.parametrize(
    ("entries", "code", "message"),
    [
        pytest.param(
            lambda served: [model_entry("missing", Path("/nowhere/missing"))],
            grpc.StatusCode.INVALID_ARGUMENT,
            "Could not find base path /nowhere/missing for servable missing",
            id="a bad base path, every model served dropped",
        ),
        pytest.param(
            lambda served: [
                served.two_versions(stable=123),
                model_entry("missing", Path("/nowhere/missing")),
            ],
            grpc.StatusCode.INVALID_ARGUMENT,
            "Could not find base path /nowhere/missing for servable missing",
            id="a bad base path beside a kept model",
        ),
        pytest.param(
            lambda served: [
                model_entry("three", served.testdata / HALF_PLUS_THREE, {"stable": 999})
            ],
            grpc.StatusCode.FAILED_PRECONDITION,
            "Request to assign label to version 999 of model three",
            id="a bad label",
        ),
        pytest.param(
            lambda served: [
                model_entry("three", served.testdata / HALF_PLUS_THREE),
                model_entry("three", served.testdata / HALF_PLUS_THREE),
            ],
            grpc.StatusCode.INVALID_ARGUMENT,
            "Illegal to list model three multiple times in config list",
            id="duplicate names",
        ),
    ],
)
def test_a_refused_reload_changes_nothing(
    served: Backends,
    entries: Callable[[Backends], list[str]],
    code: grpc.StatusCode,
    message: str,
) -> None:
    served.reload(served.two_versions(stable=123, canary=124))
    with pytest.raises(grpc.RpcError) as refused:
        served.reload(*entries(served))
    assert refused.value.code() == code
    assert message in refused.value.details()
    assert version_states(served.models, "two_versions") == {123: "AVAILABLE", 124: "AVAILABLE"}
    assert predict(served.prediction, "two_versions", label="stable")[0] == 123
    assert predict(served.prediction, "two_versions", label="canary")[0] == 124
    with pytest.raises(grpc.RpcError) as absent:
        predict(served.prediction, "three")
    assert absent.value.code() == grpc.StatusCode.NOT_FOUND
