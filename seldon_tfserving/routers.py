"""Seldon ROUTER components that turn one TF model into an experiment.

Each class is hosted by `seldon-core-microservice --service-type ROUTER`, configured by the
graph node's `parameters`, and only translates Seldon's class contract (route, send_feedback,
health_status, init_metadata) to a pure policy kept by a PolicyKeeper. Importing this module
does not import TensorFlow or Seldon Core, so the deploy validator can read `settings_type`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from seldon_tfserving.component import SeldonComponent
from seldon_tfserving.errors import ConfigurationError
from seldon_tfserving.payload_guard import GuardsRoutePayload
from seldon_tfserving.policies.bandits import UCB1, EpsilonGreedy, ThompsonSampling
from seldon_tfserving.policies.branches import BranchPolicy
from seldon_tfserving.policies.keeper import PolicyKeeper
from seldon_tfserving.policies.parameters import (
    normalised_weights,
    parse_number_list,
    parse_settings,
    seldon_parameter,
)
from seldon_tfserving.policies.split import WeightedSplit, identity_from_meta
from seldon_tfserving.policies.state import StateFile

#: Prometheus names of the custom metrics every router reports, labelled by `branch`.
ROUTE_METRIC = "seldon_tfserving_router_route_total"
FEEDBACK_METRIC = "seldon_tfserving_router_feedback_total"
MEAN_REWARD_METRIC = "seldon_tfserving_router_mean_reward"


def _require_branches(parameter: str, count: int) -> int:
    if count < 2:
        raise ConfigurationError(parameter, f"a router needs at least 2 branches, got {count}")
    return count


def _check_state_path(state_path: str | None) -> None:
    if state_path is not None and not state_path.strip():
        raise ConfigurationError("state_path", "must not be empty")


@dataclass(frozen=True)
class ABTestSettings:
    """A fixed split: `ratio_a` to child 0 (the rest shared evenly), or explicit `weights`."""

    ratio_a: float | None = seldon_parameter("FLOAT", doc="share of traffic for child 0")
    n_children: int | None = seldon_parameter("INT", doc="number of children (default 2)")
    weights: tuple[float, ...] | None = seldon_parameter(
        "STRING", convert=parse_number_list, doc="one weight per child, JSON list or a,b,c"
    )
    seed: int | None = seldon_parameter("INT", doc="seed of the random split")
    sticky_key: str | None = seldon_parameter("STRING", doc="meta.tags key that pins a user")
    state_path: str | None = seldon_parameter("STRING", doc="JSON file of recorded feedback")

    def __post_init__(self) -> None:
        _check_state_path(self.state_path)
        if self.sticky_key is not None and not self.sticky_key.strip():
            raise ConfigurationError("sticky_key", "must not be empty")
        if self.weights is not None:
            if self.ratio_a is not None:
                raise ConfigurationError("ratio_a", "give either ratio_a or weights, not both")
            if self.n_children is not None and self.n_children != len(self.weights):
                raise ConfigurationError(
                    "weights", f"has {len(self.weights)} entries, n_children is {self.n_children}"
                )
            _require_branches("weights", len(self.weights))
            normalised_weights("weights", self.weights)
        else:
            _require_branches("n_children", 2 if self.n_children is None else self.n_children)
            if self.ratio_a is not None and not 0.0 <= self.ratio_a <= 1.0:
                raise ConfigurationError("ratio_a", f"must be in [0, 1], got {self.ratio_a}")

    def branch_weights(self) -> tuple[float, ...]:
        """Each child's share of traffic, summing to one."""
        if self.weights is not None:
            return normalised_weights("weights", self.weights)
        n_children = 2 if self.n_children is None else self.n_children
        ratio_a = 0.5 if self.ratio_a is None else self.ratio_a
        rest = (1.0 - ratio_a) / (n_children - 1)
        return (ratio_a, *([rest] * (n_children - 1)))


@dataclass(frozen=True)
class EpsilonGreedySettings:
    n_branches: int = seldon_parameter("INT", required=True, doc="number of children")
    epsilon: float = seldon_parameter("FLOAT", default=0.1, doc="share of exploration")
    best_branch: int = seldon_parameter("INT", default=0, doc="branch to exploit at first")
    seed: int | None = seldon_parameter("INT", doc="seed of the exploration draws")
    state_path: str | None = seldon_parameter("STRING", doc="JSON file of the learned state")

    def __post_init__(self) -> None:
        n_branches = _require_branches("n_branches", self.n_branches)
        if not 0.0 <= self.epsilon <= 1.0:
            raise ConfigurationError("epsilon", f"must be in [0, 1], got {self.epsilon}")
        if not 0 <= self.best_branch < n_branches:
            raise ConfigurationError(
                "best_branch", f"must be in 0..{n_branches - 1}, got {self.best_branch}"
            )
        _check_state_path(self.state_path)


@dataclass(frozen=True)
class ThompsonSamplingSettings:
    n_branches: int = seldon_parameter("INT", required=True, doc="number of children")
    alpha0: float = seldon_parameter("FLOAT", default=1.0, doc="Beta prior successes")
    beta0: float = seldon_parameter("FLOAT", default=1.0, doc="Beta prior failures")
    seed: int | None = seldon_parameter("INT", doc="seed of the posterior draws")
    state_path: str | None = seldon_parameter("STRING", doc="JSON file of the learned state")

    def __post_init__(self) -> None:
        _require_branches("n_branches", self.n_branches)
        for name in ("alpha0", "beta0"):
            if not getattr(self, name) > 0:
                raise ConfigurationError(name, f"must be positive, got {getattr(self, name)}")
        _check_state_path(self.state_path)


@dataclass(frozen=True)
class UCB1Settings:
    n_branches: int = seldon_parameter("INT", required=True, doc="number of children")
    state_path: str | None = seldon_parameter("STRING", doc="JSON file of the learned state")

    def __post_init__(self) -> None:
        _require_branches("n_branches", self.n_branches)
        _check_state_path(self.state_path)


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

    def route(self, features: Any, feature_names: Any, meta: dict[str, Any] | None = None) -> Any:
        """The child index for this request, with `branch` in tags and a per-branch counter."""
        branch = self.keeper.choose(self.identity(meta))
        metrics = [_counter(ROUTE_METRIC, branch)]
        return _seldon_response(branch, tags={"branch": branch}, metrics=metrics)

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
