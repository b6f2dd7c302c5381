"""Seldon ROUTER components that turn one TF model into an experiment.

Each class is hosted by `seldon-core-microservice --service-type ROUTER`, configured by the
graph node's `parameters`, and only translates Seldon's class contract (route, send_feedback,
health_status, init_metadata) to a pure policy kept by a PolicyKeeper. Their settings are
declared in `router_settings.py`; importing this module does not import TensorFlow or Seldon Core.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any, ClassVar

from seldon_tfserving.microservice.component import SeldonComponent
from seldon_tfserving.microservice.payload_guard import (
    GuardsRoutePayload,
    check_route_request,
    route_response_json,
)
from seldon_tfserving.microservice.tf_faces import TfFaces
from seldon_tfserving.parameters import parse_settings
from seldon_tfserving.policies.bandits import UCB1, EpsilonGreedy, ThompsonSampling
from seldon_tfserving.policies.branches import BranchPolicy
from seldon_tfserving.policies.keeper import PolicyKeeper
from seldon_tfserving.policies.split import WeightedSplit, identity_from_meta
from seldon_tfserving.policies.state import StateFile
from seldon_tfserving.route_decision import RouteDecision
from seldon_tfserving.router_settings import (
    ABTestSettings,
    EpsilonGreedySettings,
    ThompsonSamplingSettings,
    UCB1Settings,
)

#: Prometheus names of the custom metrics every router reports, labelled by `branch`.
ROUTE_METRIC = "seldon_tfserving_router_route_total"
FEEDBACK_METRIC = "seldon_tfserving_router_feedback_total"
MEAN_REWARD_METRIC = "seldon_tfserving_router_mean_reward"


class BranchRouter(GuardsRoutePayload, SeldonComponent):
    """The Seldon router contract over a PolicyKeeper; subclasses only build their policy.

    `seldon-core-microservice` serves REST and gRPC from separate processes (and gunicorn may
    run several workers): without `state_path` each process learns on its own; with it they
    all learn together and a restarted pod resumes. Feedback is matched to this router by
    `meta.routing[PREDICTIVE_UNIT_ID]`, the node name the operator sets (default "0").
    """

    settings_type: ClassVar[type[Any]]

    def __init__(self, **parameters: Any) -> None:
        self.settings = parse_settings(self.settings_type, parameters)
        super().__init__()
        state_path: str | None = self.settings.state_path
        self.keeper = PolicyKeeper(
            self.build_policy(),
            type(self).__name__,
            None if state_path is None else StateFile(state_path),
        )

    def build_policy(self) -> BranchPolicy:
        raise NotImplementedError

    def identity(self, meta: dict[str, Any] | None) -> str | None:
        """The caller's sticky identity, for policies that pin callers; None by default."""
        return None

    def decide(self, meta: dict[str, Any] | None) -> RouteDecision:
        """The child for one request (whichever protocol carried it), `branch` in its tags and
        a per-branch counter."""
        branch = self.keeper.choose(self.identity(meta))
        return RouteDecision(branch, {"branch": branch}, [_counter(ROUTE_METRIC, branch)])

    def route_raw(self, request: Any) -> Any:
        """Seldon's REST route with the request's features decoded once, by the guard that
        refuses what Seldon cannot decode, instead of again by Seldon's own path: the policy
        never reads them. The answer is Seldon's own `construct_response_json`, its metrics
        recorded by Seldon from the answer's meta. gRPC keeps Seldon's path."""
        if not isinstance(request, dict):
            return super().route_raw(request)
        check_route_request(request)
        meta = request.get("meta")
        decision = self.decide(meta)
        return route_response_json(self, request, decision.branch, decision.tags, decision.metrics)

    def route(self, features: Any, feature_names: Any, meta: dict[str, Any] | None = None) -> Any:
        """The child index for this request, with `branch` in tags and a per-branch counter."""
        decision = self.decide(meta)
        return _seldon_response(decision.branch, tags=decision.tags, metrics=decision.metrics)

    def tf_faces(self) -> TfFaces:
        """TF Serving's protocol too: `:route` and `tfgraph.Router/Route` (`router_tf_face`)."""
        from seldon_tfserving.router_tf_face import RouterTfFace

        return TfFaces(router=RouterTfFace(self.decide))

    def send_feedback(
        self,
        features: Any,
        feature_names: Any,
        reward: float,
        truth: Any,
        routing: int | None = None,
    ) -> Any:
        """Learn from the reward of the branch this router chose (`meta.routing[<node>]`)."""
        branch = self.keeper.learn(routing, float(reward))
        mean = self.keeper.mean_reward(branch)
        metrics = [_counter(FEEDBACK_METRIC, branch)]
        if mean is not None:
            metrics.append(
                {
                    "type": "GAUGE",
                    "key": MEAN_REWARD_METRIC,
                    "value": mean,
                    "tags": {"branch": str(branch)},
                }
            )
        return _seldon_response(None, tags={"branch": branch}, metrics=metrics)

    def health_status(self) -> dict[str, Any]:
        """The learned state (per branch) and this process's route counts."""
        return self.keeper.describe()

    def init_metadata(self) -> dict[str, Any]:
        """Seldon model metadata: settings and the state this process started from."""
        settings = {
            name: value if isinstance(value, str) else json.dumps(value)
            for name, value in asdict(self.settings).items()
            if value is not None
        }
        return {
            "name": type(self).__name__,
            "platform": "seldon-tfserving",
            "custom": {
                **settings,
                "learned_state": json.dumps(self.keeper.describe(), sort_keys=True),
            },
        }


class ABTestRouter(BranchRouter):
    """A/B(/n) split by `ratio_a` or `weights`; sticky per `meta.tags[sticky_key]` if set."""

    settings_type = ABTestSettings
    settings: ABTestSettings

    def build_policy(self) -> BranchPolicy:
        return WeightedSplit(self.settings.branch_weights(), seed=self.settings.seed)

    def identity(self, meta: dict[str, Any] | None) -> str | None:
        if self.settings.sticky_key is None:
            return None
        return identity_from_meta(meta, self.settings.sticky_key)


class EpsilonGreedyRouter(BranchRouter):
    """Exploit the best mean reward, explore with probability `epsilon`."""

    settings_type = EpsilonGreedySettings
    settings: EpsilonGreedySettings

    def build_policy(self) -> BranchPolicy:
        return EpsilonGreedy(
            self.settings.n_branches,
            self.settings.epsilon,
            self.settings.best_branch,
            self.settings.seed,
        )


class ThompsonSamplingRouter(BranchRouter):
    """Beta-Bernoulli Thompson sampling; rewards in [0, 1]."""

    settings_type = ThompsonSamplingSettings
    settings: ThompsonSamplingSettings

    def build_policy(self) -> BranchPolicy:
        return ThompsonSampling(
            self.settings.n_branches, self.settings.alpha0, self.settings.beta0, self.settings.seed
        )


class UCB1Router(BranchRouter):
    """The deterministic UCB1 rule; rewards in [0, 1]."""

    settings_type = UCB1Settings
    settings: UCB1Settings

    def build_policy(self) -> BranchPolicy:
        return UCB1(self.settings.n_branches)


def _counter(key: str, branch: int) -> dict[str, Any]:
    return {"type": "COUNTER", "key": key, "value": 1, "tags": {"branch": str(branch)}}


def _seldon_response(data: Any, tags: dict[str, Any], metrics: list[dict[str, Any]]) -> Any:
    # Imported here: seldon_core imports TensorFlow, which settings readers must not pay for.
    from seldon_core.user_model import SeldonResponse

    return SeldonResponse(data=data, tags=tags, metrics=metrics)
