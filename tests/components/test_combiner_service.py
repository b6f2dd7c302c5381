"""Every combiner under a real `seldon-core-microservice`, over REST and gRPC, for each payload.

Seldon decodes the children's ndarray, tensor or tftensor payloads to numpy for `aggregate`
and answers in the first child's payload type; mismatched children get a 400 naming shapes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
import requests

from tests.components.wire import array_of, close, payload, wire_for
from tests.servers import Microservice, start_microservice

TRANSPORTS = ["rest", "grpc"]
PAYLOADS = ["ndarray", "tensor", "tftensor"]

A = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]], dtype=np.float32)
B = np.array([[0.2, 0.5, 0.3], [0.2, 0.2, 0.6]], dtype=np.float32)
C = np.array([[0.6, 0.3, 0.1], [0.5, 0.4, 0.1]], dtype=np.float32)
CHILDREN = [A, B, C]


@dataclass(frozen=True)
class Case:
    parameters: list[dict[str, str]]
    #: The combination of A, B, C worked out by hand.
    expected: Callable[[], np.ndarray[Any, Any]]


CASES: dict[str, Case] = {
    "MeanCombiner": Case([], lambda: (A + B + C) / 3),
    "WeightedMeanCombiner": Case(
        [{"name": "weights", "type": "STRING", "value": "[2, 1, 1]"}],
        lambda: 0.5 * A + 0.25 * B + 0.25 * C,
    ),
    # Row 0 votes 0, 1, 0 -> class 0; row 1 votes 2, 2, 0 -> class 2.
    "MajorityVoteCombiner": Case(
        [{"name": "output", "type": "STRING", "value": "one_hot"}],
        lambda: np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]),
    ),
    # Row 0: A is surest (0.7); row 1: A and B tie at 0.6, the lower child (A) wins.
    "MaxConfidenceCombiner": Case([], lambda: np.stack([A[0], A[1]])),
}


@dataclass
class CombinerUnderTest:
    name: str
    service: Microservice

    @property
    def case(self) -> Case:
        return CASES[self.name]


@pytest.fixture(scope="module", params=list(CASES))
def combiner(request: pytest.FixtureRequest, log_dir: Path) -> Iterator[CombinerUnderTest]:
    service = start_microservice(
        log_dir,
        f"seldon_tfserving.{request.param}",
        service_type="COMBINER",
        parameters=CASES[request.param].parameters,
    )
    yield CombinerUnderTest(request.param, service)
    service.server.stop(timeout_s=2)


def messages(arrays: list[np.ndarray[Any, Any]], kind: str) -> list[dict[str, Any]]:
    return [{"data": payload(array, kind)} for array in arrays]


@pytest.mark.parametrize("kind", PAYLOADS)
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_aggregate_combines_the_children_in_their_own_payload_type(
    combiner: CombinerUnderTest, transport: str, kind: str
) -> None:
    wire = wire_for(transport, combiner.service)
    try:
        reply = wire.aggregate(messages(CHILDREN, kind))
    finally:
        close(wire)
    assert reply.ok, reply
    answered_kind, combined = array_of(reply.body)
    assert answered_kind == kind
    np.testing.assert_allclose(combined, combiner.case.expected(), rtol=1e-6, atol=1e-7)
    if kind == "tftensor" and combiner.name != "MajorityVoteCombiner":
        assert combined.dtype == np.float32  # a float32 model output stays float32


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_children_of_different_shapes_are_a_400_naming_the_shapes(
    combiner: CombinerUnderTest, transport: str
) -> None:
    wire = wire_for(transport, combiner.service)
    try:
        reply = wire.aggregate(messages([A, np.zeros((2, 4)), C], "tensor"))
    finally:
        close(wire)
    assert reply.status == 400
    assert "child 0 (2, 3), child 1 (2, 4), child 2 (2, 3)" in reply.message
    if transport == "grpc":
        assert reply.grpc_code == grpc.StatusCode.INVALID_ARGUMENT
    else:
        assert reply.body["status"]["reason"] == "MICROSERVICE_BAD_DATA"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_child_without_a_numeric_tensor_is_a_400(
    combiner: CombinerUnderTest, transport: str
) -> None:
    wire = wire_for(transport, combiner.service)
    try:
        reply = wire.aggregate([{"data": payload(A, "ndarray")}, {"strData": "not a tensor"}])
    finally:
        close(wire)
    assert reply.status == 400
    assert "child 1 sent str data" in reply.message


#: What each combiner answers when two children reply where three were configured.
TWO_CHILDREN: dict[str, tuple[int, grpc.StatusCode | None]] = {
    "MeanCombiner": (200, None),
    "WeightedMeanCombiner": (400, grpc.StatusCode.FAILED_PRECONDITION),
    "MajorityVoteCombiner": (200, None),
    "MaxConfidenceCombiner": (200, None),
}


def test_only_the_weighted_mean_needs_a_fixed_number_of_children(
    combiner: CombinerUnderTest,
) -> None:
    status, grpc_code = TWO_CHILDREN[combiner.name]
    rest, grpc_wire = wire_for("rest", combiner.service), wire_for("grpc", combiner.service)
    try:
        over_rest = rest.aggregate(messages([A, B], "ndarray"))
        over_grpc = grpc_wire.aggregate(messages([A, B], "ndarray"))
    finally:
        close(grpc_wire)
    assert over_rest.status == over_grpc.status == status
    if grpc_code is not None:
        assert over_grpc.grpc_code == grpc_code
        assert "weights has 3 entries but 2 children answered" in over_rest.message


def test_metadata_names_the_combiner_and_its_settings(combiner: CombinerUnderTest) -> None:
    metadata = requests.get(f"{combiner.service.http_url}/metadata", timeout=10).json()
    assert metadata["name"] == combiner.name
    assert metadata["platform"] == "seldon-tfserving"
    for parameter in combiner.case.parameters:
        assert parameter["name"] in metadata["custom"]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_child_payload_seldon_cannot_decode_is_a_400(
    combiner: CombinerUnderTest, transport: str
) -> None:
    """Seldon's own decoding would answer this with a 500; the combiner names the child."""
    malformed = {"data": {"tensor": {"shape": [2, 3], "values": [1.0]}}}
    wire = wire_for(transport, combiner.service)
    try:
        reply = wire.aggregate([{"data": payload(A, "tensor")}, malformed])
    finally:
        close(wire)
    assert reply.status == 400, reply
    assert "seldonMessages[1]" in reply.message
    if transport == "grpc":
        assert reply.grpc_code == grpc.StatusCode.INVALID_ARGUMENT


def test_a_bare_list_of_messages_over_rest_is_aggregated(combiner: CombinerUnderTest) -> None:
    """The executor (and our gateway) POSTs the children's answers as a bare JSON list."""
    answer = requests.post(
        f"{combiner.service.http_url}/aggregate", json=messages(CHILDREN, "ndarray"), timeout=20
    )
    assert answer.status_code == 200, answer.text
    np.testing.assert_allclose(
        np.array(answer.json()["data"]["ndarray"]), combiner.case.expected(), rtol=1e-6, atol=1e-7
    )
