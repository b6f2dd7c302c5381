"""The names TfServingModel answers and counts under, on both its faces: Seldon `meta.tags`
keys saying who answered, and the TIMER metric of each call to TF Serving."""

from __future__ import annotations

TAG_MODEL = "tfserving_model"
TAG_VERSION = "tfserving_version"
TAG_SIGNATURE = "tfserving_signature"
#: The Seldon TIMER metric (milliseconds) timing each call to TF Serving.
METRIC_LATENCY = "tfserving_request_duration"
