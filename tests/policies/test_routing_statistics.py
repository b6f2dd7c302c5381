"""The routing policies behave as the experiment needs, measured over many requests (no server)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from seldon_tfserving.policies.bandits import UCB1, EpsilonGreedy, ThompsonSampling
from seldon_tfserving.policies.branches import BranchPolicy
from seldon_tfserving.policies.split import WeightedSplit, identity_from_meta
from seldon_tfserving.routers import ABTestSettings

REQUESTS = 10_000


def shares(branches: list[int], n_branches: int) -> list[float]:
    counts = Counter(branches)
    return [counts[branch] / len(branches) for branch in range(n_branches)]


@pytest.mark.parametrize("ratio_a", [0.5, 0.7, 0.9])
def test_ab_split_is_within_two_points_of_ratio_a(ratio_a: float) -> None:
    policy = WeightedSplit(ABTestSettings(ratio_a=ratio_a, seed=42).branch_weights(), seed=42)
    share_a, share_b = shares([policy.choose() for _ in range(REQUESTS)], 2)
    assert abs(share_a - ratio_a) <= 0.02
    assert share_a + share_b == pytest.approx(1.0)


def test_ab_split_with_a_seed_is_repeatable() -> None:
    weights = ABTestSettings(ratio_a=0.7).branch_weights()
    runs = [[policy.choose() for _ in range(200)] for policy in _policies(weights, [7, 7, 8])]
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def _policies(weights: tuple[float, ...], seeds: list[int]) -> list[WeightedSplit]:
    return [WeightedSplit(weights, seed=seed) for seed in seeds]


def test_n_children_with_weights_follow_the_normalised_weights() -> None:
    settings = ABTestSettings(weights=(2.0, 1.0, 1.0), seed=3)
    assert settings.branch_weights() == (0.5, 0.25, 0.25)
    policy = WeightedSplit(settings.branch_weights(), seed=3)
    measured = shares([policy.choose() for _ in range(REQUESTS)], 3)
    assert measured == pytest.approx([0.5, 0.25, 0.25], abs=0.02)


def test_a_zero_weight_child_gets_no_traffic() -> None:
    policy = WeightedSplit(ABTestSettings(weights=(1.0, 0.0, 1.0)).branch_weights(), seed=1)
    assert 1 not in {policy.choose() for _ in range(REQUESTS)}
    assert policy.choose("tag:someone") != 1


def test_sticky_users_never_switch_arms_and_still_split_by_the_weights() -> None:
    weights = ABTestSettings(ratio_a=0.7).branch_weights()
    policy = WeightedSplit(weights, seed=1)
    users = [f"user-{index}" for index in range(REQUESTS)]
    first_arm = {
        user: policy.choose(identity_from_meta({"tags": {"user": user}}, "user")) for user in users
    }
    # Interleaved repeat visits, and a fresh policy with another seed (a restarted pod):
    restarted = WeightedSplit(weights, seed=99)
    for user in reversed(users):
        identity = identity_from_meta({"tags": {"user": user}, "puid": "x"}, "user")
        assert policy.choose(identity) == first_arm[user]
        assert restarted.choose(identity) == first_arm[user]
    assert abs(shares(list(first_arm.values()), 2)[0] - 0.7) <= 0.02


def test_sticky_identity_is_the_tag_else_the_puid() -> None:
    assert identity_from_meta({"tags": {"user": "ann"}, "puid": "p1"}, "user") == "tag:ann"
    assert identity_from_meta({"tags": {"other": "ann"}, "puid": "p1"}, "user") == "puid:p1"
    assert identity_from_meta({"tags": {}}, "user") is None
    assert identity_from_meta(None, "user") is None


def test_a_numeric_tag_is_one_identity_over_rest_and_grpc() -> None:
    # REST keeps the JSON int; Seldon's gRPC face hands the same tag over as a float.
    rest = identity_from_meta({"tags": {"user": 7}}, "user")
    grpc = identity_from_meta({"tags": {"user": 7.0}}, "user")
    assert rest == grpc == "tag:7"


def simulate_bandit(policy: BranchPolicy, success: list[float], steps: int, seed: int) -> list[int]:
    """Route `steps` requests; each chosen arm pays 1 with its success probability."""
    world = np.random.default_rng(seed)
    chosen: list[int] = []
    for _ in range(steps):
        branch = policy.choose()
        policy.update(branch, float(world.random() < success[branch]))
        chosen.append(branch)
    return chosen


@pytest.mark.parametrize(
    "policy",
    [
        EpsilonGreedy(2, epsilon=0.1, best_branch=0, seed=11),
        ThompsonSampling(2, alpha0=1.0, beta0=1.0, seed=11),
        UCB1(2),
    ],
    ids=["epsilon-greedy", "thompson", "ucb1"],
)
def test_bandits_send_most_late_traffic_to_the_better_arm(policy: BranchPolicy) -> None:
    chosen = simulate_bandit(policy, success=[0.2, 0.8], steps=5_000, seed=2024)
    late_share_of_better_arm = chosen[-1_000:].count(1) / 1_000
    assert late_share_of_better_arm > 0.80
    assert policy.stats.feedback[0] + policy.stats.feedback[1] == 5_000


def test_ucb1_is_deterministic() -> None:
    first = simulate_bandit(UCB1(3), success=[0.3, 0.5, 0.7], steps=500, seed=5)
    second = simulate_bandit(UCB1(3), success=[0.3, 0.5, 0.7], steps=500, seed=5)
    assert first == second
    assert first[:3] == [0, 1, 2]  # every arm once, in order, before any bound is compared
