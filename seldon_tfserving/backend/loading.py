"""TF Serving's initial load: every chosen version of every model, each warmed up before it serves.

It stands apart from `core.py` because a warm-up replays requests through a core: warm-up
builds on the core, so the core cannot be the one that calls it.
"""

from __future__ import annotations

from collections.abc import Sequence

from seldon_tfserving.backend.batching_parameters import BatchingParameters
from seldon_tfserving.backend.config import ModelSource
from seldon_tfserving.backend.core import ServingCore
from seldon_tfserving.backend.repository import ModelRepository
from seldon_tfserving.backend.server_options import LoadSettings
from seldon_tfserving.backend.warmup import warm_up as replay_warmup_records


def load_serving_core(
    sources: Sequence[ModelSource],
    *,
    warm_up: bool = True,
    batching: BatchingParameters | None = None,
    settings: LoadSettings | None = None,
) -> ServingCore:
    """A core serving every chosen version of `sources`, each warmed up with its SavedModel's
    sample requests first (--enable_model_warmup, on by default), its runs batched if
    `batching` is given (--enable_batching), each loaded with `settings` (tags, session,
    retries)."""
    repository = ModelRepository(
        prepare=replay_warmup_records if warm_up else None, batching=batching, settings=settings
    )
    repository.refresh(sources)
    return ServingCore(repository)
