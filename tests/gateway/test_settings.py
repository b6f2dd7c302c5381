"""The gateway's settings: the executor's environment is read once, where they are built."""

from __future__ import annotations

import pytest
import requests

from seldon_tfserving.gateway.server import Gateway
from seldon_tfserving.gateway.settings import GatewaySettings
from tests.servers import free_port

EXECUTOR_CORS_HEADERS = (
    "Accept, Accept-Encoding, Authorization, Content-Length, Content-Type, X-CSRF-Token"
)


def test_unset_variables_mean_the_executors_defaults_but_no_cors_origin() -> None:
    """The executor allows every origin (`*`) by default; we allow none unless named."""
    settings = GatewaySettings.from_environment({})
    assert settings.cors_allowed_origins == ()
    assert settings.cors_allowed_headers == EXECUTOR_CORS_HEADERS
    assert settings.logger_default_url is None
    empty = GatewaySettings.from_environment({"REQUEST_LOGGER_DEFAULT_ENDPOINT": ""})
    assert empty.logger_default_url is None
    assert GatewaySettings() == settings  # the defaults themselves read nothing


def test_the_executors_variables_are_read_and_explicit_values_win(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CORS_ALLOWED_ORIGINS", "https://app.example, http://localhost:3000")
    monkeypatch.setenv("CORS_ALLOWED_HEADERS", "Content-Type")
    monkeypatch.setenv("REQUEST_LOGGER_DEFAULT_ENDPOINT", "http://sink:8080")
    settings = GatewaySettings.from_environment(max_body_bytes=2048)
    assert settings.cors_allowed_origins == ("https://app.example", "http://localhost:3000")
    assert settings.cors_allowed_headers == "Content-Type"
    assert settings.logger_default_url == "http://sink:8080"
    assert settings.max_body_bytes == 2048
    chosen = GatewaySettings.from_environment(cors_allowed_origins=("*",), logger_default_url=None)
    assert (chosen.cors_allowed_origins, chosen.logger_default_url) == (("*",), None)


def test_every_rest_answer_carries_the_cors_headers_read_at_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CORS_ALLOWED_ORIGINS", "https://app.example")
    monkeypatch.delenv("CORS_ALLOWED_HEADERS", raising=False)
    with Gateway([], {}, http_port=free_port(), grpc_port=free_port()) as gateway:
        monkeypatch.setenv("CORS_ALLOWED_ORIGINS", "https://later.example")  # read once: unseen
        origin = {"Origin": "https://app.example"}
        preflight = requests.options(
            gateway.http_url + "/api/v1.0/predictions", headers=origin, timeout=10
        )
        unnamed = requests.post(
            gateway.http_url + "/api/v1.0/predictions",
            json={"data": {"ndarray": [[1.0]]}},
            headers=origin,
            timeout=10,
        )
    assert preflight.status_code == 200
    assert unnamed.status_code == 404  # an error answer carries them too
    for reply in (preflight, unnamed):
        assert reply.headers["Access-Control-Allow-Origin"] == "https://app.example"
        assert reply.headers["Access-Control-Allow-Headers"] == EXECUTOR_CORS_HEADERS
