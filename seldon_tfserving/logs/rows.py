"""Rows of the store: one per instance per graph node, and one per instance of feedback.

Features become `feature:<name>` columns so no feature name can collide with ours.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from seldon_tfserving.logs.bodies import Scalar, repr_json, scalar
from seldon_tfserving.logs.joiner import FeedbackRecord, PredictionRecord

FEATURE_PREFIX = "feature:"
PREDICTIONS = "predictions"
FEEDBACK = "feedback"
#: the columns that place a row in the store's folders
PARTITION_COLUMNS = ("deployment", "predictor", "node", "day")
#: a feedback row's instance when it is about every instance of its prediction
ALL_INSTANCES = -1

Row = dict[str, Any]


def prediction_rows(record: PredictionRecord) -> list[Row]:
    """Each node's instances: features from its request, prediction and version from its
    answer, the path the prediction took through the graph."""
    path = record.path()
    path_text = json.dumps(path) if path else None
    rows: list[Row] = []
    for node_name, node in record.nodes.items():
        features = node.request.rows if node.request else []
        answer = node.answer
        predictions = answer.predictions if answer else []
        when = node.request_time or node.answer_time or datetime.now(UTC)
        routing = json.dumps(dict(answer.routing)) if answer and answer.routing else None
        for i in range(max(len(features), len(predictions))):
            prediction = predictions[i] if i < len(predictions) else None
            row: Row = {
                "deployment": record.deployment,
                "predictor": record.predictor,
                "node": node_name,
                "day": when.date().isoformat(),
                "request_id": record.request_id,
                "instance": i,
                "time": when,
                "protocol": node.protocol,
                "model_name": (answer.model_name if answer else None) or node_name,
                "model_version": answer.model_version if answer else None,
                "routing": routing,
                "path": path_text,
                "answered": answer is not None,
                "prediction": None if prediction is None else repr_json(prediction),
                "prediction_value": prediction_value(prediction),
            }
            if i < len(features):
                for name, value in features[i].items():
                    row[FEATURE_PREFIX + name] = value
            rows.append(row)
    return rows


def feedback_rows(record: FeedbackRecord) -> list[Row]:
    """One row per instance the feedback's truth covers; without truth, one row for every
    instance (`instance` -1)."""
    event, feedback = record.event, record.feedback
    truths: list[Any] = feedback.truths or [None]
    first = 0 if feedback.truths else ALL_INSTANCES
    return [
        {
            "deployment": event.deployment,
            "predictor": event.predictor,
            "node": event.node,
            "day": event.time.date().isoformat(),
            "request_id": record.request_id,
            "instance": first + i,
            "time": event.time,
            "reward": feedback.reward,
            "truth": None if truth is None else repr_json(truth),
            "truth_value": prediction_value(truth),
        }
        for i, truth in enumerate(truths)
    ]


def prediction_value(value: Any) -> float | None:
    """A number standing for a prediction or truth: itself, or the one value of a list."""
    while isinstance(value, list | tuple) and len(value) == 1:
        value = value[0]
    cell: Scalar = scalar(value) if not isinstance(value, list | tuple | dict) else None
    if isinstance(cell, bool) or not isinstance(cell, int | float):
        return None
    return float(cell)
