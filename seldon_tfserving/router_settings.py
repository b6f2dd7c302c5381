"""The routers' parameters, declared like every class's settings, read without the routers.

One frozen settings class per router in `routers.py`; the deploy validator and the routers
both build them with `parse_settings`, so a value a router would refuse is refused before
it is deployed. Nothing here imports Seldon Core, TensorFlow or numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

from seldon_tfserving.parameters import (
    ComponentSettings,
    ConfigurationError,
    normalised_weights,
    parse_number_list,
    seldon_parameter,
)


def _require_branches(parameter: str, count: int) -> int:
    if count < 2:
        raise ConfigurationError(parameter, f"a router needs at least 2 branches, got {count}")
    return count


def _seed(seed: int) -> int:
    """numpy's generators take a non-negative seed; refused here, naming the parameter."""
    if seed < 0:
        raise ValueError(f"must not be negative, got {seed}")
    return seed


def _check_state_path(state_path: str | None) -> None:
    if state_path is not None and not state_path.strip():
        raise ConfigurationError("state_path", "must not be empty")


@dataclass(frozen=True)
class ABTestSettings(ComponentSettings):
    """A fixed split: `ratio_a` to child 0 (the rest shared evenly), or explicit `weights`."""

    ratio_a: float | None = seldon_parameter("FLOAT", doc="share of traffic for child 0")
    n_children: int | None = seldon_parameter("INT", doc="number of children (default 2)")
    weights: tuple[float, ...] | None = seldon_parameter(
        "STRING", convert=parse_number_list, doc="one weight per child, JSON list or a,b,c"
    )
    seed: int | None = seldon_parameter("INT", convert=_seed, doc="seed of the random split")
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
class EpsilonGreedySettings(ComponentSettings):
    """Epsilon-greedy: exploit the best mean reward, explore with probability `epsilon`."""

    n_branches: int = seldon_parameter("INT", required=True, doc="number of children")
    epsilon: float = seldon_parameter("FLOAT", default=0.1, doc="share of exploration")
    best_branch: int = seldon_parameter("INT", default=0, doc="branch to exploit at first")
    seed: int | None = seldon_parameter("INT", convert=_seed, doc="seed of the exploration draws")
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
class ThompsonSamplingSettings(ComponentSettings):
    """Beta-Bernoulli Thompson sampling from a Beta(`alpha0`, `beta0`) prior."""

    n_branches: int = seldon_parameter("INT", required=True, doc="number of children")
    alpha0: float = seldon_parameter("FLOAT", default=1.0, doc="Beta prior successes")
    beta0: float = seldon_parameter("FLOAT", default=1.0, doc="Beta prior failures")
    seed: int | None = seldon_parameter("INT", convert=_seed, doc="seed of the posterior draws")
    state_path: str | None = seldon_parameter("STRING", doc="JSON file of the learned state")

    def __post_init__(self) -> None:
        _require_branches("n_branches", self.n_branches)
        for name in ("alpha0", "beta0"):
            if not getattr(self, name) > 0:
                raise ConfigurationError(name, f"must be positive, got {getattr(self, name)}")
        _check_state_path(self.state_path)


@dataclass(frozen=True)
class UCB1Settings(ComponentSettings):
    """UCB1 needs only its branch count."""

    n_branches: int = seldon_parameter("INT", required=True, doc="number of children")
    state_path: str | None = seldon_parameter("STRING", doc="JSON file of the learned state")

    def __post_init__(self) -> None:
        _require_branches("n_branches", self.n_branches)
        _check_state_path(self.state_path)
