"""`serve-models` reads its command line as tensorflow_model_server does, honours the flags that
can be honoured here (session threads, tags, load retries, gRPC arguments) and refuses, with
the flag's name, every word the binary would skip and every flag it cannot honour."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
import requests
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from seldon_tfserving.backend import flag_rules
from seldon_tfserving.codec.tensor_proto import ndarray_to_tensor_proto
from tests.servers import VENV_BIN, Backend, free_port
from tests.waiting import eventually

HALF_PLUS_TWO = "saved_model_half_plus_two_cpu"


def serve_models(*words: str, timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
    """Run serve-models to its exit (every case here stops it before it would serve)."""
    return subprocess.run(
        [str(VENV_BIN / "seldon-tfserving"), "serve-models", *words],
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )


@pytest.mark.parametrize(
    ("words", "says"),
    [
        (["--port", "9000"], "--port takes its value after '=' in the same word"),
        (["--model_name", "m"], "tensorflow_model_server would skip '--model_name' 'm'"),
        (["--rest_api_p=8501"], "tensorflow_model_server has no flag --rest_api_p"),
        (["--model_platform=tensorflow"], "tensorflow_model_server has no flag --model_platform"),
        (["-port=9000"], "'-port=9000' is not a flag"),
        (["serve"], "'serve' is not a flag"),
        (["--"], "'--' is not a flag"),
        (["--enable_batching", "true"], "'true' is not a flag"),
    ],
)
def test_words_the_binary_would_skip_are_refused(words: list[str], says: str) -> None:
    result = serve_models(f"--port={free_port()}", *words, "--model_base_path=/models/m")
    assert result.returncode == 2
    assert says in result.stderr


@pytest.mark.parametrize(
    "flag",
    [
        "--ssl_config_file=/etc/tls.conf",
        "--use_alts_credentials",
        "--platform_config_file=/etc/platforms.conf",
        "--rest_api_enable_cors_support=true",
        "--num_load_threads=4",
        "--num_unload_threads=2",
        "--num_request_iterations_for_warmup=3",
        "--enable_per_model_batching_parameters",
        "--enable_signature_method_name_check=false",
        "--xla_cpu_compilation_enabled=true",
        "--xla_gpu_compilation_enabled",
        "--prefer_tflite_model=1",
        "--enable_profiler=true",
        "--enable_grpc_healthcheck_service",
        "--enable_serialization_as_tensor_content",
        "--thread_pool_factory_config_file=/etc/pools.conf",
        "--mixed_precision=bfloat16",
        "--version",
    ],
)
def test_a_flag_we_cannot_honour_is_refused_by_name(flag: str) -> None:
    result = serve_models(flag, "--model_base_path=/models/m")
    assert result.returncode == 2
    assert f"{flag.partition('=')[0]}" in result.stderr
    assert "is not supported by serve-models" in result.stderr


def test_every_flag_of_the_binary_is_honoured_refused_or_said_to_do_nothing() -> None:
    from seldon_tfserving.deploy.tfserving_flags import FLAG_KINDS  # the binary's flag list

    parsed = serve_models("--help")
    assert parsed.returncode == 0
    honoured = {name for name in FLAG_KINDS if f"--{name}" in parsed.stdout}
    judged = set(flag_rules.REFUSED_FLAGS) | set(flag_rules.NO_EFFECT_FLAGS)
    assert set(FLAG_KINDS) - honoured - judged == set()
    for name, kind in FLAG_KINDS.items():
        assert flag_rules.is_boolean(name) == (kind == "bool"), name


@pytest.mark.parametrize(
    ("words", "says"),
    [
        (
            [
                "--tensorflow_session_parallelism=2",
                "--tensorflow_intra_op_parallelism=2",
                "--tensorflow_inter_op_parallelism=2",
            ],
            "You cannot configure all.",
        ),
        (["--grpc_channel_arguments=grpc.max_connection_age_ms"], "grpc_channel_arguments"),
        (["--tensorflow_session_config_file=/nowhere/session.conf"], "cannot read"),
        (["--tensorflow_session_config_file=BAD"], "not a ConfigProto text proto"),
    ],
)
def test_a_bad_flag_value_stops_the_start_with_a_message(
    words: list[str], says: str, tfserving_testdata: Path, tmp_path: Path
) -> None:
    if words[-1].endswith("=BAD"):
        bad = tmp_path / "session.conf"
        bad.write_text("intra_op_parallelism_threads: lots\n")
        words = [f"--tensorflow_session_config_file={bad}"]
    result = serve_models(
        f"--port={free_port()}",
        f"--model_base_path={tfserving_testdata / HALF_PLUS_TWO}",
        *words,
    )
    assert result.returncode == 2
    assert says in result.stderr


def thread_count(backend: Backend) -> int:
    process: Any = backend.server.process
    status = Path(f"/proc/{process.pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("Threads:")).split()[1])


def predict_over_both_faces(backend: Backend, model: str) -> None:
    reply = requests.post(
        f"{backend.rest_endpoint}/v1/models/{model}:predict", json={"instances": [1.0]}, timeout=30
    )
    assert reply.json() == {"predictions": [2.5]}
    with grpc.insecure_channel(backend.grpc_endpoint) as channel:
        request = predict_pb2.PredictRequest()
        request.model_spec.name = model
        request.inputs["x"].CopyFrom(ndarray_to_tensor_proto(np.array([1.0], np.float32)))
        prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(request, timeout=30)


def test_session_threads_and_tags_are_those_of_the_flags(
    backend_factory: Callable[..., Backend], tfserving_testdata: Path, tmp_path: Path
) -> None:
    session_config = tmp_path / "session.conf"
    session_config.write_text("allow_soft_placement: true\n")
    common = [
        "--model_name=m",
        f"--model_base_path={tfserving_testdata / HALF_PLUS_TWO}",
        "--saved_model_tags=serve",
        f"--tensorflow_session_config_file={session_config}",
        "--flush_filesystem_caches",
    ]
    few = backend_factory(
        [*common, "--tensorflow_intra_op_parallelism=1", "--tensorflow_inter_op_parallelism=1"],
        ready_model="m",
        name="few-threads",
    )
    many = backend_factory(
        [*common, "--tensorflow_intra_op_parallelism=9", "--tensorflow_inter_op_parallelism=9"],
        ready_model="m",
        name="many-threads",
    )
    for backend in (few, many):
        predict_over_both_faces(backend, "m")
    # TensorFlow makes each of the two pools as large as asked: 16 threads more
    assert thread_count(many) - thread_count(few) >= 14
    assert "--flush_filesystem_caches has no effect here" in few.server.log_path.read_text()


def test_a_metagraph_is_loaded_by_the_tags_asked_for(
    backend_factory: Callable[..., Backend], tfserving_testdata: Path
) -> None:
    backend = backend_factory(
        [
            "--model_name=m",
            f"--model_base_path={tfserving_testdata / HALF_PLUS_TWO}",
            "--saved_model_tags=serve,gpu",
            "--max_num_load_retries=0",
        ]
    )
    status = requests.get(f"{backend.rest_endpoint}/v1/models/m", timeout=30).json()
    (version,) = status["model_version_status"]
    assert version["state"] == "END"
    assert "could not be found in SavedModel" in version["status"]["error_message"]


def states(backend: Backend, model: str) -> dict[str, str]:
    reply = requests.get(f"{backend.rest_endpoint}/v1/models/{model}", timeout=30)
    return {v["version"]: v["state"] for v in reply.json()["model_version_status"]}


def wait_for_states(backend: Backend, model: str, wanted: dict[str, str], timeout_s: float) -> None:
    eventually(
        lambda: states(backend, model) == wanted,
        timeout_s,
        awaited=f"{model}'s versions {wanted}",
        detail=lambda: states(backend, model),
    )


def test_a_version_that_fails_to_load_is_retried_as_tf_serving_retries_it(
    backend_factory: Callable[..., Backend], tfserving_testdata: Path, tmp_path: Path
) -> None:
    versions = tfserving_testdata / "saved_model_half_plus_two_2_versions"
    base = tmp_path / "retried"
    shutil.copytree(versions / "00000123", base / "123")
    backend = backend_factory(
        [
            "--model_name=r",
            f"--model_base_path={base}",
            "--file_system_poll_wait_seconds=0.2",
            "--max_num_load_retries=100",
            "--load_retry_interval_micros=300000",
        ],
        ready_model="r",
        name="retries",
    )
    # A version whose files are not all there yet is LOADING while it is retried ...
    (base / "124").mkdir()
    (base / "124" / "saved_model.pb").write_bytes(b"half written")
    wait_for_states(backend, "r", {"123": "AVAILABLE", "124": "LOADING"}, timeout_s=10)
    # ... and served once a retry finds it whole.
    (base / "124" / "saved_model.pb").unlink()
    shutil.copytree(versions / "00000124", base / "124", dirs_exist_ok=True)
    wait_for_states(backend, "r", {"123": "END", "124": "AVAILABLE"}, timeout_s=15)
    log = backend.server.log_path.read_text()
    assert "Retrying of loading r version 124, retry: 1" in log

    # Retries stop when the version's directory goes away, well before they run out.
    (base / "125").mkdir()
    (base / "125" / "saved_model.pb").write_bytes(b"never whole")
    wait_for_states(backend, "r", {"123": "END", "124": "AVAILABLE", "125": "LOADING"}, 10)
    shutil.rmtree(base / "125")
    wait_for_states(backend, "r", {"123": "END", "124": "AVAILABLE", "125": "END"}, 10)
    assert "Retrying of loading r version 125 was cancelled." in backend.server.log_path.read_text()


def test_retries_run_out_after_max_num_load_retries(
    backend_factory: Callable[..., Backend], tfserving_testdata: Path, tmp_path: Path
) -> None:
    base = tmp_path / "hopeless"
    shutil.copytree(tfserving_testdata / HALF_PLUS_TWO / "00000123", base / "1")
    (base / "2").mkdir()
    (base / "2" / "saved_model.pb").write_bytes(b"not a SavedModel")
    backend = backend_factory(
        [
            "--model_name=h",
            f"--model_base_path={base}",
            "--max_num_load_retries=2",
            "--load_retry_interval_micros=-1",
            "--grpc_channel_arguments=grpc.max_receive_message_length=64",
        ],
        name="hopeless",
    )
    assert states(backend, "h") == {"2": "END"}
    log = backend.server.log_path.read_text()
    assert "Retrying of loading h version 2, retry: 2" in log
    assert "retry: 3" not in log
    # --grpc_channel_arguments reached gRPC: a 64-byte limit refuses an ordinary request
    with grpc.insecure_channel(backend.grpc_endpoint) as channel:
        request = predict_pb2.PredictRequest()
        request.model_spec.name = "h"
        request.inputs["x"].CopyFrom(ndarray_to_tensor_proto(np.ones(64, np.float32)))
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        with pytest.raises(grpc.RpcError) as refused:
            stub.Predict(request, timeout=30)
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
