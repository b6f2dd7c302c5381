"""What serve-models does with each of tensorflow_model_server's flags, and the binary's rule for
reading a command line.

The binary (TensorFlow's flag parser, TF Serving 2.20's model_servers/main.cc) takes a flag
only as `--NAME=VALUE` in one word, or a boolean bare as `--NAME`; every other word (`--port
9000`, a misspelt flag, a single dash) it skips, printing `unknown argument`, and it serves on
without it. serve-models refuses those words instead: a server that silently listens elsewhere
than asked is worse than one that does not start.

Every flag of the binary is either honoured (command.py), without effect on what we serve
(said at start), or refused with its name when given a value that asks for what we do not do.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

#: Flags whose value changes nothing here, and why (each named in the start-up log).
NO_EFFECT_FLAGS: Mapping[str, str] = {
    "flush_filesystem_caches": "a local file system has no caches to flush",
    "remove_unused_fields_from_bundle_metagraph": "only signatures are kept in memory",
    "skip_initialize_tpu": "there is no TPU to initialise",
    "num_tflite_pools": "TensorFlow Lite models are not served",
    "num_tflite_interpreters_per_pool": "TensorFlow Lite models are not served",
}


@dataclass(frozen=True)
class RefusedFlag:
    """A flag we do not implement: refused unless given the value that means what we do."""

    reason: str
    #: the values that ask for nothing we lack (lower case); None: any value is refused
    harmless: frozenset[str] | None = None
    boolean: bool = False


_INT = re.compile(r"\s*[+-]?[0-9]+\s*")
_FALSE = frozenset({"false", "0"})
_EMPTY = frozenset({""})
_ZERO = frozenset({"0"})

#: tensorflow_model_server 2.20's flags that serve-models does not implement.
REFUSED_FLAGS: Mapping[str, RefusedFlag] = {
    "ssl_config_file": RefusedFlag("TLS is not implemented (gRPC would be plaintext)", _EMPTY),
    "use_alts_credentials": RefusedFlag("ALTS is not implemented", _FALSE, boolean=True),
    "platform_config_file": RefusedFlag("only the TensorFlow platform is served", _EMPTY),
    "rest_api_enable_cors_support": RefusedFlag(
        "CORS headers are not implemented", _FALSE, boolean=True
    ),
    "num_load_threads": RefusedFlag("versions load one at a time", _ZERO),
    "num_unload_threads": RefusedFlag("versions unload one at a time", _ZERO),
    "num_request_iterations_for_warmup": RefusedFlag("each warm-up record is replayed once", _ZERO),
    "enable_per_model_batching_parameters": RefusedFlag(
        "one --batching_parameters_file applies to every model", _FALSE, boolean=True
    ),
    "enable_signature_method_name_check": RefusedFlag(
        "classify and regress always check their signature's method_name (as with true); "
        "predict never does",
        None,
        boolean=True,
    ),
    "xla_cpu_compilation_enabled": RefusedFlag("XLA JIT is not enabled", _FALSE, boolean=True),
    "xla_gpu_compilation_enabled": RefusedFlag("XLA JIT is not enabled", _FALSE, boolean=True),
    "prefer_tflite_model": RefusedFlag(
        "TensorFlow Lite models are not served", _FALSE, boolean=True
    ),
    "enable_profiler": RefusedFlag("there is no profiler service", _FALSE, boolean=True),
    "enable_grpc_healthcheck_service": RefusedFlag(
        "there is no gRPC health service", _FALSE, boolean=True
    ),
    "enable_serialization_as_tensor_content": RefusedFlag(
        "Predict answers tensors in their typed fields", _FALSE, boolean=True
    ),
    "thread_pool_factory_config_file": RefusedFlag("thread pools are not configurable", _EMPTY),
    "mixed_precision": RefusedFlag("mixed precision is not implemented", _EMPTY),
    "version": RefusedFlag("serve-models has no version of TF Serving's to print", _FALSE, True),
}

#: The boolean flags among the honoured ones (a bare `--NAME` means true).
HONOURED_BOOL_FLAGS = frozenset(
    {"enable_batching", "allow_version_labels_for_unavailable_models", "enable_model_warmup"}
)


#: The boolean flags among those without effect.
_NO_EFFECT_BOOL_FLAGS = frozenset(
    {"flush_filesystem_caches", "remove_unused_fields_from_bundle_metagraph", "skip_initialize_tpu"}
)


def is_boolean(name: str) -> bool:
    """A boolean flag of the binary (a bare `--NAME` means true)."""
    refused = REFUSED_FLAGS.get(name)
    return (
        name in HONOURED_BOOL_FLAGS
        or name in _NO_EFFECT_BOOL_FLAGS
        or (refused is not None and refused.boolean)
    )


def word_problems(words: Sequence[str], known: set[str]) -> list[str]:
    """Why each word that tensorflow_model_server would skip is refused (empty: none)."""
    problems: list[str] = []
    skip = False
    for index, word in enumerate(words):
        if skip or word in ("-h", "--help"):
            skip = False
            continue
        name, equals, _ = word[2:].partition("=")
        if not word.startswith("--") or not name:
            problems.append(
                f"{word!r} is not a flag; tensorflow_model_server would skip it as an unknown "
                "argument (flags are --name=value, in one word)"
            )
        elif name not in known:
            problems.append(
                f"tensorflow_model_server has no flag --{name} (it would skip {word!r})"
            )
        elif not equals and not is_boolean(name):
            following = words[index + 1] if index + 1 < len(words) else None
            skip = following is not None and not following.startswith("-")
            skipped = f"{word!r} {following!r}" if skip else repr(word)
            problems.append(
                f"--{name} takes its value after '=' in the same word (--{name}=VALUE); "
                f"tensorflow_model_server would skip {skipped}"
            )
    return problems


def refusals(given: Mapping[str, str | None]) -> list[str]:
    """Why each flag given a value we do not implement is refused (empty: none)."""
    out: list[str] = []
    for name, value in given.items():
        rule = REFUSED_FLAGS.get(name)
        if rule is None or value is None:
            continue
        if rule.harmless is None or value.lower() not in rule.harmless:
            out.append(f"--{name}={value} is not supported by serve-models: {rule.reason}")
    return out


def grpc_channel_arguments(text: str) -> tuple[tuple[str, int | str], ...]:
    """--grpc_channel_arguments as TF Serving passes them to gRPC: `key=value` at commas,
    each value an int when it reads as an int32, else a string. ValueError for an element
    without `=` (the binary would crash on it)."""
    if not text:
        return ()
    arguments: list[tuple[str, int | str]] = []
    for element in text.split(","):
        key, equals, value = element.partition("=")
        if not equals or not key:
            raise ValueError(f"{element!r} is not key=value")
        value = value.split("=", 1)[0]
        number = int(value) if _INT.fullmatch(value) else None
        if number is not None and -(2**31) <= number < 2**31:
            arguments.append((key, number))
        else:
            arguments.append((key, value))
    return tuple(arguments)
