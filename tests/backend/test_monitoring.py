"""`--monitoring_config_file`: TF Serving's metrics page on the REST port of a real backend,
read with prometheus_client's parser after real REST and gRPC calls, and the flag's rules."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from tensorflow.core.example import example_pb2, feature_pb2
from tensorflow_serving.apis import inference_pb2, predict_pb2, prediction_service_pb2_grpc

from seldon_tfserving.backend import command
from seldon_tfserving.backend.batching_parameters import BatchingParameters
from seldon_tfserving.backend.config import single_model_config
from seldon_tfserving.backend.monitoring_config import (
    DEFAULT_PROMETHEUS_PATH,
    PrometheusEndpoint,
    parse_monitoring_config,
)
from seldon_tfserving.backend.server import BackendServer
from seldon_tfserving.backend.server_options import ServerOptions
from seldon_tfserving.codec.tensor_proto import ndarray_to_tensor_proto
from seldon_tfserving.errors import ConfigurationError
from seldon_tfserving.ports import free_port
from tests.servers import TFSERVING_TESTDATA

HOST = "127.0.0.1"
METRICS_PATH = "/monitoring/prometheus/metrics"
HALF_PLUS_TWO = TFSERVING_TESTDATA / "saved_model_half_plus_two_cpu"


@pytest.fixture(scope="module")
def server() -> Iterator[BackendServer]:
    options = ServerOptions(
        port=free_port(),
        rest_api_port=free_port(),
        prometheus=PrometheusEndpoint(METRICS_PATH),
        file_system_poll_wait_seconds=0,
    )
    with BackendServer(single_model_config("half", str(HALF_PLUS_TWO)), options) as started:
        yield started


def rest(server: BackendServer, path: str) -> str:
    return f"http://{HOST}:{server.rest_port}{path}"


def scrape(server: BackendServer) -> dict[str, Any]:
    answer = requests.get(rest(server, METRICS_PATH), timeout=10)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/plain"
    return {f.name: f for f in text_string_to_metric_families(answer.text)}


def samples(families: dict[str, Any], name: str, suffix: str = "") -> dict[tuple[Any, ...], float]:
    """The samples named name+suffix, by their label values (le left out). prometheus_client
    names a counter's family without `_total` and its samples with it."""
    family = families[name.removesuffix("_total")]
    wanted = name + suffix if family.type != "counter" else family.name + "_total"
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for sample in family.samples
        if sample.name == wanted and "le" not in sample.labels
    }


def grpc_stub(server: BackendServer) -> Any:
    channel = grpc.insecure_channel(f"{HOST}:{server.grpc_port}")
    return channel, prediction_service_pb2_grpc.PredictionServiceStub(channel)


def test_rest_and_grpc_calls_are_counted_with_tf_servings_names_and_labels(
    server: BackendServer,
) -> None:
    for _ in range(2):
        ok = requests.post(
            rest(server, "/v1/models/half:predict"), json={"instances": [1.0]}, timeout=10
        )
        assert ok.status_code == 200
    missing = requests.post(
        rest(server, "/v1/models/nope:predict"), json={"instances": [1.0]}, timeout=10
    )
    assert missing.status_code == 404
    assert requests.get(rest(server, "/v1/models/half"), timeout=10).status_code == 200
    channel, stub = grpc_stub(server)
    with channel:
        request = predict_pb2.PredictRequest()
        request.model_spec.name = "half"
        request.inputs["x"].CopyFrom(ndarray_to_tensor_proto(np.array([3.0], dtype=np.float32)))
        stub.Predict(request, timeout=10)
        request.model_spec.signature_name = "no_such_signature"
        with pytest.raises(grpc.RpcError) as failed:
            stub.Predict(request, timeout=10)
        assert failed.value.code() == grpc.StatusCode.FAILED_PRECONDITION

    families = scrape(server)
    counts = samples(families, ":tensorflow:serving:request_count")
    assert counts[(("model_name", "half"), ("status", "OK"))] == 4
    assert counts[(("model_name", "nope"), ("status", "NOT_FOUND"))] == 1
    assert counts[(("model_name", "half"), ("status", "FAILED_PRECONDITION"))] == 1
    assert families[":tensorflow:serving:request_count"].type == "counter"

    latency = families[":tensorflow:serving:request_latency"]
    assert latency.type == "histogram"
    latency_counts = samples(families, ":tensorflow:serving:request_latency", "_count")
    assert latency_counts == {
        (("API", "predict"), ("entrypoint", "REST"), ("model_name", "half")): 2,
        (("API", ""), ("entrypoint", "REST"), ("model_name", "half")): 1,
        (("API", "Predict"), ("entrypoint", "GRPC"), ("model_name", "half")): 1,
    }
    limits = [
        s.labels["le"]
        for s in latency.samples
        if s.name.endswith("_bucket") and s.labels["entrypoint"] == "GRPC"
    ]
    assert limits[:4] == ["10", "18", "32.4", "58.32"] and limits[-1] == "+Inf"
    assert len(limits) == 34
    # each session run that succeeded, under the servable's API name whatever the face
    assert samples(families, ":tensorflow:serving:runtime_latency", "_count") == {
        (("API", "Predict"), ("model_name", "half"), ("runtime", "TF1")): 3
    }
    assert ":tensorflow:serving:batching_session:wrapped_run_count" not in families


def test_a_multi_inference_counts_its_examples(server: BackendServer) -> None:
    request = inference_pb2.MultiInferenceRequest()
    task = request.tasks.add()
    task.model_spec.name = "half"
    task.model_spec.signature_name = "regress_x_to_y"
    task.method_name = "tensorflow/serving/regress"
    for x in (1.0, 2.0, 3.0):
        request.input.example_list.examples.append(
            example_pb2.Example(
                features=feature_pb2.Features(
                    feature={"x": feature_pb2.Feature(float_list=feature_pb2.FloatList(value=[x]))}
                )
            )
        )
    channel, stub = grpc_stub(server)
    with channel:
        stub.MultiInference(request, timeout=10)
    families = scrape(server)
    assert samples(families, ":tensorflow:serving:request_example_count_total") == {
        (("model", "half"),): 3
    }
    assert samples(families, ":tensorflow:serving:request_example_counts", "_count") == {
        (("model", "half"),): 1
    }


def test_tensorflows_own_saved_model_read_counters_are_on_the_page(
    server: BackendServer,
) -> None:
    families = scrape(server)
    reads = samples(families, ":tensorflow:core:saved_model:read:count")
    assert reads[(("write_version", "1"),)] >= 1
    apis = samples(families, ":tensorflow:core:saved_model:read:api")
    assert apis[(("api_label", "loader"),)] >= 1


def test_the_page_answers_at_its_path_only(server: BackendServer) -> None:
    assert requests.get(rest(server, METRICS_PATH + "?x=1"), timeout=10).status_code == 200
    elsewhere = requests.get(rest(server, "/monitoring/other"), timeout=10)
    assert elsewhere.status_code == 404


def test_a_batching_backend_times_each_runs_queueing_and_counts_each_batch() -> None:
    options = ServerOptions(
        port=free_port(),
        rest_api_port=free_port(),
        prometheus=PrometheusEndpoint(METRICS_PATH),
        batching=BatchingParameters(
            max_batch_size=4, batch_timeout_micros=50_000, num_batch_threads=1
        ),
        file_system_poll_wait_seconds=0,
    )
    runs = 6
    with BackendServer(single_model_config("half", str(HALF_PLUS_TWO)), options) as batching:

        def predict(x: float) -> int:
            url = rest(batching, "/v1/models/half:predict")
            return requests.post(url, json={"instances": [x]}, timeout=30).status_code

        with ThreadPoolExecutor(runs) as callers:
            assert list(callers.map(predict, range(runs))) == [200] * runs
        families = scrape(batching)
    assert samples(families, ":tensorflow:serving:batching_session:queuing_latency", "_count") == {
        (("thread_pool_name", ""),): runs
    }
    batches = samples(families, ":tensorflow:serving:batching_session:wrapped_run_count")[()]
    assert 2 <= batches <= runs  # at most four runs in a batch
    assert samples(families, ":tensorflow:serving:runtime_latency", "_count") == {
        (("API", "Predict"), ("model_name", "half"), ("runtime", "TF1")): runs
    }


def test_a_backend_without_monitoring_has_no_page() -> None:
    options = ServerOptions(port=free_port(), rest_api_port=free_port())
    with BackendServer(single_model_config("half", str(HALF_PLUS_TWO)), options) as plain:
        assert plain.metrics is None
        answer = requests.get(f"http://{HOST}:{plain.rest_port}{METRICS_PATH}", timeout=10)
        assert answer.status_code == 404


def test_the_config_reads_tf_servings_text_format() -> None:
    assert parse_monitoring_config('prometheus_config { enable: true, path: "/m" }') == (
        PrometheusEndpoint("/m")
    )
    assert parse_monitoring_config("prometheus_config { enable: true }") == PrometheusEndpoint(
        DEFAULT_PROMETHEUS_PATH
    )
    assert parse_monitoring_config('prometheus_config { path: "/m" }') is None
    assert parse_monitoring_config("") is None
    with pytest.raises(ConfigurationError, match="monitoring_config_file"):
        parse_monitoring_config("prometheus_config { enabled: true }")


def parsed_flags(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    command.configure(parser)
    return parser.parse_args(list(argv))


def test_the_flag_is_honoured_only_with_a_rest_port(tmp_path: Path) -> None:
    config = tmp_path / "monitoring.config"
    config.write_text('prometheus_config { enable: true path: "/metrics/tfs" }')
    with_rest = parsed_flags(
        "--model_base_path=/m", "--rest_api_port=8501", f"--monitoring_config_file={config}"
    )
    assert command.server_options(with_rest).prometheus == PrometheusEndpoint("/metrics/tfs")
    without_rest = parsed_flags("--model_base_path=/m", f"--monitoring_config_file={config}")
    assert command.server_options(without_rest).prometheus is None


def test_a_bad_monitoring_config_stops_the_start_with_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "monitoring.config"
    config.write_text("prometheus_config { enable: maybe }")
    args = parsed_flags(
        f"--model_base_path={HALF_PLUS_TWO}",
        f"--port={free_port()}",
        f"--rest_api_port={free_port()}",
        f"--monitoring_config_file={config}",
    )
    assert command.run(args) == 2
    args.monitoring_config_file = str(tmp_path / "absent.config")
    assert command.run(args) == 2
