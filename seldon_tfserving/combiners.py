"""Seldon COMBINER components: merge the outputs of a node's children into one answer.

Each class is hosted by `seldon-core-microservice --service-type COMBINER`; Seldon decodes
every child's ndarray, tensor or tftensor payload to numpy and answers in the first child's
payload type. The arithmetic lives in `policies.combining` and the settings in
`combiner_settings.py`; here is only the class contract.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any, ClassVar

from seldon_tfserving.combiner_settings import (
    MajorityVoteSettings,
    MaxConfidenceSettings,
    MeanSettings,
    WeightedMeanSettings,
)
from seldon_tfserving.microservice.component import SeldonComponent
from seldon_tfserving.microservice.payload_guard import GuardsAggregatePayload
from seldon_tfserving.microservice.tf_faces import TfFaces
from seldon_tfserving.parameters import parse_settings
from seldon_tfserving.policies import combining
from seldon_tfserving.policies.combining import Array


class Combiner(GuardsAggregatePayload, SeldonComponent):
    """The Seldon combiner contract: `aggregate` the children's outputs with `combine`."""

    settings_type: ClassVar[type[Any]]

    def __init__(self, **parameters: Any) -> None:
        self.settings = parse_settings(self.settings_type, parameters)
        super().__init__()

    def combine(self, outputs: list[Array]) -> Array:
        raise NotImplementedError

    def aggregate(self, features_list: list[Any], feature_names_list: list[Any]) -> Array:
        """One output from the children's outputs; a mismatch is an InvalidInput (400)."""
        return self.combine(combining.numeric_outputs(features_list))

    def tf_faces(self) -> TfFaces:
        """TF Serving's protocol too: `:aggregate` and `tfgraph.Combiner/Aggregate` over the
        children's TF answers (`combiner_tf_face`)."""
        from seldon_tfserving.combiner_tf_face import CombinerTfFace

        return TfFaces(combiner=CombinerTfFace(self.combine))

    def init_metadata(self) -> dict[str, Any]:
        """Seldon model metadata: which combiner, with which settings."""
        return {
            "name": type(self).__name__,
            "platform": "seldon-tfserving",
            "custom": {
                name: value if isinstance(value, str) else json.dumps(value)
                for name, value in asdict(self.settings).items()
                if value is not None
            },
        }


class MeanCombiner(Combiner):
    """Element-wise mean of the children's outputs."""

    settings_type = MeanSettings

    def combine(self, outputs: list[Array]) -> Array:
        return combining.mean(outputs)


class WeightedMeanCombiner(Combiner):
    """Element-wise weighted mean; `weights` (one per child) are normalised to sum to one."""

    settings_type = WeightedMeanSettings
    settings: WeightedMeanSettings

    def combine(self, outputs: list[Array]) -> Array:
        return combining.weighted_mean(outputs, self.settings.normalised())


class MajorityVoteCombiner(Combiner):
    """Per row, the class most children rank first (ties: lowest class), as labels or one-hot."""

    settings_type = MajorityVoteSettings
    settings: MajorityVoteSettings

    def combine(self, outputs: list[Array]) -> Array:
        return combining.majority_vote(outputs, one_hot=self.settings.output == "one_hot")


class MaxConfidenceCombiner(Combiner):
    """Per row, the output of the child most confident in its top class."""

    settings_type = MaxConfidenceSettings

    def combine(self, outputs: list[Array]) -> Array:
        return combining.max_confidence(outputs)
