"""Multi-armed bandit policies: epsilon-greedy, Thompson sampling (Beta-Bernoulli), UCB1.

Each learns only from the shared per-branch statistics, so a state restored from a file or
merged from a sibling process is all a policy needs to pick up where it left off.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from seldon_tfserving.policies.branches import BranchPolicy, argmax_lowest


class EpsilonGreedy(BranchPolicy):
    """Exploit the best mean reward; with probability epsilon try a uniformly random branch."""

    def __init__(
        self, n_branches: int, epsilon: float, best_branch: int = 0, seed: int | None = None
    ) -> None:
        if not 0.0 <= epsilon <= 1.0:
            raise ValueError(f"epsilon must be in [0, 1], got {epsilon!r}")
        super().__init__(n_branches)
        self.epsilon = epsilon
        self.initial_best = best_branch
        self._rng = np.random.default_rng(seed)

    def best_branch(self) -> int:
        """The branch with the highest mean reward; the configured start until feedback arrives.

        Ties go to the configured start, then to the lowest index.
        """
        means = [self.stats.mean_reward(branch) for branch in range(self.n_branches)]
        tried = [(mean, branch) for branch, mean in enumerate(means) if mean is not None]
        if not tried:
            return self.initial_best
        top = max(mean for mean, _ in tried)
        leaders = [branch for mean, branch in tried if mean == top]
        return self.initial_best if self.initial_best in leaders else leaders[0]

    def choose(self, identity: str | None = None) -> int:
        if self.epsilon > 0 and float(self._rng.random()) < self.epsilon:
            return int(self._rng.integers(self.n_branches))
        return self.best_branch()

    def describe(self) -> dict[str, Any]:
        report = super().describe()
        report["best_branch"] = self.best_branch()
        report["epsilon"] = self.epsilon
        return report


class ThompsonSampling(BranchPolicy):
    """Sample each branch's Beta posterior of success and take the best draw.

    A reward r in [0, 1] counts as r successes and 1 - r failures, so fractional rewards are
    partial successes.
    """

    reward_range = (0.0, 1.0)

    def __init__(
        self, n_branches: int, alpha0: float = 1.0, beta0: float = 1.0, seed: int | None = None
    ) -> None:
        if not (0.0 < alpha0 < math.inf and 0.0 < beta0 < math.inf):
            raise ValueError(f"alpha0 and beta0 must be finite and positive: {alpha0}, {beta0}")
        super().__init__(n_branches)
        self.alpha0 = alpha0
        self.beta0 = beta0
        self._rng = np.random.default_rng(seed)

    def posterior(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Alpha and beta of each branch's Beta posterior."""
        successes = np.asarray(self.stats.reward_sum, dtype=np.float64)
        trials = np.asarray(self.stats.feedback, dtype=np.float64)
        # Clip: float sums of rewards in [0, 1] can overshoot the count by an ulp.
        failures = np.maximum(trials - successes, 0.0)
        return self.alpha0 + np.maximum(successes, 0.0), self.beta0 + failures

    def choose(self, identity: str | None = None) -> int:
        alpha, beta = self.posterior()
        draws = self._rng.beta(alpha, beta)
        return argmax_lowest([float(draw) for draw in draws])

    def describe(self) -> dict[str, Any]:
        report = super().describe()
        alpha, beta = self.posterior()
        for branch, entry in enumerate(report["branches"]):
            entry["alpha"] = float(alpha[branch])
            entry["beta"] = float(beta[branch])
        return report


class UCB1(BranchPolicy):
    """Auer et al.'s UCB1: try every branch once, then the best mean + sqrt(2 ln N / n_i).

    Deterministic: the same feedback always gives the same next branch (a baseline).
    """

    reward_range = (0.0, 1.0)

    def upper_bounds(self) -> list[float] | None:
        """Each branch's upper confidence bound; None while some branch is untried."""
        counts = self.stats.feedback
        if 0 in counts:
            return None
        log_total = math.log(sum(counts))
        return [
            self.stats.reward_sum[branch] / counts[branch]
            + math.sqrt(2.0 * log_total / counts[branch])
            for branch in range(self.n_branches)
        ]

    def choose(self, identity: str | None = None) -> int:
        bounds = self.upper_bounds()
        if bounds is None:
            return self.stats.feedback.index(0)
        return argmax_lowest(bounds)

    def describe(self) -> dict[str, Any]:
        report = super().describe()
        bounds = self.upper_bounds()
        for branch, entry in enumerate(report["branches"]):
            entry["upper_bound"] = None if bounds is None else bounds[branch]
        return report
