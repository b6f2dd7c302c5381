"""TfServingModel's parameters: one typed object, defaults in one place, errors naming the value."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from typing import Any

import pytest

from seldon_tfserving.errors import ConfigurationError
from seldon_tfserving.settings import TfServingSettings


def test_defaults_are_tfserving_proxy_drop_in() -> None:
    settings = TfServingSettings.from_parameters(model_name="mnist")
    assert settings == TfServingSettings(
        model_name="mnist",
        grpc_endpoint="localhost:8500",
        rest_endpoint="http://localhost:8501",
        signature_name="serving_default",
        model_input=None,
        model_output=None,
        transport="grpc",
        model_version=None,
        version_label=None,
        timeout_ms=5000,
        max_retries=2,
        max_message_bytes=256 * 1024 * 1024,
        ready_timeout_s=60.0,
    )


def test_every_parameter_is_read_with_its_type() -> None:
    settings = TfServingSettings.from_parameters(
        model_name="m",
        grpc_endpoint="10.0.0.1:9000",
        rest_endpoint="https://tf.example:8443/prefix/",
        signature_name="predict_images",
        model_input="images",
        model_output="scores",
        transport="REST",
        model_version=3,
        timeout_ms=250,
        max_retries=0,
        max_message_bytes=1024,
        ready_timeout_s=1.5,
    )
    assert settings.transport == "rest"
    assert settings.rest_endpoint == "https://tf.example:8443/prefix"
    assert (settings.model_version, settings.version_label) == (3, None)
    assert (settings.timeout_ms, settings.timeout_s) == (250, 0.25)
    assert settings.model_input == "images" and settings.model_output == "scores"


def test_numbers_may_come_as_strings_when_constructed_directly() -> None:
    settings = TfServingSettings.from_parameters(
        model_name="m", model_version="7", timeout_ms="900", max_retries="1", ready_timeout_s="2"
    )
    assert (settings.model_version, settings.timeout_ms, settings.max_retries) == (7, 900, 1)
    assert settings.ready_timeout_s == 2.0


def test_a_label_pins_like_a_version() -> None:
    settings = TfServingSettings.from_parameters(model_name="m", version_label="canary")
    assert (settings.model_version, settings.version_label) == (None, "canary")


def test_empty_optional_strings_mean_unset() -> None:
    settings = TfServingSettings.from_parameters(model_name="m", model_input="", model_output=" ")
    assert settings.model_input is None and settings.model_output is None


@pytest.mark.parametrize(
    ("parameters", "named", "says"),
    [
        ({}, "model_name", "required"),
        ({"model_name": ""}, "model_name", "empty"),
        ({"model_name": "m", "transport": "http"}, "transport", "'grpc' or 'rest'"),
        ({"model_name": "m", "model_version": 0}, "model_version", "positive"),
        ({"model_name": "m", "model_version": "x1"}, "model_version", "integer"),
        ({"model_name": "m", "model_version": 1.5}, "model_version", "integer"),
        ({"model_name": "m", "model_version": True}, "model_version", "boolean"),
        ({"model_name": "m", "model_version": 1, "version_label": "a"}, "version_label", "both"),
        ({"model_name": "m", "timeout_ms": 0}, "timeout_ms", "greater than 0"),
        ({"model_name": "m", "timeout_ms": -5}, "timeout_ms", "greater than 0"),
        ({"model_name": "m", "max_retries": -1}, "max_retries", "between 0 and 10"),
        ({"model_name": "m", "max_retries": 11}, "max_retries", "between 0 and 10"),
        ({"model_name": "m", "max_message_bytes": 0}, "max_message_bytes", "between 1"),
        ({"model_name": "m", "max_message_bytes": 2**31}, "max_message_bytes", "between 1"),
        ({"model_name": "m", "ready_timeout_s": -1}, "ready_timeout_s", "0 or more"),
        ({"model_name": "m", "ready_timeout_s": "soon"}, "ready_timeout_s", "number"),
        ({"model_name": "m", "ready_timeout_s": float("nan")}, "ready_timeout_s", "finite"),
        ({"model_name": "m", "grpc_endpoint": "localhost"}, "grpc_endpoint", "host:port"),
        ({"model_name": "m", "grpc_endpoint": "h:99999"}, "grpc_endpoint", "host:port"),
        ({"model_name": "m", "grpc_endpoint": "http://h:1"}, "grpc_endpoint", "host:port"),
        ({"model_name": "m", "rest_endpoint": "localhost:8501"}, "rest_endpoint", "http://"),
        ({"model_name": "m", "rest_endpoint": "ftp://h:1"}, "rest_endpoint", "http://"),
        ({"model_name": "m", "rest_endpoint": "http://h:x"}, "rest_endpoint", "http://"),
        ({"model_name": "m", "signature_name": 3}, "signature_name", "string"),
        ({"model_name": "m", "modelname": "typo"}, "modelname", "unknown parameter"),
    ],
)
def test_a_wrong_value_fails_naming_the_parameter(
    parameters: dict[str, Any], named: str, says: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        TfServingSettings.from_parameters(**parameters)
    assert caught.value.parameter == named
    assert f"parameter {named!r}" in str(caught.value)
    assert says in str(caught.value)


@pytest.mark.parametrize(
    "endpoint", ["localhost:8500", "127.0.0.1:1", "[::1]:8500", "tf-serving.ns.svc:8500"]
)
def test_grpc_endpoints_in_the_forms_grpc_resolves(endpoint: str) -> None:
    settings = TfServingSettings.from_parameters(model_name="m", grpc_endpoint=endpoint)
    assert settings.grpc_endpoint == endpoint


def test_settings_are_frozen_and_their_fields_are_the_parameter_names() -> None:
    settings = TfServingSettings.from_parameters(model_name="m")
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.model_name = "other"  # type: ignore[misc]
    names = {field.name for field in dataclasses.fields(TfServingSettings)}
    assert {"grpc_endpoint", "rest_endpoint", "model_name", "signature_name", "model_input"} < names
    assert {"transport", "model_version", "version_label", "timeout_ms", "max_retries"} < names
    assert {"max_message_bytes", "ready_timeout_s", "model_output"} < names


def test_settings_do_not_import_tensorflow() -> None:
    """The deploy helper validates manifests with these settings; TensorFlow takes seconds."""
    probe = (
        "import sys, seldon_tfserving.settings; sys.exit(1 if 'tensorflow' in sys.modules else 0)"
    )
    assert subprocess.run([sys.executable, "-c", probe], timeout=60).returncode == 0
