"""Our entry to seldon-core-microservice without TensorFlow's runtime: the process imports
only the generated protos, and seldon-core's own `tftensor` path still works (through our
codec) for routers and combiners, which Seldon decodes for.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from seldon_tfserving.runner.launch import MICROSERVICE
from seldon_tfserving.tensorflow_protos_only import (
    make_ndarray,
    make_tensor_proto,
)
from tests.components import test_combiner_service
from tests.components.test_combiner_service import CASES, CombinerUnderTest
from tests.components.wire import array_of, close, payload, wire_for
from tests.servers import PROJECT_ROOT, Microservice, start_microservice

#: Imports what a component process imports (Seldon's microservice, our classes, TF Serving's
#: protos, Seldon's tftensor codec), then prints what is loaded.
IMPORTS_OF_A_COMPONENT = """
import json, sys
if sys.argv[1] == "protos-only":
    from seldon_tfserving.tensorflow_protos_only import load_tensorflow_protos_only
    assert load_tensorflow_protos_only()
import numpy as np
import seldon_core.microservice
from seldon_core.imports_helper import _TF_PRESENT
from seldon_core.utils import array_to_grpc_datadef, grpc_datadef_to_array
from tensorflow_serving.apis import get_model_metadata_pb2, predict_pb2, prediction_service_pb2_grpc
from seldon_tfserving import ABTestRouter, MeanCombiner, TfServingModel
answer = grpc_datadef_to_array(array_to_grpc_datadef("tftensor", np.array([[1.5, -2.0]], "f4")))
print(json.dumps({
    "modules": sorted(sys.modules),
    "seldon_tf_present": _TF_PRESENT,
    "tftensor_round_trip": answer.tolist(),
    "dtype": str(answer.dtype),
}))
"""


def imports_of_a_component(mode: str) -> dict[str, object]:
    finished = subprocess.run(
        [sys.executable, "-c", IMPORTS_OF_A_COMPONENT, mode],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    found: dict[str, object] = json.loads(finished.stdout.splitlines()[-1])
    return found


def test_a_component_imports_the_protos_without_tensorflows_python_runtime() -> None:
    loaded = imports_of_a_component("protos-only")
    modules = loaded["modules"]
    assert isinstance(modules, list)
    assert "tensorflow.core.framework.tensor_pb2" in modules
    assert "tensorflow_serving.apis.predict_pb2" in modules
    assert [
        m for m in modules if m == "tensorflow.python" or m.startswith("tensorflow.python.")
    ] == []
    assert loaded["seldon_tf_present"] is True, "Seldon's tftensor path is on, through our codec"
    assert loaded["tftensor_round_trip"] == [[1.5, -2.0]]
    assert loaded["dtype"] == "float32"


def test_without_our_entry_the_same_imports_load_tensorflows_runtime() -> None:
    """The control: what the entry saves is really loaded otherwise."""
    modules = imports_of_a_component("full")["modules"]
    assert isinstance(modules, list)
    assert "tensorflow.python" in modules


@pytest.fixture(scope="module", params=list(CASES))
def combiner(request: pytest.FixtureRequest, log_dir: Path) -> Iterator[CombinerUnderTest]:
    """Every combiner of `test_combiner_service`, started by our protos-only entry."""
    service = start_microservice(
        log_dir,
        f"seldon_tfserving.{request.param}",
        service_type="COMBINER",
        parameters=CASES[request.param].parameters,
        program=MICROSERVICE,
    )
    yield CombinerUnderTest(request.param, service)
    service.server.stop(timeout_s=2)


#: The same payload test, every assertion kept, on combiners without TensorFlow's runtime.
test_aggregate_combines_the_children_in_their_own_payload_type = (
    test_combiner_service.test_aggregate_combines_the_children_in_their_own_payload_type
)


@pytest.fixture(scope="module")
def router(log_dir: Path) -> Iterator[Microservice]:
    service = start_microservice(
        log_dir,
        "seldon_tfserving.ABTestRouter",
        service_type="ROUTER",
        parameters=[{"name": "ratio_a", "type": "FLOAT", "value": "0.5"}],
        program=MICROSERVICE,
    )
    yield service
    service.server.stop(timeout_s=2)


@pytest.mark.parametrize("kind", ["ndarray", "tensor", "tftensor"])
@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_a_router_answers_each_payload_kind_with_a_route_in_that_kind(
    router: Microservice, transport: str, kind: str
) -> None:
    wire = wire_for(transport, router)
    try:
        reply = wire.route({"data": payload(np.array([[0.1, 0.2, 0.3, 0.4]], "f4"), kind)})
    finally:
        close(wire)
    assert reply.ok, reply
    answered_kind, route = array_of(reply.body)
    assert answered_kind == kind
    assert route.shape == (1, 1) and route[0, 0] in (0, 1)


@pytest.mark.parametrize(
    "array",
    [
        np.array([[0.25, -1.5]], dtype=np.float32),
        np.array([[1.0, 2.5], [3.0, 4.0]], dtype=np.float64),
        np.array([[2**40, -7]], dtype=np.int64),
        np.array([1, 0, 1], dtype=np.int32),
        np.array([True, False]),
        np.array([b"a", b"\xff\x00"], dtype=object),
        np.zeros((0, 3), dtype=np.float32),
    ],
    ids=["float32", "float64", "int64", "int32", "bool", "bytes", "empty"],
)
def test_the_bare_packages_conversions_agree_with_tensorflows(array: np.ndarray[Any, Any]) -> None:
    """Seldon's tftensor path gets our codec's make_tensor_proto / make_ndarray: each reads
    what TensorFlow's own writes, and TensorFlow reads what ours write, dtype and shape kept."""
    import tensorflow as tf

    ours = make_tensor_proto(array)
    theirs = tf.make_tensor_proto(array)
    assert ours.dtype == theirs.dtype
    assert ours.tensor_shape == theirs.tensor_shape
    for decoded in (tf.make_ndarray(ours), make_ndarray(theirs), make_ndarray(ours)):
        assert decoded.dtype == tf.make_ndarray(theirs).dtype
        assert decoded.shape == array.shape
        np.testing.assert_array_equal(decoded, array)
