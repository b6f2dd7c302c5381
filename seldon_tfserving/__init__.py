"""TensorFlow Serving behind Seldon Core.

`seldon-core-microservice seldon_tfserving.TfServingModel` (or a router or combiner class)
imports this package; classes load lazily, so that a router never imports TensorFlow.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "TfServingModel": "seldon_tfserving.model",
    "ABTestRouter": "seldon_tfserving.routers",
    "EpsilonGreedyRouter": "seldon_tfserving.routers",
    "ThompsonSamplingRouter": "seldon_tfserving.routers",
    "UCB1Router": "seldon_tfserving.routers",
    "MeanCombiner": "seldon_tfserving.combiners",
    "WeightedMeanCombiner": "seldon_tfserving.combiners",
    "MajorityVoteCombiner": "seldon_tfserving.combiners",
    "MaxConfidenceCombiner": "seldon_tfserving.combiners",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'seldon_tfserving' has no attribute {name!r}")
