"""`seldon-tfserving up` on Seldon's own mnist-rest example as a user runs it: the gs:// model
mapped with --model-uri, the component started with the operator's env, a prediction over REST
through Seldon's client; without the mapping, a plan error that names the URI and the flag."""

from __future__ import annotations

import signal
from pathlib import Path

import numpy as np
import pytest
from seldon_core.seldon_client import SeldonClient
from seldon_core.utils import get_data_from_proto

from tests.process_kill import kill_with_its_tree
from tests.runner.tensorflow_server_models import build_mnist_model, mnist_scores
from tests.runner.test_up_command import children_of, up, wait_until_printed
from tests.servers import PROJECT_ROOT, free_port

MNIST_REST = PROJECT_ROOT / "graphs" / "tensorflow-server" / "mnist-rest.yaml"
MNIST_URI = "gs://seldon-models/tfserving/mnist-model"

pytestmark = pytest.mark.timeout(600)


def environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(entry.decode().partition("=")[::2] for entry in raw if b"=" in entry)


def test_up_serves_seldons_mnist_example_from_the_mapped_folder(tmp_path: Path) -> None:
    models = build_mnist_model(tmp_path / "mnist-model")
    http_port, grpc_port = free_port(), free_port()
    output = tmp_path / "up.out"
    process = up(
        [
            str(MNIST_REST),
            "--model-uri",
            f"{MNIST_URI}={models}",
            "--http-port",
            str(http_port),
            "--grpc-port",
            str(grpc_port),
            "--log-dir",
            str(tmp_path / "logs"),
        ],
        output,
    )
    try:
        wait_until_printed(process, output, "Gateway up", 420)
        printed = output.read_text()
        assert "ready    backend   tfserving/default/tfserving" in printed
        assert "ready    component tfserving/default/mnist-model" in printed
        images = np.random.default_rng(3).random((2, 784))
        seldon = SeldonClient(
            deployment_name="tfserving",
            namespace="default",
            gateway="istio",
            gateway_endpoint=f"127.0.0.1:{http_port}",
            transport="rest",
            client_return_type="proto",
        )
        result = seldon.predict(data=images)
        assert result.success, result.msg
        np.testing.assert_allclose(
            np.asarray(get_data_from_proto(result.response)),
            mnist_scores(images),
            rtol=1e-4,
            atol=1e-6,
        )
        assert result.response.meta.requestPath["mnist-model"] == "seldon-tfserving:0.1.0"
        over_grpc = seldon.predict(
            data=images, transport="grpc", gateway_endpoint=f"127.0.0.1:{grpc_port}"
        )
        assert over_grpc.success, over_grpc.msg
        np.testing.assert_allclose(
            np.asarray(get_data_from_proto(over_grpc.response)),
            mnist_scores(images),
            rtol=1e-4,
            atol=1e-6,
        )

        environments = [environ(pid) for pid in children_of(process.pid)]
        (component,) = [e for e in environments if e.get("PREDICTIVE_UNIT_ID")]
        assert component["PREDICTIVE_UNIT_IMAGE"] == "seldon-tfserving:0.1.0"
        assert component["SELDON_DEPLOYMENT_ID"] == "tfserving"
        assert component["PREDICTOR_ID"] == "default"
        for name in (
            "PREDICTIVE_UNIT_SERVICE_PORT",
            "PREDICTIVE_UNIT_GRPC_SERVICE_PORT",
            "PREDICTIVE_UNIT_METRICS_SERVICE_PORT",
            "PREDICTIVE_UNIT_PARAMETERS",
        ):
            assert component.get(name), name
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    finally:
        kill_with_its_tree(process)


def test_a_model_uri_without_a_mapping_is_refused_before_anything_starts(tmp_path: Path) -> None:
    output = tmp_path / "up.out"
    process = up([str(MNIST_REST)], output)
    assert process.wait(timeout=120) == 2
    text = output.read_text()
    assert f"modelUri '{MNIST_URI}', which `up` does not download" in text
    assert f"--model-uri {MNIST_URI}=DIR" in text
    assert "Traceback" not in text and "starting backend" not in text


def test_a_mapping_to_a_missing_folder_is_a_usage_error(tmp_path: Path) -> None:
    output = tmp_path / "up.out"
    process = up([str(MNIST_REST), "--model-uri", f"{MNIST_URI}={tmp_path / 'nowhere'}"], output)
    assert process.wait(timeout=120) == 2
    assert "is not a folder" in output.read_text()
