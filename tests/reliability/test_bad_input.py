"""Bad input never breaks a server: generated bodies to the wrapper, the gateway and the backend.

Random JSON, wrong shapes and dtypes, huge and deeply nested arrays, invalid base64 and bytes
that are not UTF-8: each gets a client error (never a 5xx, never a hang), and the server
answers a good request right after. Bodies over the configured limit get 413 over REST and
RESOURCE_EXHAUSTED over gRPC.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
import numpy as np
import pytest
import requests
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from seldon_core.proto import prediction_pb2, prediction_pb2_grpc
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from seldon_tfserving.codec.tensor_proto import ndarray_to_tensor_proto
from seldon_tfserving.runner.local import LocalRunner
from tests.reliability.conftest import LIMIT_BYTES, ReliabilityLedger
from tests.reliability.graphs import NAMESPACE
from tests.servers import Backend, Microservice

#: A request that takes longer than this counts as a hang.
HANG_S = 15.0

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=30,
)
ragged = st.lists(st.lists(st.floats(width=32), max_size=4), min_size=1, max_size=4)
shapes = st.lists(st.integers(min_value=-3, max_value=2**40), max_size=5)
bad_base64 = st.text(alphabet="!@#$%^&*()=_-+ abc", min_size=1, max_size=20)

#: Seldon-protocol bodies: the right keys holding the wrong things.
seldon_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries({"data": json_values}),
    st.fixed_dictionaries({"data": st.fixed_dictionaries({"ndarray": json_values | ragged})}),
    st.fixed_dictionaries(
        {
            "data": st.fixed_dictionaries(
                {
                    "tensor": st.fixed_dictionaries(
                        {"shape": shapes, "values": st.lists(json_scalars, max_size=8)}
                    )
                }
            )
        }
    ),
    st.fixed_dictionaries(
        {"data": st.fixed_dictionaries({"names": json_values, "ndarray": st.just([[1.0]])})}
    ),
    st.fixed_dictionaries(
        {
            "data": st.fixed_dictionaries(
                {
                    "tftensor": st.fixed_dictionaries(
                        {
                            "dtype": st.sampled_from(["DT_FLOAT", "DT_STRING", "DT_BOGUS", 7]),
                            "tensorShape": json_values,
                            "tensorContent": bad_base64,
                        }
                    )
                }
            )
        }
    ),
    st.fixed_dictionaries({"jsonData": json_values}),
    st.fixed_dictionaries({"jsonData": st.fixed_dictionaries({"instances": json_values})}),
    st.fixed_dictionaries({"binData": bad_base64}),
    st.fixed_dictionaries({"strData": json_values}),
    st.fixed_dictionaries({"meta": json_values, "data": st.just({"ndarray": [[1.0]]})}),
)

#: TF Serving REST bodies: rows, columns, b64 and signatures, wrong in every way.
tfserving_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries({"instances": json_values | ragged}),
    st.fixed_dictionaries({"inputs": json_values}),
    st.fixed_dictionaries({"instances": st.lists(st.fixed_dictionaries({"b64": bad_base64}))}),
    st.fixed_dictionaries(
        {"inputs": st.fixed_dictionaries({"x": st.fixed_dictionaries({"b64": bad_base64})})}
    ),
    st.fixed_dictionaries({"signature_name": json_values, "instances": st.just([[1.0]])}),
    st.fixed_dictionaries({"instances": st.just([[1.0]]), "inputs": st.just([[1.0]])}),
)


class RawBody:
    """Bytes with a short name, so a failing example prints as a name, not 200 kB of brackets."""

    def __init__(self, name: str, data: bytes) -> None:
        self.name = name
        self.data = data

    def __repr__(self) -> str:
        return f"RawBody({self.name!r}, {len(self.data)} bytes: {self.data[:40]!r}...)"


#: Raw bodies that are not JSON at all, or not text.
raw_bodies = st.one_of(
    st.binary(max_size=64).filter(lambda b: _not_utf8(b)).map(lambda b: RawBody("not UTF-8", b)),
    st.text(max_size=64).map(lambda t: RawBody("text", t.encode())),
    st.sampled_from(
        [
            RawBody("array nested 100,000 deep", b"[" * 100_000 + b"]" * 100_000),
            RawBody(
                "ndarray nested 5,000 deep",
                b'{"data": {"ndarray": ' + b"[" * 5_000 + b"1" + b"]" * 5_000 + b"}}",
            ),
            RawBody("NaN and Infinity", b'{"instances": [[NaN, Infinity, -Infinity]]}'),
            RawBody("UTF-16 with BOM", b"\xff\xfe{\x00}\x00"),
            RawBody("empty", b""),
        ]
    ),
)


def _not_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


@dataclass(frozen=True)
class RestFace:
    """A server's REST predict URL, its kind of body, and a good request with its answer."""

    url: str
    good_body: dict[str, Any]
    answer_of: Callable[[Any], Any]


def _seldon_answer(body: Any) -> Any:
    return body["data"]["ndarray"]


def _tfserving_answer(body: Any) -> Any:
    return body["predictions"]


@pytest.fixture(scope="module")
def faces(
    wrapper: Microservice, ab_graph: LocalRunner, limited_backend: Backend
) -> dict[str, RestFace]:
    seldon_good = {"data": {"ndarray": [[1.0]]}}
    return {
        "wrapper": RestFace(
            f"{wrapper.http_url}/api/v1.0/predictions", seldon_good, _seldon_answer
        ),
        "gateway": RestFace(
            f"{ab_graph.http_url}/seldon/{NAMESPACE}/ab/api/v1.0/predictions",
            seldon_good,
            _seldon_answer,
        ),
        "backend": RestFace(
            f"{limited_backend.rest_endpoint}/v1/models/half_plus_two:predict",
            {"instances": [[1.0]]},
            _tfserving_answer,
        ),
    }


def _send_bad(face: RestFace, raw: bytes, ledger: ReliabilityLedger) -> None:
    """Send one bad body; a 5xx or no answer within HANG_S fails; then a good one must work."""
    try:
        reply = requests.post(
            face.url, data=raw, headers={"Content-Type": "application/json"}, timeout=HANG_S
        )
    except requests.Timeout:
        ledger.answered("no answer")
        pytest.fail(f"{face.url} hung on {raw[:120]!r}")
    ledger.answered(str(reply.status_code))
    assert reply.status_code < 500, (
        f"{face.url}: {reply.status_code} {reply.text[:300]} for {raw[:200]!r}"
    )
    good = requests.post(face.url, json=face.good_body, timeout=HANG_S)
    ledger.answered(str(good.status_code))
    assert good.status_code == 200, f"after {raw[:120]!r}: {good.status_code} {good.text[:200]}"
    assert face.answer_of(good.json()) == [[2.5]]


BOUNDED = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.timeout(240)
@pytest.mark.parametrize("face_name", ["wrapper", "gateway"])
@BOUNDED
@given(body=seldon_bodies)
@example(body={"data": {"ndarray": [[0.5] * 20_000]}})  # huge, under the limit, wrong width
@example(body={"data": {"ndarray": [["a", "b"]]}})  # strings for a float input
@example(body={"data": {"tensor": {"shape": [2, 2], "values": [1.0]}}})  # shape/values disagree
def test_seldon_faces_answer_generated_bad_json_with_a_client_error(
    faces: dict[str, RestFace], face_name: str, body: Any, ledger: ReliabilityLedger
) -> None:
    _send_bad(faces[face_name], json.dumps(body).encode(), ledger)


@pytest.mark.timeout(240)
@BOUNDED
@given(body=tfserving_bodies)
@example(body={"instances": [[0.5] * 20_000]})
@example(body={"instances": [["a"]]})
def test_the_backend_answers_generated_bad_json_with_a_client_error(
    faces: dict[str, RestFace], body: Any, ledger: ReliabilityLedger
) -> None:
    _send_bad(faces["backend"], json.dumps(body).encode(), ledger)


@pytest.mark.timeout(240)
@pytest.mark.parametrize("face_name", ["wrapper", "gateway", "backend"])
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=raw_bodies)
def test_bodies_that_are_not_json_get_a_client_error(
    faces: dict[str, RestFace], face_name: str, raw: RawBody, ledger: ReliabilityLedger
) -> None:
    _send_bad(faces[face_name], raw.data, ledger)


def _over_the_limit() -> np.ndarray[Any, Any]:
    """A float32 column twice the configured limit in size."""
    return np.full((LIMIT_BYTES // 2, 1), 1.0, dtype=np.float32)


@pytest.mark.parametrize("face_name", ["wrapper", "gateway", "backend"])
def test_rest_bodies_over_the_limit_get_413(
    faces: dict[str, RestFace], face_name: str, ledger: ReliabilityLedger
) -> None:
    face = faces[face_name]
    rows = _over_the_limit().tolist()
    body = {"instances": rows} if face_name == "backend" else {"data": {"ndarray": rows}}
    reply = requests.post(face.url, json=body, timeout=HANG_S)
    ledger.answered(str(reply.status_code))
    assert reply.status_code == 413, reply.text[:300]
    assert requests.post(face.url, json=face.good_body, timeout=HANG_S).status_code == 200


def _grpc_status(call: Callable[[], Any]) -> grpc.StatusCode:
    try:
        call()
    except grpc.RpcError as error:
        return error.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


def test_grpc_messages_over_the_limit_get_resource_exhausted(
    wrapper: Microservice,
    ab_graph: LocalRunner,
    limited_backend: Backend,
    ledger: ReliabilityLedger,
) -> None:
    tensor = ndarray_to_tensor_proto(_over_the_limit())
    seldon_message = prediction_pb2.SeldonMessage()
    seldon_message.data.tftensor.CopyFrom(tensor)
    predict = predict_pb2.PredictRequest()
    predict.model_spec.name = "half_plus_two"
    predict.inputs["x"].CopyFrom(tensor)
    options = [("grpc.max_send_message_length", 64 * LIMIT_BYTES)]
    with (
        grpc.insecure_channel(wrapper.grpc_endpoint, options=options) as to_wrapper,
        grpc.insecure_channel(ab_graph.grpc_target, options=options) as to_gateway,
        grpc.insecure_channel(limited_backend.grpc_endpoint, options=options) as to_backend,
    ):
        statuses = {
            "wrapper": _grpc_status(
                lambda: prediction_pb2_grpc.ModelStub(to_wrapper).Predict(
                    seldon_message, timeout=HANG_S
                )
            ),
            "gateway": _grpc_status(
                lambda: prediction_pb2_grpc.SeldonStub(to_gateway).Predict(
                    seldon_message,
                    timeout=HANG_S,
                    metadata=(("seldon", "ab"), ("namespace", NAMESPACE)),
                )
            ),
            "backend": _grpc_status(
                lambda: prediction_service_pb2_grpc.PredictionServiceStub(to_backend).Predict(
                    predict, timeout=HANG_S
                )
            ),
        }
    for status in statuses.values():
        ledger.answered(f"grpc {status.name}")
    assert statuses == dict.fromkeys(statuses, grpc.StatusCode.RESOURCE_EXHAUSTED)
