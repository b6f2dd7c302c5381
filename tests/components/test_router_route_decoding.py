"""A router's REST route: Seldon's own answer and metrics, its features decoded once."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from seldon_core import seldon_methods, utils

from seldon_tfserving.errors import InvalidInput
from seldon_tfserving.microservice.payload_guard import GuardsRoutePayload
from seldon_tfserving.routers import ROUTE_METRIC, ABTestRouter, EpsilonGreedyRouter


class RecordingMetrics:
    def __init__(self) -> None:
        self.calls: list[tuple[list[dict[str, Any]], str]] = []

    def update(self, custom_metrics: list[dict[str, Any]], method: str) -> None:
        self.calls.append((copy.deepcopy(custom_metrics), method))


class SeldonsPathABTestRouter(ABTestRouter):
    """The router as it routed before: the guard's decode, then Seldon's own path."""

    route_raw = GuardsRoutePayload.route_raw


REQUESTS = [
    {"data": {"ndarray": [[1.0, 2.0]], "names": ["a", "b"]}, "meta": {"puid": "p-1"}},
    {"data": {"tensor": {"shape": [1, 2], "values": [1.0, 2.0]}}},
    {
        "data": {
            "tftensor": {
                "dtype": "DT_FLOAT",
                "tensorShape": {"dim": [{"size": "1"}]},
                "floatVal": [1.0],
            }
        }
    },
    {"jsonData": {"instances": [[1.0]]}, "meta": {"tags": {"user": "u"}}},
    {"strData": "hello"},
    {"binData": "aGVsbG8="},
]


@pytest.mark.parametrize("request_json", REQUESTS, ids=lambda r: next(iter(r)))
def test_the_answer_and_metrics_are_seldons_own(request_json: dict[str, Any]) -> None:
    ours, seldons = ABTestRouter(ratio_a=0.5, seed=7), SeldonsPathABTestRouter(ratio_a=0.5, seed=7)
    our_metrics, seldons_metrics = RecordingMetrics(), RecordingMetrics()
    for _ in range(5):
        answer = seldon_methods.route(ours, copy.deepcopy(request_json), our_metrics)
        expected = seldon_methods.route(seldons, copy.deepcopy(request_json), seldons_metrics)
        assert answer == expected
        assert answer["meta"]["tags"]["branch"] in (0, 1)
    assert our_metrics.calls == seldons_metrics.calls
    assert all(m[0]["key"] == ROUTE_METRIC for m, method in our_metrics.calls)


def test_the_features_are_decoded_once(monkeypatch: pytest.MonkeyPatch) -> None:
    decoded: list[Any] = []
    real = utils.extract_request_parts_json

    def counting(request: Any) -> Any:
        decoded.append(request)
        return real(request)

    monkeypatch.setattr(utils, "extract_request_parts_json", counting)
    monkeypatch.setattr(seldon_methods, "extract_request_parts_json", counting)
    router = EpsilonGreedyRouter(n_branches=2, epsilon=0.1, seed=3)
    seldon_methods.route(router, {"data": {"ndarray": [[1.0, 2.0]]}}, RecordingMetrics())
    assert len(decoded) == 1


@pytest.mark.parametrize(
    "request_json",
    [
        {"data": {"ndarray": [[1.0], [1.0, 2.0]]}},
        {"data": {"tensor": {"shape": [3], "values": [1.0]}}},
        {"data": {"ndarray": [[1.0]]}, "meta": "not an object"},
    ],
)
def test_what_seldon_cannot_decode_is_still_refused(request_json: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        seldon_methods.route(ABTestRouter(ratio_a=0.5), request_json, RecordingMetrics())
