"""Traffic between a deployment's predictors, in process: the main predictors share requests
by their `traffic` weights, and every request and feedback is copied to the shadows, whose
answers (and failures) never reach the caller."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pytest

from seldon_tfserving.deploy.model import SeldonDeployment, parse_deployment
from seldon_tfserving.errors import InvalidInput, Unavailable
from seldon_tfserving.gateway.server import Gateway
from seldon_tfserving.transport import Transport
from tests.gateway.conftest import deployment, node, seldon_client
from tests.gateway.in_process import recorded_dataplane, values_of, walk, walk_feedback
from tests.gateway.recorded_components import RecordedCall, RecordedComponents
from tests.gateway.scripted_units import Document, ScaleModel
from tests.waiting import eventually

TRANSPORTS: list[Transport] = ["rest", "grpc"]
SHADOW = "model-b"  # the shadow predictor's only node in the `shadowed` graph


def _first_value(answer: Document) -> float:
    return float(np.asarray(answer["data"]["ndarray"]).ravel()[0])


def _shadow_calls(recorded: RecordedComponents, marker: float) -> list[RecordedCall]:
    """The shadow's calls about `marker`, once they arrived (shadows run in the background)."""

    def calls() -> list[RecordedCall]:
        return [c for c in recorded.calls_to(SHADOW) if repr(marker) in repr(c.payload)]

    return eventually(calls, 10, interval_s=0.01, awaited=f"a call to the shadow about {marker}")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_canary_takes_about_its_traffic_share(
    recorded: RecordedComponents, recorded_deployments: list[SeldonDeployment], transport: Transport
) -> None:
    answers: Counter[float] = Counter()
    with recorded_dataplane(recorded_deployments, recorded) as plane:
        for _ in range(400):
            answer, _ = walk(plane, "canary", {"data": {"ndarray": [[1.0]]}}, transport)
            answers[_first_value(answer)] += 1
    canary = answers[10.0]
    assert answers[1.0] + canary == 400
    # 10% of 400 is 40, sd 6: 4 sd either side
    assert 16 <= canary <= 64, answers
    assert len(recorded.calls_to("model-b")) == canary


@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_shadow_gets_a_copy_and_the_main_predictor_answers(
    in_process_gateway: Gateway, recorded: RecordedComponents, transport: str
) -> None:
    marker = float(np.random.default_rng().integers(1000, 2000))
    sc = seldon_client(in_process_gateway, "shadowed", "istio", transport)
    result = sc.predict(data=np.asarray([[marker]]))
    assert result.success, result.msg
    response = result.response
    assert values_of(response) == [[marker]]
    assert response["meta"]["requestPath"] == {"model-a": "tests/scalemodel:0.1"}
    copies = _shadow_calls(recorded, marker)
    assert [(c.method, values_of(c.payload)) for c in copies] == [("predict", [[marker]])]
    # the copy carries the request's puid, as the main predictor's call does
    main = recorded.calls_to("model-a")[0]
    assert copies[0].headers["Seldon-Puid"] == main.headers["Seldon-Puid"]
    assert response["meta"]["puid"] == main.headers["Seldon-Puid"]


class _Failing(ScaleModel):
    def predict(self, array: np.ndarray[Any, Any], meta: Document) -> np.ndarray[Any, Any]:
        raise InvalidInput("the shadow is broken")


def test_a_failing_shadow_never_reaches_the_caller(
    recorded: RecordedComponents, recorded_deployments: list[SeldonDeployment]
) -> None:
    recorded.script(SHADOW, _Failing)
    with recorded_dataplane(recorded_deployments, recorded) as plane:
        answer, _ = walk(plane, "shadowed", {"data": {"ndarray": [[3.0]]}})
        assert _shadow_calls(recorded, 3.0)
    assert answer["data"]["ndarray"] == [[3.0]]


def test_feedback_is_copied_to_the_shadow_too(
    recorded: RecordedComponents, recorded_deployments: list[SeldonDeployment]
) -> None:
    feedback = {"request": {"data": {"ndarray": [[7.5]]}}, "reward": 1.0}
    with recorded_dataplane(recorded_deployments, recorded) as plane:
        walk_feedback(plane, "shadowed", feedback)
        copies = _shadow_calls(recorded, 7.5)
    assert [c.method for c in recorded.calls_to("model-a")] == ["send-feedback"]
    assert [c.method for c in copies] == ["send-feedback"]
    assert copies[0].payload["reward"] == 1.0


def test_a_deployment_whose_predictors_are_all_shadows_is_unavailable(
    recorded: RecordedComponents,
) -> None:
    only_shadows = deployment(
        "mirrored",
        [{"name": "shadow", "shadow": True, "traffic": 0, "graph": node("model-a", "MODEL")}],
    )
    with recorded_dataplane([parse_deployment(only_shadows)], recorded) as plane:
        with pytest.raises(Unavailable, match="mirrored has no predictor taking traffic"):
            walk(plane, "mirrored", {"data": {"ndarray": [[1.0]]}})
