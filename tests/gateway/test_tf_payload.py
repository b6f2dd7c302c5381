"""A TF REST request whose first member is its tensor is told from its first bytes
(`codec.tfserving_body_check.opens_with`), so the gateway sends a large body on without
parsing it; every other body is parsed and chained as before."""

from __future__ import annotations

import pytest

from seldon_tfserving.errors import InvalidInput
from seldon_tfserving.gateway.tf_chain import chain
from seldon_tfserving.gateway.tf_payload import TfPayload, TfTarget


@pytest.mark.parametrize(
    "body",
    [b'{"instances": [[1.0, 2.0]]}', b'\n{ "signature_name" : "serving_default",\n "inputs": {}}'],
)
def test_a_request_that_opens_with_its_tensor_passes_the_chain_as_it_came(body: bytes) -> None:
    payload = TfPayload.from_json(body, is_request=True)
    assert chain("model", payload, TfTarget()) is payload


def test_its_tensor_is_not_parsed_so_a_malformed_tail_is_left_to_the_node() -> None:
    payload = TfPayload.from_json(b'{"instances": [1.0, oops', is_request=True)
    assert chain("model", payload, TfTarget()) is payload
    with pytest.raises(InvalidInput, match="not valid JSON"):
        payload.document()  # what the node, parsing it, refuses


@pytest.mark.parametrize(
    ("body", "first"),
    [
        (b'{"x": 1, "instances": [1.0]}', "instances"),  # another member first: parsed
        (b'{"signature_name": "a\\"b", "instances": [1.0]}', "instances"),  # an escape: parsed
        (b'{"predictions": [1.0]}', "instances"),  # renamed, as ChainTensorflow renames it
    ],
)
def test_every_other_request_is_parsed_and_chained_as_before(body: bytes, first: str) -> None:
    chained = chain("model", TfPayload.from_json(body, is_request=True), TfTarget())
    assert first in chained.document()


def test_an_answer_is_never_taken_for_a_request_by_its_first_bytes() -> None:
    answer = TfPayload.from_json(b'{"instances": [1.0]}')
    chained = chain("model", answer, TfTarget())
    assert chained is not answer and chained.is_request


def test_a_request_with_no_tensor_is_still_refused_by_the_chain() -> None:
    with pytest.raises(InvalidInput, match="chained"):
        chain("model", TfPayload.from_json(b'{"examples": []}', is_request=True), TfTarget())
