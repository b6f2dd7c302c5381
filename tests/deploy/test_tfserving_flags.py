"""tensorflow_model_server's command line, word by word, as its flag parser reads it.

Each case is one rule of TensorFlow's command-line flag parser and TF Serving's main.cc: what
sets a flag, what makes the binary refuse to start, and what it would skip (which we refuse).
"""

from __future__ import annotations

import pytest

from seldon_tfserving.deploy.tfserving_flags import (
    FLAG_KINDS,
    Word,
    bool_value,
    parse_flags,
    start_up_findings,
    valid_value,
)


def words(*texts: str) -> list[Word]:
    return [Word(text, f"args[{index}]") for index, text in enumerate(texts)]


def test_a_flag_is_name_equals_value_in_one_word() -> None:
    parsed = parse_flags(words("--port=9000", "--model_name=iris", "--model_base_path="))
    assert parsed.values == {"port": "9000", "model_name": "iris", "model_base_path": ""}
    assert parsed.paths == {
        "port": "args[0]",
        "model_name": "args[1]",
        "model_base_path": "args[2]",
    }
    assert parsed.findings == []


def test_the_last_of_a_repeated_flag_wins() -> None:
    parsed = parse_flags(words("--model_name=a", "--port=1", "--model_name=b"))
    assert parsed.values == {"port": "1", "model_name": "b"}
    assert parsed.paths["model_name"] == "args[2]"
    assert list(parsed.values) == ["port", "model_name"]  # in the order last applied


@pytest.mark.parametrize(
    ("word", "value", "effective"),
    [
        ("--enable_batching", None, True),
        ("--enable_batching=true", "true", True),
        ("--enable_batching=TRUE", "TRUE", True),
        ("--enable_batching=1", "1", True),
        ("--enable_batching=False", "False", False),
        ("--enable_batching=0", "0", False),
    ],
)
def test_booleans_stand_bare_or_take_true_false_1_0(
    word: str, value: str | None, effective: bool
) -> None:
    parsed = parse_flags(words(word))
    assert parsed.findings == []
    assert parsed.values == {"enable_batching": value}
    assert bool_value(parsed.values["enable_batching"]) is effective


@pytest.mark.parametrize(
    ("word", "takes"),
    [
        ("--port=85OO", "a whole number (int32)"),
        ("--port=", "a whole number (int32)"),
        ("--port=8500 ", "a whole number (int32)"),
        ("--port=2147483648", "a whole number (int32)"),
        ("--tensorflow_session_parallelism=1.5", "a whole number (int64)"),
        ("--per_process_gpu_memory_fraction=half", "a decimal number"),
        ("--enable_batching=yes", "true, false, 1 or 0"),
    ],
)
def test_a_value_its_type_does_not_take_stops_the_binary(word: str, takes: str) -> None:
    parsed = parse_flags(words(word))
    name, _, value = word[2:].partition("=")
    assert name not in parsed.values
    (finding,) = parsed.findings
    assert finding.path == "args[0]"
    assert finding.message == (
        f"--{name}={value}: tensorflow_model_server takes {takes} here, and refuses to start "
        f"(it prints its usage and exits)"
    )


@pytest.mark.parametrize(
    ("kind", "value", "takes"),
    [
        ("int32", "-1", True),
        ("int32", "+8500", True),
        ("int32", "2147483647", True),
        ("int32", "0x10", False),
        ("int64", "9223372036854775807", True),
        ("float", "0.5", True),
        ("float", "1e-3", True),
        ("float", ".5", True),
        ("float", "1,5", False),
        ("string", "", True),
    ],
)
def test_values_of_each_type(kind: str, value: str, takes: bool) -> None:
    assert valid_value(kind, value) is takes


def test_a_value_in_its_own_word_is_ignored_and_the_flag_keeps_its_value() -> None:
    parsed = parse_flags(words("--port=8500", "--port", "9000"))
    assert parsed.values == {"port": "8500"}
    (finding,) = parsed.findings
    assert finding.path == "args[1]"
    assert finding.message == (
        "tensorflow_model_server ignores '--port' '9000': a flag takes its value after '=' in "
        "the same word, so --port stays 8500"
    )
    assert finding.fix == "write --port=9000 as one word"


def test_a_value_in_its_own_word_without_an_earlier_value_stays_at_the_default() -> None:
    (finding,) = parse_flags(words("--model_name", "iris")).findings
    assert finding.message.endswith("so --model_name stays at its default")


def test_a_string_flag_without_a_value_is_ignored() -> None:
    (finding,) = parse_flags(words("--model_name")).findings
    assert "ignores '--model_name': --model_name takes its value after '='" in finding.message


@pytest.mark.parametrize(
    ("word", "says", "fix"),
    [
        ("--rest_api_prot=8501", "has no flag --rest_api_prot", "did you mean --rest_api_port?"),
        ("-port=8500", "ignores '-port=8500': its flags start with two dashes", "--port=8500"),
        ("8500", "ignores the stray word '8500'", "join it to its flag"),
        (
            "tensorflow_model_server",
            "the image's entrypoint already runs tensorflow_model_server",
            "drop it from args",
        ),
        ("--help", "--help makes tensorflow_model_server print its usage and exit", "remove"),
    ],
)
def test_words_the_binary_skips_are_refused_by_name(word: str, says: str, fix: str) -> None:
    parsed = parse_flags(words(word, "--port=1"))
    assert parsed.values == {"port": "1"}
    (finding,) = parsed.findings
    assert finding.path == "args[0]"
    assert says in finding.message
    assert fix in finding.fix


def test_a_bare_double_dash_hides_every_later_word() -> None:
    parsed = parse_flags(words("--port=1", "--", "--rest_api_port=2"))
    assert parsed.values == {"port": "1"}
    (finding,) = parsed.findings
    assert finding.path == "args[1]"
    assert "ignores '--' and every word after it" in finding.message


def test_the_flag_table_is_tf_serving_2_20s() -> None:
    assert len(FLAG_KINDS) == 48
    assert FLAG_KINDS["port"] == "int32" and FLAG_KINDS["model_config_file"] == "string"
    assert FLAG_KINDS["load_retry_interval_micros"] == "int64"
    assert FLAG_KINDS["enable_model_warmup"] == "bool"
    assert FLAG_KINDS["per_process_gpu_memory_fraction"] == "float"


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        ({"port": "70000", "model_base_path": "/m"}, "--port=70000 is not a TCP port"),
        ({"port": "0", "model_base_path": "/m"}, "--port=0 turns gRPC off"),
        (
            {"port": "8500", "rest_api_port": "8500", "model_base_path": "/m"},
            "--rest_api_port is --port (8500); TF Serving then skips its REST API",
        ),
        ({"version": None, "model_base_path": "/m"}, "--version makes tensorflow_model_server"),
        ({"model_name": "m"}, "TF Serving needs --model_config_file or --model_base_path"),
    ],
)
def test_what_makes_the_server_exit_at_start(flags: dict[str, str | None], says: str) -> None:
    (finding,) = start_up_findings(flags, {}, "args")
    assert says in finding.message
    assert finding.path == "args"


def test_a_grpc_socket_may_stand_in_for_the_port() -> None:
    flags: dict[str, str | None] = {"port": "0", "grpc_socket_path": "/s", "model_base_path": "/m"}
    assert start_up_findings(flags, {}, "args") == []
