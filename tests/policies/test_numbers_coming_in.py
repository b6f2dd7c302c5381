"""Every number a router takes in is checked where it comes in: rewards (each policy's range,
named when refused), the statistics a state file gives back, and the weights, ratios, priors
and seeds it is configured with. A reward of ±3.4e38 used to be learned and, with its
opposite, left a branch's sum at 0 whatever it had learned before."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from seldon_tfserving.errors import ConfigurationError, InvalidInput
from seldon_tfserving.parameters import normalised_weights, parse_settings
from seldon_tfserving.policies.bandits import UCB1, EpsilonGreedy, ThompsonSampling
from seldon_tfserving.policies.branches import (
    MAX_FEEDBACK,
    REWARD_LIMIT,
    BranchPolicy,
    BranchStats,
)
from seldon_tfserving.policies.keeper import PolicyKeeper
from seldon_tfserving.policies.split import WeightedSplit
from seldon_tfserving.policies.state import StateFile
from seldon_tfserving.router_settings import (
    ABTestSettings,
    EpsilonGreedySettings,
    ThompsonSamplingSettings,
)

FLOAT32_MAX = 3.4028234663852886e38


@pytest.mark.parametrize(
    "policy",
    [EpsilonGreedy(2, epsilon=0.0), WeightedSplit((0.5, 0.5))],
    ids=["epsilon-greedy", "ab"],
)
@pytest.mark.parametrize("reward", [FLOAT32_MAX, -FLOAT32_MAX, 1e6 + 1, -1e300])
def test_a_reward_beyond_the_documented_range_is_refused_naming_it(
    policy: BranchPolicy, reward: float
) -> None:
    policy = copy.deepcopy(policy)
    policy.update(0, 0.9)
    before = copy.deepcopy(policy.stats)
    with pytest.raises(InvalidInput, match=r"outside \[-1e\+06, 1e\+06\], the range") as refused:
        policy.update(0, reward)
    assert refused.value.http_status == 400
    assert type(policy).__name__ in refused.value.message
    assert policy.stats == before


def test_the_limits_themselves_are_learned_and_do_not_swamp_the_mean() -> None:
    policy = EpsilonGreedy(2, epsilon=0.0)
    for _ in range(10):
        policy.update(1, 0.9)
    policy.update(1, REWARD_LIMIT)
    policy.update(1, -REWARD_LIMIT)
    assert policy.stats.reward_sum[1] == pytest.approx(9.0, abs=1e-9)
    assert policy.stats.mean_reward(1) == pytest.approx(9.0 / 12, abs=1e-12)


def test_the_extremes_seldon_can_carry_no_longer_wipe_what_was_learned() -> None:
    """Seldon's Feedback.reward is a float32: its extremes are what a client could send."""
    policy = EpsilonGreedy(2, epsilon=0.0)
    for _ in range(10):
        policy.update(1, 0.9)
    for reward in (FLOAT32_MAX, -FLOAT32_MAX):
        with pytest.raises(InvalidInput):
            policy.update(1, reward)
    assert policy.stats.mean_reward(1) == pytest.approx(0.9)
    assert policy.best_branch() == 1


def test_a_branch_counts_no_more_feedback_than_float64_counts_exactly() -> None:
    policy = UCB1(2)
    policy.restore(BranchStats([MAX_FEEDBACK, 1], [0.0, 1.0]))
    with pytest.raises(InvalidInput, match="all the feedback it can"):
        policy.update(0, 1.0)
    policy.update(1, 1.0)
    assert policy.stats.feedback == [MAX_FEEDBACK, 2]


# --- statistics read back from a state file --------------------------------------------------


def _state(policy: str, feedback: Any, reward_sum: Any) -> str:
    return json.dumps(
        {
            "format": 1,
            "policy": policy,
            "n_branches": 2,
            "stats": {"feedback": feedback, "reward_sum": reward_sum},
        }
    )


@pytest.mark.parametrize(
    ("kind", "make", "content", "complaint"),
    [
        ("UCB1Router", lambda: UCB1(2), _state("UCB1Router", [2, 0], [3.0, 0]), "cannot come"),
        ("UCB1Router", lambda: UCB1(2), _state("UCB1Router", [2, 0], [-0.5, 0]), "in [0, 1]"),
        (
            "EpsilonGreedyRouter",
            lambda: EpsilonGreedy(2, 0.1),
            _state("EpsilonGreedyRouter", [1, 0], [3.4e38, 0]),
            "[-1e+06, 1e+06]",
        ),
        (
            "UCB1Router",
            lambda: UCB1(2),
            _state("UCB1Router", [10**400, 0], [0, 0]),
            "up to 2**53",
        ),
        (
            "UCB1Router",
            lambda: UCB1(2),
            '{"format": 1, "policy": "UCB1Router", "n_branches": 2,'
            ' "stats": {"feedback": [1, 0], "reward_sum": [NaN, 0]}}',
            "finite",
        ),
        ("UCB1Router", lambda: UCB1(2), "[" * 100_000 + "]" * 100_000, "not valid JSON"),
        ("UCB1Router", lambda: UCB1(2), '{"n": ' + "9" * 5000 + "}", "not valid JSON"),
    ],
    ids=[
        "sum-over-count",
        "negative-bernoulli",
        "float32-max",
        "huge-count",
        "nan",
        "deep",
        "digits",
    ],
)
def test_statistics_no_policy_could_have_learned_are_refused_at_start_up(
    tmp_path: Path, kind: str, make: Any, content: str, complaint: str
) -> None:
    path = tmp_path / "router.json"
    path.write_text(content)
    with pytest.raises(ConfigurationError, match="state_path") as failed:
        PolicyKeeper(make(), kind, StateFile(path))
    assert complaint in str(failed.value)


def test_a_state_file_spoiled_with_such_numbers_while_serving_is_ignored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "router.json"
    keeper = PolicyKeeper(EpsilonGreedy(2, 0.0), "EpsilonGreedyRouter", StateFile(path))
    keeper.learn(0, 0.9)
    path.write_text(_state("EpsilonGreedyRouter", [1, 0], [1e308, 0]))
    assert keeper.choose() == 0
    assert keeper.mean_reward(0) == pytest.approx(0.9)
    assert "ignoring unusable state file" in caplog.text
    assert "cannot come from 1 rewards" in caplog.text


# --- what a router is configured with -------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [
        lambda: WeightedSplit((0.5, float("nan"))),
        lambda: WeightedSplit((1.0, -0.5)),
        lambda: WeightedSplit((0.0, 0.0)),
        lambda: EpsilonGreedy(2, epsilon=float("nan")),
        lambda: EpsilonGreedy(2, epsilon=1.5),
        lambda: ThompsonSampling(2, alpha0=float("inf")),
        lambda: ThompsonSampling(2, beta0=0.0),
    ],
)
def test_a_policy_refuses_parameters_it_cannot_work_with(build: Any) -> None:
    with pytest.raises(ValueError, match="must be"):
        build()


def test_weights_near_the_float_limit_are_normalised_not_overflowed() -> None:
    assert normalised_weights("weights", (1e308, 1.5e308, 1.5e308)) == pytest.approx(
        (0.25, 0.375, 0.375)
    )
    with pytest.raises(ConfigurationError, match="finite"):
        normalised_weights("weights", (1.0, float("inf")))
    settings = parse_settings(ABTestSettings, {"weights": "[1e308, 1e308]"})
    assert settings.branch_weights() == (0.5, 0.5)


@pytest.mark.parametrize(
    ("settings_type", "parameters"),
    [
        (ABTestSettings, {"seed": -1}),
        (EpsilonGreedySettings, {"n_branches": 2, "seed": -5}),
        (ThompsonSamplingSettings, {"n_branches": 2, "seed": -(2**40)}),
    ],
)
def test_a_negative_seed_is_refused_naming_it(settings_type: Any, parameters: Any) -> None:
    """numpy's generators take none; it used to fail the router's start with a traceback."""
    with pytest.raises(ConfigurationError, match="must not be negative") as refused:
        parse_settings(settings_type, parameters)
    assert refused.value.parameter == "seed"


@pytest.mark.parametrize("ratio_a", [float("nan"), float("inf"), -0.1, 1.5])
def test_ratio_a_must_be_a_share(ratio_a: float) -> None:
    with pytest.raises(ConfigurationError, match="ratio_a|finite"):
        parse_settings(ABTestSettings, {"ratio_a": ratio_a})
