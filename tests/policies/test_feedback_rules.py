"""What a router learns from feedback, and what feedback it refuses (state then unchanged)."""

from __future__ import annotations

import copy
import math

import grpc
import pytest

from seldon_tfserving.errors import InvalidInput
from seldon_tfserving.policies.bandits import UCB1, EpsilonGreedy, ThompsonSampling
from seldon_tfserving.policies.branches import BranchPolicy
from seldon_tfserving.policies.split import WeightedSplit

ALL_POLICIES = {
    "ab": lambda: WeightedSplit((0.5, 0.5), seed=1),
    "epsilon-greedy": lambda: EpsilonGreedy(2, epsilon=0.1, seed=1),
    "thompson": lambda: ThompsonSampling(2, seed=1),
    "ucb1": lambda: UCB1(2),
}


@pytest.mark.parametrize("make_policy", ALL_POLICIES.values(), ids=ALL_POLICIES.keys())
@pytest.mark.parametrize(
    ("routing", "reward", "complaint"),
    [
        (None, 1.0, "no routing"),
        (2, 1.0, "branch 2"),
        (-1, 1.0, "branch -1"),
        (0, math.nan, "finite"),
        (0, math.inf, "finite"),
    ],
)
def test_unusable_feedback_is_refused_and_changes_nothing(
    make_policy: object, routing: int | None, reward: float, complaint: str
) -> None:
    policy: BranchPolicy = make_policy()  # type: ignore[operator]
    policy.update(1, 0.5)
    before = copy.deepcopy(policy.stats)
    with pytest.raises(InvalidInput, match=complaint) as refused:
        policy.update(routing, reward)
    assert refused.value.grpc_code == grpc.StatusCode.INVALID_ARGUMENT
    assert refused.value.http_status == 400
    assert policy.stats == before


@pytest.mark.parametrize("policy", [ThompsonSampling(2), UCB1(2)], ids=["thompson", "ucb1"])
@pytest.mark.parametrize("reward", [-0.01, 1.5])
def test_bernoulli_bandits_take_rewards_in_zero_one_only(
    policy: BranchPolicy, reward: float
) -> None:
    with pytest.raises(InvalidInput, match=r"outside \[0, 1\]"):
        policy.update(0, reward)
    assert policy.stats.feedback == [0, 0]


def test_epsilon_greedy_and_ab_learn_any_reward_within_their_range() -> None:
    for policy in (EpsilonGreedy(2, epsilon=0.0), WeightedSplit((0.5, 0.5))):
        policy.update(1, -3.5)
        policy.update(1, 12.0)
        assert policy.stats.feedback == [0, 2]
        assert policy.stats.reward_sum == [0.0, 8.5]


def test_thompson_counts_fractional_rewards_as_partial_successes() -> None:
    policy = ThompsonSampling(2, alpha0=1.0, beta0=2.0)
    for reward in (0.25, 0.75, 1.0):
        policy.update(0, reward)
    alpha, beta = policy.posterior()
    assert list(alpha) == [1.0 + 2.0, 1.0]
    assert list(beta) == [2.0 + 1.0, 2.0]
    described = policy.describe()["branches"][0]
    assert (described["alpha"], described["beta"], described["mean_reward"]) == (3.0, 3.0, 2 / 3)


def test_epsilon_greedy_exploits_the_start_branch_until_feedback_says_otherwise() -> None:
    policy = EpsilonGreedy(3, epsilon=0.0, best_branch=2, seed=0)
    assert {policy.choose() for _ in range(50)} == {2}
    policy.update(0, 1.0)
    policy.update(2, 0.5)
    assert policy.best_branch() == 0
    assert {policy.choose() for _ in range(50)} == {0}


def test_epsilon_greedy_explores_about_epsilon_of_the_time() -> None:
    policy = EpsilonGreedy(2, epsilon=0.2, best_branch=0, seed=5)
    choices = [policy.choose() for _ in range(10_000)]
    # Exploration picks uniformly, so half of it lands on the best branch anyway.
    assert abs(choices.count(1) / len(choices) - 0.1) <= 0.02


def test_ucb1_tries_every_arm_before_comparing_bounds() -> None:
    policy = UCB1(3)
    assert policy.choose() == 0
    policy.update(0, 1.0)
    assert policy.choose() == 1
    policy.update(1, 0.0)
    assert policy.choose() == 2
    policy.update(2, 0.0)
    assert policy.upper_bounds() is not None
    assert policy.choose() == 0
