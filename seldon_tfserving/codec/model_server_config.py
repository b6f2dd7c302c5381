"""TF Serving's ModelServerConfig text (`--model_config_file`), parsed as the server parses it.

One reading for everyone who looks at such a file: the validator (a ConfigMap in a manifest),
the local runner (the file it is about to serve) and our backend (the file it serves). Pure:
text in, proto or a summary of its models out; only protobuf and TF Serving's own protos.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2


class ModelServerConfigError(ValueError):
    """The text is not a ModelServerConfig text proto (the message is the parser's)."""


def parse_model_server_config(text: str) -> model_server_config_pb2.ModelServerConfig:
    """The proto TF Serving builds from a `--model_config_file` text."""
    config = model_server_config_pb2.ModelServerConfig()
    try:
        text_format.Parse(text, config)
    except text_format.ParseError as error:
        raise ModelServerConfigError(str(error)) from None
    return config


@dataclass(frozen=True)
class ConfiguredModel:
    """One `config { ... }` entry of a model_config_list, as far as clients can see it."""

    name: str
    base_path: str
    #: version label -> version
    labels: Mapping[str, int]
    #: the versions a `specific` version policy loads; None for `latest` and `all`
    pinned_versions: frozenset[int] | None


def configured_models(
    config: model_server_config_pb2.ModelServerConfig,
) -> tuple[ConfiguredModel, ...]:
    """Every model of the config's model_config_list, in the file's order."""
    models = []
    for entry in config.model_config_list.config:
        policy = entry.model_version_policy
        pinned = (
            frozenset(policy.specific.versions)
            if policy.WhichOneof("policy_choice") == "specific"
            else None
        )
        labels = dict(entry.version_labels)
        models.append(ConfiguredModel(entry.name, entry.base_path, labels, pinned))
    return tuple(models)
