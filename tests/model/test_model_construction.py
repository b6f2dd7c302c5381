"""TfServingModel built as seldon-core builds it: settings parsed at once, TF Serving reached
lazily, and a raw body Seldon left undecoded answered raw."""

from __future__ import annotations

import json

import pytest

from seldon_tfserving import TfServingModel
from seldon_tfserving.errors import ConfigurationError, InvalidInput, Unavailable
from seldon_tfserving.settings import TfServingSettings
from seldon_tfserving.tfserving.client import ModelTarget
from tests.servers import Backend, free_port


def test_the_seldon_class_parses_its_settings_and_connects_lazily() -> None:
    """Built with nothing listening: construction never calls TF Serving; bad values fail."""
    assert TfServingModel.settings_type is TfServingSettings
    port = free_port()
    model = TfServingModel(model_name="m", grpc_endpoint=f"127.0.0.1:{port}", timeout_ms="50")
    assert model.settings.timeout_ms == 50 and model.target == ModelTarget("m")
    with pytest.raises(ConfigurationError, match="parameter 'max_retries'"):
        TfServingModel(model_name="m", max_retries=-1)
    with pytest.raises(Unavailable):
        model.health_status()


def test_a_raw_body_left_undecoded_by_seldon_is_answered_raw(backend: Backend) -> None:
    """With PAYLOAD_PASSTHROUGH Seldon hands predict_raw the body's bytes and sends back text."""
    model = TfServingModel(
        model_name="half_plus_two", grpc_endpoint=backend.grpc_endpoint, ready_timeout_s=0
    )
    answer = model.predict_raw(b'{"data": {"ndarray": [[2.0]]}}')
    assert isinstance(answer, str)
    assert json.loads(answer)["data"]["ndarray"] == [[3.0]]
    with pytest.raises(InvalidInput, match="not JSON"):
        model.predict_raw(b"{not json")
