"""A Seldon class of ours that finds every input wrong: each method raises ValueError, as a
user class says "bad input", so the tests can see what every Seldon route makes of it."""

from __future__ import annotations

from typing import Any

from seldon_tfserving.microservice.component import SeldonComponent

REFUSAL = "this input is not one I take"


class RefusingComponent(SeldonComponent):
    """Raises ValueError from every per-request method seldon-core calls."""

    def predict(self, X: Any, names: Any, meta: Any = None) -> Any:
        raise ValueError(REFUSAL)

    def send_feedback(
        self, features: Any, names: Any, reward: Any, truth: Any, routing: Any = None
    ) -> Any:
        raise ValueError(REFUSAL)

    def route(self, features: Any, feature_names: Any) -> int:
        raise ValueError(REFUSAL)

    def aggregate(self, features_list: Any, feature_names_list: Any) -> Any:
        raise ValueError(REFUSAL)

    def transform_input(self, X: Any, names: Any, meta: Any = None) -> Any:
        raise ValueError(REFUSAL)

    def transform_output(self, X: Any, names: Any, meta: Any = None) -> Any:
        raise ValueError(REFUSAL)

    def health_status(self) -> Any:
        raise ValueError(REFUSAL)
