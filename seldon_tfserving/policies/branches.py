"""What every routing policy learns: per-branch feedback counts and reward sums.

All our routers keep the same sufficient statistics, so one checked update path, one state
file format and one health report serve them all; the policies differ only in `choose`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from seldon_tfserving.errors import InvalidInput

#: The rewards a policy with no range of its own learns from. Far wider than any score of one
#: answer, and narrow enough that a reward cannot swamp what the sums already hold (±3.4e38
#: then ∓3.4e38 would leave a sum of 0 whatever came before) and that 2**53 of them still sum
#: to a finite float.
REWARD_LIMIT = 1e6
#: The most feedback a branch counts: beyond it a count no longer converts to float64 exactly.
MAX_FEEDBACK = 2**53


@dataclass
class BranchStats:
    """Feedback count and reward sum of each branch (index = child index in the graph)."""

    feedback: list[int]
    reward_sum: list[float]

    @classmethod
    def empty(cls, n_branches: int) -> BranchStats:
        return cls([0] * n_branches, [0.0] * n_branches)

    @property
    def n_branches(self) -> int:
        return len(self.feedback)

    def mean_reward(self, branch: int) -> float | None:
        count = self.feedback[branch]
        return self.reward_sum[branch] / count if count else None

    def to_json(self) -> dict[str, Any]:
        return {"feedback": list(self.feedback), "reward_sum": list(self.reward_sum)}

    @classmethod
    def from_json(cls, document: Any, n_branches: int) -> BranchStats:
        """Stats from `to_json` output; raises ValueError when they do not fit `n_branches`."""
        if not isinstance(document, dict):
            raise ValueError("branch statistics must be a JSON object")
        feedback, reward_sum = document.get("feedback"), document.get("reward_sum")
        if not isinstance(feedback, list) or not isinstance(reward_sum, list):
            raise ValueError("branch statistics need 'feedback' and 'reward_sum' lists")
        if len(feedback) != n_branches or len(reward_sum) != n_branches:
            raise ValueError(
                f"statistics are for {len(feedback)} branches, the router has {n_branches}"
            )
        if not all(
            isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= MAX_FEEDBACK
            for n in feedback
        ):
            raise ValueError(
                f"feedback counts must be non-negative integers up to 2**53: {_abridged(feedback)}"
            )
        if not all(
            isinstance(s, int | float) and not isinstance(s, bool) and math.isfinite(s)
            for s in reward_sum
        ):
            raise ValueError(f"reward sums must be finite numbers: {_abridged(reward_sum)}")
        return cls([int(n) for n in feedback], [float(s) for s in reward_sum])


def _abridged(values: list[Any]) -> str:
    """A list for a message, cut short: a state file may hold anything."""
    text = repr(values)
    return text if len(text) <= 200 else text[:200] + "..."


class BranchPolicy(ABC):
    """A pure routing policy: `choose` a branch, `update` on feedback; no I/O, no locking."""

    #: The rewards the policy learns from (inclusive); others are refused naming it.
    reward_range: ClassVar[tuple[float, float]] = (-REWARD_LIMIT, REWARD_LIMIT)

    def __init__(self, n_branches: int) -> None:
        self.n_branches = n_branches
        self.stats = BranchStats.empty(n_branches)

    @abstractmethod
    def choose(self, identity: str | None = None) -> int:
        """The branch for one request; `identity` is a stable key of the caller, if any."""

    def check_feedback(self, branch: int | None, reward: float) -> int:
        """The branch a feedback is for; raises InvalidInput (nothing changed) if it is unusable."""
        if branch is None:
            raise InvalidInput(
                "feedback carries no routing for this router: send the prediction's "
                "response with meta.routing {<router node name>: <branch>}"
            )
        if not 0 <= branch < self.n_branches:
            raise InvalidInput(
                f"feedback names branch {branch}, but this router has branches "
                f"0..{self.n_branches - 1}"
            )
        if not math.isfinite(reward):
            raise InvalidInput(f"reward must be a finite number, got {reward!r}")
        low, high = self.reward_range
        if not low <= reward <= high:
            raise InvalidInput(
                f"reward {reward!r} is outside [{low:g}, {high:g}], the range "
                f"{type(self).__name__} learns from"
            )
        if self.stats.feedback[branch] >= MAX_FEEDBACK:
            raise InvalidInput(f"branch {branch} has counted all the feedback it can (2**53)")
        return branch

    def update(self, branch: int | None, reward: float) -> None:
        """Learn from one reward for `branch`; invalid feedback raises and changes nothing."""
        checked = self.check_feedback(branch, reward)
        self.stats.feedback[checked] += 1
        self.stats.reward_sum[checked] += reward

    def restore(self, stats: BranchStats) -> None:
        """Take over statistics learned earlier (by a previous pod or a sibling process);
        ValueError when they are not what this policy could have learned."""
        if stats.n_branches != self.n_branches:
            raise ValueError(
                f"statistics are for {stats.n_branches} branches, the router has {self.n_branches}"
            )
        low, high = self.reward_range
        for branch, (count, total) in enumerate(zip(stats.feedback, stats.reward_sum, strict=True)):
            # Sums of `count` rewards in [low, high], with room for float rounding.
            slack = 1e-9 * count * max(abs(low), abs(high)) + 1e-9
            if not low * count - slack <= total <= high * count + slack:
                raise ValueError(
                    f"branch {branch}'s reward sum {total!r} cannot come from {count} rewards "
                    f"in [{low:g}, {high:g}], the range {type(self).__name__} learns from"
                )
        self.stats = stats

    def describe(self) -> dict[str, Any]:
        """The learned state, per branch, as health status and metadata report it."""
        return {
            "branches": [
                {
                    "branch": branch,
                    "feedback": self.stats.feedback[branch],
                    "reward_sum": self.stats.reward_sum[branch],
                    "mean_reward": self.stats.mean_reward(branch),
                }
                for branch in range(self.n_branches)
            ]
        }


def argmax_lowest(values: list[float]) -> int:
    """Index of the largest value; ties go to the lowest index, so choices are repeatable."""
    best = 0
    for index in range(1, len(values)):
        if values[index] > values[best]:
            best = index
    return best
