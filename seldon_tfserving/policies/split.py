"""A fixed traffic split over branches (A/B/n tests), random or sticky per caller.

A sticky route is a stable hash of the caller's key (a `meta.tags` entry or the `puid`), so a
user keeps one arm across requests, processes and restarts, while over many users the shares
still follow the weights. Python's `hash()` is salted per process, so we use BLAKE2b.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from seldon_tfserving.policies.branches import BranchPolicy

_HASH_SPAN = float(2**64)


def stable_unit_interval(key: str) -> float:
    """A point in [0, 1) that depends only on `key` (same in every process and release)."""
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _HASH_SPAN


def tag_identity(value: Any) -> str:
    """One spelling of a tag value, whichever transport carried it.

    Seldon's gRPC face turns every JSON number in `meta.tags` into a float (7 -> 7.0) and REST
    keeps it an int; both must land on the same arm.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def identity_from_meta(meta: Mapping[str, Any] | None, sticky_key: str) -> str | None:
    """The caller's sticky identity: `meta.tags[sticky_key]`, else `meta.puid`, else None."""
    if not meta:
        return None
    tags = meta.get("tags")
    if isinstance(tags, Mapping) and tags.get(sticky_key) is not None:
        return f"tag:{tag_identity(tags[sticky_key])}"
    puid = meta.get("puid")
    if isinstance(puid, str) and puid:
        return f"puid:{puid}"
    return None


class WeightedSplit(BranchPolicy):
    """Send each request to branch i with probability weights[i]; feedback is only recorded."""

    def __init__(self, weights: tuple[float, ...], seed: int | None = None) -> None:
        if not all(math.isfinite(w) and w >= 0 for w in weights) or not any(weights):
            raise ValueError(f"weights must be finite, non-negative, not all 0: {weights}")
        super().__init__(len(weights))
        self.weights = weights
        cumulative = list(itertools.accumulate(weights))
        # Guard against rounding: the last bound must cover every point below 1.
        cumulative[-1] = 1.0
        self._bounds = cumulative
        self._rng = np.random.default_rng(seed)

    def branch_at(self, point: float) -> int:
        """The branch whose share of [0, 1) holds `point`; zero-weight branches hold none."""
        return min(bisect.bisect_right(self._bounds, point), self.n_branches - 1)

    def choose(self, identity: str | None = None) -> int:
        if identity is not None:
            return self.branch_at(stable_unit_interval(identity))
        return self.branch_at(float(self._rng.random()))

    def describe(self) -> dict[str, Any]:
        report = super().describe()
        report["weights"] = list(self.weights)
        return report
