"""A ModelServerConfig text, parsed once for the validator, the runner and the backend."""

from __future__ import annotations

import pytest

from seldon_tfserving.codec.model_server_config import (
    ConfiguredModel,
    ModelServerConfigError,
    configured_models,
    parse_model_server_config,
)

CONFIG = """
model_config_list {
  config {
    name: "a"  base_path: "/models/a"
    model_version_policy { specific { versions: 3 versions: 1 } }
    version_labels { key: "stable" value: 1 }
  }
  config { name: "b" base_path: "/models/b" model_version_policy { all {} } }
  config { name: "c" base_path: "/models/c" }
}
"""


def test_every_model_in_the_files_order_with_labels_and_pinned_versions() -> None:
    assert configured_models(parse_model_server_config(CONFIG)) == (
        ConfiguredModel("a", "/models/a", {"stable": 1}, frozenset({1, 3})),
        ConfiguredModel("b", "/models/b", {}, None),
        ConfiguredModel("c", "/models/c", {}, None),
    )


def test_an_empty_text_is_a_config_with_no_models() -> None:
    assert configured_models(parse_model_server_config("")) == ()


@pytest.mark.parametrize(
    "text", ["model_config_list { config { nmae: 'a' } }", "model_config_list {", "{}"]
)
def test_text_that_is_not_a_model_server_config_says_where(text: str) -> None:
    with pytest.raises(ModelServerConfigError, match=r"^\d+:\d+ : "):
        parse_model_server_config(text)
