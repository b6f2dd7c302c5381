"""tensorflow_model_server's command line, read word by word as the binary itself reads it.

The rule, from TensorFlow's command-line flag parser (tensorflow/core/util/command_line_flags,
now in tsl) and TF Serving's model_servers/main.cc, release 2.20:

* The binary knows a fixed list of flags, each of one type (FLAG_KINDS below).
* A word sets a flag only as `--NAME=VALUE`, all in one word: two dashes, the exact name, `=`,
  the value (a string flag may be empty). There is no `--NAME VALUE` form and no single dash.
* A boolean flag may also stand bare, `--NAME`, meaning true; after `=` it takes `true` or
  `false` in any letter case, `1` or `0`.
* A value its type does not take (`--port=85OO`, `--enable_batching=yes`) makes the binary
  print its usage and exit without serving.
* A flag given twice is applied twice, in order: the last word wins.
* Every other word (an unknown flag, a value in a word of its own, a stray word, a single-dash
  word, a bare `--` and all words after it) is no error to the binary: it prints
  `unknown argument: WORD` for the first one and starts as if they were not there.
  `--help` as that first word makes it print its usage and exit instead.
* `--version` makes it print its version and exit.

We refuse every word the binary would ignore: it never does what its author meant
(`--port 9000` leaves gRPC on 8500), and a pod that silently serves elsewhere is worse than a
clear refusal. Integers are taken as an optional sign and decimal digits within the type's
range, which every release of the parser takes (releases differ on blanks around them).

Past the parse, `start_up_findings` names what the server (model_servers/server.cc) then
refuses from the flags alone: neither a gRPC port nor a socket, neither a model config file
nor a base path, a port it cannot listen on; and a REST port equal to the gRPC one, which it
answers by serving no REST API at all.
"""

from __future__ import annotations

import difflib
import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from seldon_tfserving.deploy.findings import Finding

MODEL_SERVER_BINARY = "tensorflow_model_server"
#: The binary's own defaults: gRPC on 8500, REST off (0).
DEFAULT_GRPC_PORT = 8500

_INT32 = (
    "port rest_api_port rest_api_num_threads rest_api_timeout_in_ms "
    "model_config_file_poll_wait_seconds num_load_threads num_unload_threads "
    "max_num_load_retries file_system_poll_wait_seconds grpc_max_threads "
    "num_request_iterations_for_warmup num_tflite_pools num_tflite_interpreters_per_pool"
)
_INT64 = (
    "load_retry_interval_micros tensorflow_session_parallelism "
    "tensorflow_intra_op_parallelism tensorflow_inter_op_parallelism"
)
_FLOAT = "per_process_gpu_memory_fraction"
_BOOL = (
    "rest_api_enable_cors_support enable_batching allow_version_labels_for_unavailable_models "
    "enable_per_model_batching_parameters flush_filesystem_caches use_alts_credentials "
    "enable_model_warmup version remove_unused_fields_from_bundle_metagraph "
    "prefer_tflite_model enable_signature_method_name_check xla_cpu_compilation_enabled "
    "xla_gpu_compilation_enabled enable_profiler skip_initialize_tpu "
    "enable_grpc_healthcheck_service enable_serialization_as_tensor_content"
)
_STRING = (
    "grpc_socket_path batching_parameters_file model_config_file model_name model_base_path "
    "tensorflow_session_config_file ssl_config_file platform_config_file saved_model_tags "
    "grpc_channel_arguments monitoring_config_file thread_pool_factory_config_file "
    "mixed_precision"
)
#: Every flag tensorflow_model_server 2.20 declares, and its type.
FLAG_KINDS: dict[str, str] = {
    name: kind
    for kind, names in (
        ("int32", _INT32),
        ("int64", _INT64),
        ("float", _FLOAT),
        ("bool", _BOOL),
        ("string", _STRING),
    )
    for name in names.split()
}
_INT_RANGE = {"int32": 2**31, "int64": 2**63}
_INTEGER = re.compile(r"[+-]?[0-9]+")
_FLOAT_TEXT = re.compile(
    r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?|[+-]?(inf|infinity|nan)"
)
_TRUE, _FALSE = ("true", "1"), ("false", "0")
_TAKES = {
    "int32": "a whole number (int32)",
    "int64": "a whole number (int64)",
    "float": "a decimal number",
    "bool": "true, false, 1 or 0",
}


@dataclass(frozen=True)
class Word:
    """One word of the server's command line and where the manifest holds it."""

    text: str
    path: str


@dataclass
class ParsedFlags:
    """The flags the binary applies (name -> value; None for a bare boolean), last one last."""

    values: dict[str, str | None] = field(default_factory=dict)
    #: flag -> the manifest path of the word that set it last
    paths: dict[str, str] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)


def start_up_findings(
    values: Mapping[str, str | None], paths: Mapping[str, str], default_path: str
) -> list[Finding]:
    """What stops the server at start, or leaves it without REST, from its flags alone."""
    where = {flag: paths.get(flag, default_path) for flag in ("port", "rest_api_port", "version")}
    grpc = int(values.get("port") or DEFAULT_GRPC_PORT)
    rest = int(values.get("rest_api_port") or 0)
    findings = [
        Finding(
            where[flag],
            f"--{flag}={port} is not a TCP port; TF Serving cannot listen on it",
            "use a port from 1 to 65535",
        )
        for flag, port in (("port", grpc), ("rest_api_port", rest))
        if not 0 <= port <= 65535
    ]
    if grpc == 0 and not values.get("grpc_socket_path"):
        message = "--port=0 turns gRPC off and no --grpc_socket_path is set; TF Serving "
        message += "refuses to start with neither"
        findings.append(Finding(where["port"], message, f"set --port ({DEFAULT_GRPC_PORT})"))
    if rest and rest == grpc:
        message = f"--rest_api_port is --port ({grpc}); TF Serving then skips its REST API"
        findings.append(Finding(where["rest_api_port"], message, "give REST a port of its own"))
    if "version" in values and bool_value(values["version"]):
        message = f"--version makes {MODEL_SERVER_BINARY} print its version and exit, not serve"
        findings.append(Finding(where["version"], message, "remove --version"))
    if not values.get("model_config_file") and not values.get("model_base_path"):
        message = "TF Serving needs --model_config_file or --model_base_path (it refuses to "
        message += "start with neither)"
        fix = "add --model_name=NAME --model_base_path=/models/NAME"
        findings.append(Finding(default_path, message, fix))
    return findings


def bool_value(value: str | None) -> bool:
    """A boolean flag's value as the binary takes it (None: the bare flag, true)."""
    return value is None or value.lower() in _TRUE


def valid_value(kind: str, value: str) -> bool:
    """True when a flag of this type takes `value` (the text after `=`)."""
    if kind in _INT_RANGE:
        limit = _INT_RANGE[kind]
        return _INTEGER.fullmatch(value) is not None and -limit <= int(value) < limit
    if kind == "float":
        return _FLOAT_TEXT.fullmatch(value.lower()) is not None
    if kind == "bool":
        return value.lower() in _TRUE + _FALSE
    return True


def parse_flags(words: Sequence[Word]) -> ParsedFlags:
    """Apply `words` in order as tensorflow_model_server does; refuse what it would ignore."""
    parsed = ParsedFlags()
    ignored: list[int] = []
    for index, word in enumerate(words):
        if word.text == "--":
            ignored.extend(range(index, len(words)))
            break
        name, sep, value = word.text[2:].partition("=")
        kind = FLAG_KINDS.get(name) if word.text.startswith("--") else None
        if kind is None or (not sep and kind != "bool"):
            ignored.append(index)
            continue
        if sep and not valid_value(kind, value):
            parsed.findings.append(
                Finding(
                    word.path,
                    f"--{name}={value}: {MODEL_SERVER_BINARY} takes {_TAKES[kind]} here, and "
                    f"refuses to start (it prints its usage and exits)",
                    f"give --{name} {_TAKES[kind]}",
                )
            )
            continue
        parsed.values.pop(name, None)
        parsed.values[name] = value if sep else None
        parsed.paths[name] = word.path
    parsed.findings += _ignored_findings(words, ignored, parsed.values)
    return parsed


def _ignored_findings(
    words: Sequence[Word], ignored: list[int], values: dict[str, str | None]
) -> list[Finding]:
    """One finding per word (or flag and value pair) the binary would skip."""
    findings: list[Finding] = []
    skip: set[int] = set()
    for index in ignored:
        if index in skip:
            continue
        word = words[index].text
        path = words[index].path
        name = word[2:].partition("=")[0]
        following = words[index + 1].text if index + 1 < len(words) else None
        if word == "--":
            findings.append(
                Finding(
                    path,
                    f"{MODEL_SERVER_BINARY} ignores '--' and every word after it",
                    "remove '--' and pass each flag as --flag=value",
                )
            )
            break
        if word == "--help" and index == ignored[0]:
            message = f"--help makes {MODEL_SERVER_BINARY} print its usage and exit, not serve"
            findings.append(Finding(path, message, "remove --help"))
        elif word.startswith("--") and name in FLAG_KINDS:
            if following is not None and not following.startswith("-") and index + 1 in ignored:
                skip.add(index + 1)
                kept = values.get(name)
                stays = f"stays {kept}" if kept is not None else "stays at its default"
                findings.append(
                    Finding(
                        path,
                        f"{MODEL_SERVER_BINARY} ignores {word!r} {following!r}: a flag takes its "
                        f"value after '=' in the same word, so --{name} {stays}",
                        f"write --{name}={following} as one word",
                    )
                )
            else:
                findings.append(
                    Finding(
                        path,
                        f"{MODEL_SERVER_BINARY} ignores {word!r}: --{name} takes its value "
                        f"after '='",
                        f"write --{name}=VALUE",
                    )
                )
        elif word.startswith("--"):
            close = difflib.get_close_matches(name, FLAG_KINDS, n=1)
            hint = f"did you mean --{close[0]}?" if close else "remove it"
            findings.append(
                Finding(
                    path,
                    f"{MODEL_SERVER_BINARY} has no flag --{name}; it ignores {word!r} and "
                    f"starts without it",
                    f"{hint} (its flags: `{MODEL_SERVER_BINARY} --help`)",
                )
            )
        elif word.startswith("-"):
            findings.append(
                Finding(
                    path,
                    f"{MODEL_SERVER_BINARY} ignores {word!r}: its flags start with two dashes",
                    f"write -{word}",
                )
            )
        elif posixpath.basename(word) == MODEL_SERVER_BINARY:
            findings.append(
                Finding(
                    path,
                    f"{MODEL_SERVER_BINARY} ignores the word {word!r}: the image's entrypoint "
                    f"already runs {MODEL_SERVER_BINARY}, and gives it these args as flags",
                    f"drop it from args, or make it the command ({MODEL_SERVER_BINARY} "
                    f"without the image's default flags)",
                )
            )
        else:
            findings.append(
                Finding(
                    path,
                    f"{MODEL_SERVER_BINARY} ignores the stray word {word!r}",
                    "remove it, or join it to its flag as --flag=value",
                )
            )
    return findings
