"""What a request carries through the graph walk, read once for both faces."""

from __future__ import annotations

import pytest

from seldon_tfserving.gateway.context import RequestContext, skips_logging


@pytest.mark.parametrize("value", ["true", "True", "ON", "on", "1", " true "])
def test_the_executors_true_values_skip_logging(value: str) -> None:
    assert skips_logging(value) is True


@pytest.mark.parametrize("value", [None, "", "false", "0", "off", "yes", "truthy"])
def test_anything_else_leaves_the_request_logged(value: str | None) -> None:
    assert skips_logging(value) is False


def test_component_calls_carry_the_forwarded_headers_and_the_puid() -> None:
    ctx = RequestContext(puid="p-7", transport="grpc", headers={"x-team": "search"})
    assert ctx.component_headers() == {"x-team": "search", "Seldon-Puid": "p-7"}
    assert ctx.headers == {"x-team": "search"}
