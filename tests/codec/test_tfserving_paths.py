"""One writer of a servable's REST path and one pattern every REST face routes by."""

from __future__ import annotations

import re
from urllib.parse import unquote

import pytest

from seldon_tfserving.codec.tfserving_paths import MODEL_ID, model_path

PATH = re.compile(rf"/v1/models/{MODEL_ID}")


@pytest.mark.parametrize(
    ("name", "version", "label", "path"),
    [
        ("half_plus_two", None, None, "/v1/models/half_plus_two"),
        ("half_plus_two", 123, None, "/v1/models/half_plus_two/versions/123"),
        ("half_plus_two", None, "stable", "/v1/models/half_plus_two/labels/stable"),
        ("half_plus_two", 7, "stable", "/v1/models/half_plus_two/versions/7"),
        ("a b/c:d", None, "x/y", "/v1/models/a%20b%2Fc%3Ad/labels/x%2Fy"),
    ],
)
def test_a_servable_has_tf_servings_path(
    name: str, version: int | None, label: str | None, path: str
) -> None:
    assert model_path(name, version, label) == path


@pytest.mark.parametrize(
    ("name", "version", "label"),
    [("m", None, None), ("m", 3, None), ("m", None, "canary"), ("a b/c:d", None, "x/y")],
)
def test_what_is_written_reads_back_the_same(
    name: str, version: int | None, label: str | None
) -> None:
    found = PATH.fullmatch(model_path(name, version, label))
    assert found is not None
    assert unquote(found["name"]) == name
    assert (int(found["version"]) if found["version"] else None) == version
    assert (unquote(found["label"]) if found["label"] else None) == label
