"""TF Serving's REST paths, `/v1/models/<name>[/versions/<n>|/labels/<l>]`: the one pattern the
backend, the wrapper's TF face and the gateway route by, and the one writer of a servable's path
(names and labels percent-encoded, as each reader decodes them)."""

from __future__ import annotations

from urllib.parse import quote

#: A model's name in a path: one segment, no `:` (the verb's separator).
NAME = r"(?P<name>[^/:]+)"
#: The servable a path pins, if any: a version number or a label.
VERSION_OR_LABEL = r"(?:/versions/(?P<version>\d+)|/labels/(?P<label>[^/:]+))"
#: A model and what it pins, groups `name`, `version`, `label` (in this order).
MODEL_ID = rf"{NAME}{VERSION_OR_LABEL}?"


def model_path(name: str, version: int | None = None, label: str | None = None) -> str:
    """`/v1/models/<name>[/versions/<v>|/labels/<l>]`, as TF Serving's REST API routes it."""
    path = f"/v1/models/{quote(name, safe='')}"
    if version is not None:
        return f"{path}/versions/{version}"
    if label is not None:
        return f"{path}/labels/{quote(label, safe='')}"
    return path
