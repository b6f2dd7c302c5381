"""Model warm-up: the records in a SavedModel's assets.extra/tf_serving_warmup_requests run
before its version serves, and a record that fails fails the load, as in TF Serving.

TF Serving's `counter` model shows it from outside: each warm-up `incr_counter` leaves the
count one higher when the first real request arrives.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.example import example_pb2, feature_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_status_pb2,
    inference_pb2,
    predict_pb2,
    prediction_log_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
)

from seldon_tfserving.backend.config import resolve_sources, single_model_config
from seldon_tfserving.backend.core import ModelRef, ServingCore
from seldon_tfserving.backend.loading import load_serving_core
from seldon_tfserving.backend.warmup import MAX_RECORDS, WARMUP_FILE
from seldon_tfserving.codec.tensor_proto import ndarray_to_tensor_proto, tensor_proto_to_ndarray
from seldon_tfserving.errors import NotFound
from tests.servers import TFSERVING_TESTDATA, start_backend

Log = prediction_log_pb2.PredictionLog
END = get_model_status_pb2.ModelVersionStatus.END
AVAILABLE = get_model_status_pb2.ModelVersionStatus.AVAILABLE


def predict_log(signature: str, **inputs: np.ndarray) -> Log:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "whatever the exporter called it"  # not consulted
    request.model_spec.signature_name = signature
    for name, array in inputs.items():
        request.inputs[name].CopyFrom(ndarray_to_tensor_proto(array))
    return Log(predict_log=prediction_log_pb2.PredictLog(request=request))


def x_example(value: float) -> example_pb2.Example:
    return example_pb2.Example(
        features=feature_pb2.Features(
            feature={"x": feature_pb2.Feature(float_list=feature_pb2.FloatList(value=[value]))}
        )
    )


def model_with_warmup(
    root: Path, testdata: str, records: list[Log | bytes], name: str = "model"
) -> Path:
    """A copy of TF Serving's test model `testdata` carrying `records` as its warm-up file."""
    base = root / name
    shutil.copytree(TFSERVING_TESTDATA / testdata, base)
    (version_dir,) = base.iterdir()
    warmup = version_dir / WARMUP_FILE
    warmup.parent.mkdir()
    with tf.io.TFRecordWriter(str(warmup)) as writer:
        for record in records:
            writer.write(record if isinstance(record, bytes) else record.SerializeToString())
    return base


def load(base: Path, warm_up: bool = True) -> ServingCore:
    sources = resolve_sources(single_model_config(base.name, str(base)))
    return load_serving_core(sources, warm_up=warm_up)


def counter_value(core: ServingCore) -> float:
    prediction = core.predict(ModelRef("model"), "get_counter", {})
    return float(prediction.outputs["output"])


def version_status(core: ServingCore) -> get_model_status_pb2.ModelVersionStatus:
    (status,) = core.status("model").model_version_status
    return status


@pytest.fixture
def loaded(tmp_path: Path) -> Callable[..., ServingCore]:
    cores: list[ServingCore] = []

    def load_model(testdata: str, records: list[Log | bytes], warm_up: bool = True) -> ServingCore:
        core = load(model_with_warmup(tmp_path / str(len(cores)), testdata, records), warm_up)
        cores.append(core)
        return core

    yield load_model
    for core in cores:
        core.close()


def test_warmup_requests_run_before_the_version_serves(loaded: Callable[..., ServingCore]) -> None:
    core = loaded("saved_model_counter", [predict_log("incr_counter")] * 3)
    assert version_status(core).state == AVAILABLE
    assert counter_value(core) == 3


def test_with_warmup_disabled_nothing_runs(loaded: Callable[..., ServingCore]) -> None:
    core = loaded("saved_model_counter", [predict_log("incr_counter")] * 3, warm_up=False)
    assert counter_value(core) == 0


def test_classify_regress_and_multi_inference_records_run_too(
    loaded: Callable[..., ServingCore],
) -> None:
    classify = classification_pb2.ClassificationRequest()
    classify.model_spec.signature_name = "classify_x_to_y"
    classify.input.example_list.examples.append(x_example(20.0))
    regress = regression_pb2.RegressionRequest()
    regress.model_spec.signature_name = "regress_x_to_y"
    regress.input.example_list.examples.append(x_example(80.0))
    multi = inference_pb2.MultiInferenceRequest(input=regress.input)
    for signature in ("regress_x_to_y", "regress_x_to_y2"):
        task = multi.tasks.add(method_name="tensorflow/serving/regress")
        task.model_spec.name, task.model_spec.signature_name = "exported", signature
    records = [
        Log(classify_log=prediction_log_pb2.ClassifyLog(request=classify)),
        Log(regress_log=prediction_log_pb2.RegressLog(request=regress)),
        Log(multi_inference_log=prediction_log_pb2.MultiInferenceLog(request=multi)),
        predict_log("serving_default", x=np.array([[1.0]], dtype=np.float32)),
    ]
    core = loaded("saved_model_half_plus_two_cpu", records)
    assert version_status(core).state == AVAILABLE

    # the same classify record against a signature it does not fit fails the load
    classify.model_spec.signature_name = "regress_x_to_y"
    bad = [Log(classify_log=prediction_log_pb2.ClassifyLog(request=classify))]
    status = version_status(loaded("saved_model_half_plus_two_cpu", bad))
    assert status.state == END
    assert status.status.error_code == grpc.StatusCode.INVALID_ARGUMENT.value[0]


@pytest.mark.parametrize(
    ("records", "code", "says"),
    [
        pytest.param(
            [predict_log("incr_counter"), predict_log("no_such_signature")],
            grpc.StatusCode.FAILED_PRECONDITION,
            'Serving signature key "no_such_signature" not found',
            id="failing-request",
        ),
        pytest.param(
            [b"\xff not a PredictionLog"],
            grpc.StatusCode.INVALID_ARGUMENT,
            "Failed to parse warmup record",
            id="unparseable-record",
        ),
        pytest.param(
            [predict_log("get_counter")] * (MAX_RECORDS + 1),
            grpc.StatusCode.INVALID_ARGUMENT,
            f"exceeds the maximum ({MAX_RECORDS})",
            id="too-many-records",
        ),
        pytest.param(
            [Log(session_run_log=prediction_log_pb2.SessionRunLog())],
            grpc.StatusCode.UNIMPLEMENTED,
            "Unsupported log_type for warmup: session_run_log",
            id="session-run-record",
        ),
    ],
)
def test_a_warmup_that_fails_fails_the_load_with_its_error(
    loaded: Callable[..., ServingCore],
    records: list[Log | bytes],
    code: grpc.StatusCode,
    says: str,
) -> None:
    core = loaded("saved_model_counter", records)
    status = version_status(core)
    assert status.state == END
    assert status.status.error_code == code.value[0]
    assert says in status.status.error_message
    with pytest.raises(NotFound):
        counter_value(core)


def test_a_corrupt_warmup_file_fails_the_load(tmp_path: Path) -> None:
    base = model_with_warmup(tmp_path, "saved_model_counter", [predict_log("incr_counter")])
    warmup = next(base.iterdir()) / WARMUP_FILE
    data = bytearray(warmup.read_bytes())
    data[12] ^= 0xFF  # the first byte after the length and its checksum: the record's own
    warmup.write_bytes(bytes(data))
    core = load(base)
    try:
        status = version_status(core)
        assert status.state == END
        assert status.status.error_code == grpc.StatusCode.INTERNAL.value[0]
        assert "cannot read warmup file" in status.status.error_message
        assert "corrupted record" in status.status.error_message
    finally:
        core.close()


def test_the_backend_serves_a_warmed_up_version(tmp_path: Path, log_dir: Path) -> None:
    base = model_with_warmup(tmp_path, "saved_model_counter", [predict_log("incr_counter")] * 2)
    backend = start_backend(
        log_dir, ["--model_name=model", f"--model_base_path={base}"], ready_model="model"
    )
    try:
        with grpc.insecure_channel(backend.grpc_endpoint) as channel:
            request = predict_log("get_counter").predict_log.request
            request.model_spec.name = "model"
            reply = prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(
                request, timeout=30
            )
        assert float(tensor_proto_to_ndarray(reply.outputs["output"])) == 2
    finally:
        backend.server.stop()
