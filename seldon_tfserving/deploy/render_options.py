"""The choices `render` takes: journeys, protocols, classes, images, and `RenderOptions`.

Kept apart from the building (render.py) so the command can offer the same choices it checks.
"""

from __future__ import annotations

from dataclasses import dataclass

JOURNEYS = ("single", "ab", "canary", "shadow", "bandit", "ensemble")
PROTOCOLS = ("seldon", "tensorflow")
#: Journeys that make sense with TF Serving's own API, where the client names the model.
TENSORFLOW_JOURNEYS = tuple(journey for journey in JOURNEYS if journey != "canary")
ROUTER_POLICIES = {
    "thompson": "ThompsonSamplingRouter",
    "epsilon-greedy": "EpsilonGreedyRouter",
    "ucb1": "UCB1Router",
}
COMBINERS = {"mean": "MeanCombiner", "weighted-mean": "WeightedMeanCombiner"}
DEFAULT_WRAPPER_IMAGE = "seldon-tfserving:0.1.0"
DEFAULT_TFSERVING_IMAGE = "tensorflow/serving:2.20.0"
STORAGE_INITIALIZER_IMAGE = "seldonio/rclone-storage-initializer:1.18.2"
GRPC_PORT, REST_PORT = 8500, 8501
MODELS_MOUNT, CONFIG_MOUNT = "/models", "/config"


class RenderError(ValueError):
    """The chosen options do not make a deployment (says which option to change)."""


@dataclass(frozen=True)
class Autoscaling:
    min_replicas: int
    max_replicas: int
    cpu_utilization: int = 70


@dataclass(frozen=True)
class RenderOptions:
    """Everything a journey needs; defaults make a working single-model deployment."""

    journey: str = "single"
    name: str = "tfserving"
    models: tuple[str, ...] = ("half_plus_two",)
    model_uri: str | None = None
    volume_claim: str = "tfserving-models"
    versions: tuple[int, ...] = ()
    labels: tuple[str, ...] = ()
    ratio_a: float | None = None
    weights: tuple[float, ...] = ()
    traffic: tuple[int, ...] = (90, 10)
    policy: str = "thompson"
    combiner: str = "mean"
    gpu: bool = False
    replicas: int = 1
    autoscaling: Autoscaling | None = None
    logger_url: str | None = None
    logger_mode: str = "all"
    transport: str = "grpc"
    protocol: str = "seldon"
    wrapper_image: str = DEFAULT_WRAPPER_IMAGE
    tfserving_image: str = DEFAULT_TFSERVING_IMAGE
    namespace: str | None = None
