"""The base of every Seldon class of ours: REST errors answered with their real status through
Seldon's own hook (`model_error_handler`), and the process-wide hooks installed once."""

from __future__ import annotations

import logging
from typing import ClassVar

from flask import Blueprint, Response, jsonify

from seldon_tfserving.errors import InvalidInput, ServingError
from seldon_tfserving.microservice.hooks import install_seldon_hooks

logger = logging.getLogger(__name__)


def _error_blueprint() -> Blueprint:
    blueprint = Blueprint("seldon_tfserving_errors", __name__)

    @blueprint.app_errorhandler(ServingError)
    def handle_serving_error(error: ServingError) -> tuple[Response, int]:
        logger.warning("request failed: %s", error.message)
        return jsonify(error.seldon_json()), error.http_status

    @blueprint.app_errorhandler(RecursionError)
    def handle_nesting_too_deep(error: RecursionError) -> tuple[Response, int]:
        # Seldon parses the body before our class sees it; JSON nested deeper than Python's
        # recursion limit fails there and would otherwise come back as a 500.
        refused = InvalidInput(f"the request cannot be decoded: {error}")
        return jsonify(refused.seldon_json()), refused.http_status

    return blueprint


class SeldonComponent:
    """Base of our Seldon classes: REST errors via Seldon's hook, gRPC errors via the servicer,
    metrics recorded off the request path."""

    #: nothing of ours reads Flask's request, so Seldon's REST predictions of our classes may
    #: be answered past Flask (`seldon_predict_lane.py`)
    reads_flask_request: ClassVar[bool] = False

    def __init__(self) -> None:
        self.model_error_handler = _error_blueprint()
        install_seldon_hooks()
