"""A TF Serving container of a pod, read as the flags `tensorflow_model_server` would get.

The `tensorflow/serving` image runs an entrypoint that prepends `--port=8500
--rest_api_port=8501 --model_name=$MODEL_NAME --model_base_path=$MODEL_BASE_PATH/$MODEL_NAME`
to the container's args; a container may also call the binary itself. Both forms become one
ordered flag table here (later flags win, as in TF Serving), so the runner can move the ports
and the paths and hand the same flags to the real binary or to our `serve-models`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from seldon_tfserving.runner.errors import PlanError

MODEL_SERVER_BINARY = "tensorflow_model_server"
IMAGE_ENTRYPOINT = "tf_serving_entrypoint.sh"
#: TF Serving's own defaults: gRPC on 8500; REST off unless a port is given.
DEFAULT_GRPC_PORT = 8500
DEFAULT_MODEL_NAME = "default"
#: What the image's entrypoint sets when the container gives no command.
IMAGE_DEFAULT_ENV = {"MODEL_NAME": "model", "MODEL_BASE_PATH": "/models"}

_MODEL_NAME_IN_CONFIG = re.compile(r'\bname\s*:\s*"([^"]*)"')


def is_tfserving_container(container: Mapping[str, Any]) -> bool:
    """A TF Serving image, or a container that runs the model server binary itself."""
    image = str(container.get("image", ""))
    if "tensorflow/serving" in image:
        return True
    words = [*(container.get("command") or ()), *(container.get("args") or ())[:1]]
    return any(PurePosixPath(str(w)).name == MODEL_SERVER_BINARY for w in words[:1])


def _literal_env(container: Mapping[str, Any]) -> dict[str, str]:
    return {
        str(e["name"]): str(e["value"])
        for e in container.get("env") or ()
        if "name" in e and "value" in e
    }


def _raw_flag_words(container: Mapping[str, Any]) -> list[str]:
    """The words after the binary, as the image's entrypoint (or a command) builds them."""
    name = container.get("name")
    command = [str(w) for w in container.get("command") or ()]
    args = [str(w) for w in container.get("args") or ()]
    if command:
        program = PurePosixPath(command[0]).name
        if program == MODEL_SERVER_BINARY:
            return command[1:] + args
        if program != IMAGE_ENTRYPOINT:
            raise PlanError(
                f"TF Serving container {name!r} runs {command[0]!r}; the local runner only "
                f"runs {MODEL_SERVER_BINARY} (or the image's entrypoint) with flags"
            )
        return _entrypoint_words(container) + command[1:] + args
    if args and PurePosixPath(args[0]).name == MODEL_SERVER_BINARY:
        return args[1:]
    return _entrypoint_words(container) + args


def _entrypoint_words(container: Mapping[str, Any]) -> list[str]:
    env = {**IMAGE_DEFAULT_ENV, **_literal_env(container)}
    return [
        f"--port={DEFAULT_GRPC_PORT}",
        "--rest_api_port=8501",
        f"--model_name={env['MODEL_NAME']}",
        f"--model_base_path={env['MODEL_BASE_PATH']}/{env['MODEL_NAME']}",
    ]


def parse_flags(words: list[str], container_name: str) -> dict[str, str | None]:
    """`--name=value` words -> ordered {name: value}; a bare `--name` is a boolean (None)."""
    flags: dict[str, str | None] = {}
    for word in words:
        if not word.startswith("-"):
            raise PlanError(
                f"TF Serving container {container_name!r}: unexpected argument {word!r} "
                f"({MODEL_SERVER_BINARY} takes --flag=value)"
            )
        name, sep, value = word.lstrip("-").partition("=")
        flags.pop(name, None)
        flags[name] = value if sep else None
    return flags


@dataclass(frozen=True)
class TfServingFlags:
    """The effective flags of one TF Serving container, before any local rewriting."""

    container: str
    flags: Mapping[str, str | None]

    @property
    def grpc_port(self) -> int:
        return int(self.flags.get("port") or DEFAULT_GRPC_PORT)

    @property
    def rest_port(self) -> int:
        """0 when the REST API is off (TF Serving's default)."""
        return int(self.flags.get("rest_api_port") or 0)

    @property
    def model_config_file(self) -> str | None:
        return self.flags.get("model_config_file")

    def argv_words(self) -> list[str]:
        return [f"--{k}" if v is None else f"--{k}={v}" for k, v in self.flags.items()]


def read_tfserving_flags(container: Mapping[str, Any]) -> TfServingFlags:
    """The flags TF Serving would run with; with a model config file, the single-model flags
    are dropped because TF Serving ignores them then."""
    name = str(container.get("name", ""))
    flags = parse_flags(_raw_flag_words(container), name)
    if flags.get("model_config_file"):
        flags.pop("model_name", None)
        flags.pop("model_base_path", None)
    for port_flag in ("port", "rest_api_port"):
        value = flags.get(port_flag)
        if value is not None and not value.isdigit():
            raise PlanError(f"TF Serving container {name!r}: --{port_flag}={value} is not a port")
    base = flags.get("model_base_path")
    if base and "://" in base:
        raise PlanError(
            f"TF Serving container {name!r} loads {base!r}; locally models must be in a folder: "
            f"mount a volume and map it with --volume NAME=DIR"
        )
    return TfServingFlags(name, flags)


def model_names(flags: Mapping[str, str | None], config_text: str | None) -> tuple[str, ...]:
    """The model names a backend serves: from its model config text, or `--model_name`."""
    if flags.get("model_config_file"):
        if config_text is None:
            return ()
        return tuple(dict.fromkeys(_MODEL_NAME_IN_CONFIG.findall(config_text)))
    return (flags.get("model_name") or DEFAULT_MODEL_NAME,)


def read_config_text(path: str, written: Mapping[Path, str]) -> str | None:
    """A model config file's text: one the runner is about to write, else the one on disk."""
    local = Path(path)
    if local in written:
        return written[local]
    try:
        return local.read_text()
    except OSError:
        return None
