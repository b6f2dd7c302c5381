"""The combiners' parameters, declared like every class's settings, read without the combiners.

One frozen settings class per combiner in `combiners.py`; nothing here imports Seldon Core,
TensorFlow or numpy, so the deploy validator reads them cheaply.
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

VOTE_OUTPUTS = ("labels", "one_hot")


@dataclass(frozen=True)
class MeanSettings(ComponentSettings):
    """The plain mean takes no parameters."""


@dataclass(frozen=True)
class WeightedMeanSettings(ComponentSettings):
    """One weight per child, normalised to sum to one."""

    weights: tuple[float, ...] = seldon_parameter(
        "STRING",
        convert=parse_number_list,
        required=True,
        doc="one weight per child, JSON list or a,b,c",
    )

    def __post_init__(self) -> None:
        normalised_weights("weights", self.weights)

    def normalised(self) -> tuple[float, ...]:
        return normalised_weights("weights", self.weights)


@dataclass(frozen=True)
class MajorityVoteSettings(ComponentSettings):
    """Whether the vote answers class labels or one-hot rows."""

    output: str = seldon_parameter("STRING", default="labels", doc="labels or one_hot")

    def __post_init__(self) -> None:
        if self.output not in VOTE_OUTPUTS:
            raise ConfigurationError(
                "output", f"must be one of {', '.join(VOTE_OUTPUTS)}, got {self.output!r}"
            )


@dataclass(frozen=True)
class MaxConfidenceSettings(ComponentSettings):
    """Max confidence takes no parameters."""
