"""Every Seldon class of ours, written once: name, service type, settings and home module.

The package's lazy exports and the deploy validator both derive from this list. Only the
settings modules are imported here, never the classes, so reading it costs no Seldon Core,
TensorFlow, Flask or gRPC.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from seldon_tfserving.combiner_settings import (
    MajorityVoteSettings,
    MaxConfidenceSettings,
    MeanSettings,
    WeightedMeanSettings,
)
from seldon_tfserving.parameters import ParameterSpec, SeldonSettings, declared_parameters
from seldon_tfserving.router_settings import (
    ABTestSettings,
    EpsilonGreedySettings,
    ThompsonSamplingSettings,
    UCB1Settings,
)
from seldon_tfserving.settings import TfServingSettings

PACKAGE = "seldon_tfserving"

ServiceType = Literal["MODEL", "ROUTER", "COMBINER"]


@dataclass(frozen=True)
class SeldonClass:
    """One class `seldon-core-microservice seldon_tfserving.<name>` can host."""

    name: str
    service_type: ServiceType
    settings_type: type[SeldonSettings]
    #: the module defining the class, imported only when the class itself is wanted
    module: str

    @property
    def interface(self) -> str:
        """The MODEL_NAME / `seldon-core-microservice` argument for this class."""
        return f"{PACKAGE}.{self.name}"

    def parameters(self) -> dict[str, ParameterSpec]:
        """The parameters this class accepts, as its settings declare them."""
        return declared_parameters(self.settings_type)

    def build_settings(self, values: Mapping[str, Any]) -> SeldonSettings:
        """The settings from typed values exactly as the class builds them at start-up.

        Raises the class's ConfigurationError (a ValueError naming the parameter) when the
        class would refuse to start.
        """
        return self.settings_type.from_parameters(**values)


SELDON_CLASSES: tuple[SeldonClass, ...] = (
    SeldonClass("TfServingModel", "MODEL", TfServingSettings, f"{PACKAGE}.model"),
    SeldonClass("ABTestRouter", "ROUTER", ABTestSettings, f"{PACKAGE}.routers"),
    SeldonClass("EpsilonGreedyRouter", "ROUTER", EpsilonGreedySettings, f"{PACKAGE}.routers"),
    SeldonClass("ThompsonSamplingRouter", "ROUTER", ThompsonSamplingSettings, f"{PACKAGE}.routers"),
    SeldonClass("UCB1Router", "ROUTER", UCB1Settings, f"{PACKAGE}.routers"),
    SeldonClass("MeanCombiner", "COMBINER", MeanSettings, f"{PACKAGE}.combiners"),
    SeldonClass("WeightedMeanCombiner", "COMBINER", WeightedMeanSettings, f"{PACKAGE}.combiners"),
    SeldonClass("MajorityVoteCombiner", "COMBINER", MajorityVoteSettings, f"{PACKAGE}.combiners"),
    SeldonClass("MaxConfidenceCombiner", "COMBINER", MaxConfidenceSettings, f"{PACKAGE}.combiners"),
)
