"""Which versions are served: ModelServerConfig text protos and version policies, as TF Serving
reads them; and the serve-models flags as tensorflow_model_server spells them."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from seldon_tfserving.backend import command
from seldon_tfserving.backend.config import (
    available_versions,
    read_model_config_file,
    resolve_sources,
    single_model_config,
)
from seldon_tfserving.errors import ConfigurationError


@pytest.fixture
def base(tmp_path: Path) -> Path:
    """A base path with versions 1, 00000007 and 12, plus things that are not versions."""
    for name in ("1", "00000007", "12", "tmp", "3.bak"):
        (tmp_path / "model" / name).mkdir(parents=True)
    (tmp_path / "model" / "5").write_text("a file, not a version")
    return tmp_path / "model"


def config_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "models.config"
    path.write_text(f"model_config_list {{ config {{ {body} }} }}")
    return path


def test_versions_are_numeric_subdirectories_keeping_their_spelling(base: Path) -> None:
    assert available_versions(base) == {1: base / "1", 7: base / "00000007", 12: base / "12"}
    assert available_versions(base / "missing") == {}


def test_latest_version_by_default(base: Path) -> None:
    (source,) = resolve_sources(single_model_config("m", str(base)))
    assert source.name == "m"
    assert source.versions == (12,)


@pytest.mark.parametrize(
    ("policy", "versions"),
    [
        ("latest { num_versions: 2 }", (7, 12)),
        ("latest { num_versions: 9 }", (1, 7, 12)),
        ("all {}", (1, 7, 12)),
        ("specific { versions: 7 versions: 1 }", (1, 7)),
        ("specific { versions: 7 versions: 99 }", (7,)),
    ],
)
def test_version_policies(tmp_path: Path, base: Path, policy: str, versions: tuple[int]) -> None:
    path = config_file(
        tmp_path, f'name: "m" base_path: "{base}" model_version_policy {{ {policy} }}'
    )
    (source,) = resolve_sources(read_model_config_file(path))
    assert source.versions == versions
    assert source.version_dirs[7 if 7 in versions else versions[0]].is_dir()


def test_labels_and_file_scheme(tmp_path: Path, base: Path) -> None:
    path = config_file(
        tmp_path,
        f'name: "m" base_path: "file://{base}" model_platform: "tensorflow" '
        'model_version_policy { all {} } version_labels { key: "stable" value: 7 }',
    )
    (source,) = resolve_sources(read_model_config_file(path))
    assert source.labels == {"stable": 7}
    assert source.base_path == base


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ('name: "m" base_path: "%s" version_labels { key: "x" value: 1 }', "label 'x'"),
        ('name: "m" base_path: "%s" model_platform: "pytorch"', "platform"),
        ('base_path: "%s"', "no name"),
    ],
)
def test_configuration_errors_name_the_problem(
    tmp_path: Path, base: Path, body: str, problem: str
) -> None:
    path = config_file(tmp_path, body % base)
    with pytest.raises(ConfigurationError, match=problem):
        resolve_sources(read_model_config_file(path))


def test_a_model_listed_twice_and_unreadable_files_are_refused(tmp_path: Path, base: Path) -> None:
    path = tmp_path / "twice.config"
    path.write_text(
        f'model_config_list {{ config {{ name: "m" base_path: "{base}" }} '
        f'config {{ name: "m" base_path: "{base}" }} }}'
    )
    with pytest.raises(ConfigurationError, match="listed twice"):
        resolve_sources(read_model_config_file(path))
    with pytest.raises(ConfigurationError, match="cannot read"):
        read_model_config_file(tmp_path / "absent.config")
    (tmp_path / "bad.config").write_text("model_config_list { nonsense: 1 }")
    with pytest.raises(ConfigurationError, match="text proto"):
        read_model_config_file(tmp_path / "bad.config")


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    command.configure(parser)
    return parser.parse_args(list(argv))


def test_flags_take_the_binary_form_and_the_two_word_form_is_refused() -> None:
    # tensorflow_model_server skips `--port 9000` (unknown argument) and serves on 8500;
    # serve-models refuses it instead (test_flags.py has the messages)
    for two_words in (["--port", "9000"], ["--model_base_path", "/x"]):
        with pytest.raises(SystemExit):
            parse(*two_words)
    args = parse(
        "--port=9000",
        "--rest_api_port=9001",
        "--model_name=m",
        "--model_base_path=/x",
        "--rest_api_timeout_in_ms=250",
    )
    assert (args.port, args.rest_api_port, args.model_name, args.model_base_path) == (
        9000,
        9001,
        "m",
        "/x",
    )
    assert args.rest_api_timeout_in_ms == 250
    assert args.max_request_bytes == command.DEFAULT_MAX_REQUEST_BYTES
    assert args.bind_address == "127.0.0.1"


def test_harmless_real_flags_are_accepted() -> None:
    args = parse(
        "--enable_batching",
        "--enable_model_warmup=false",
        "--file_system_poll_wait_seconds=5",
        "--rest_api_num_threads=8",
        "--batching_parameters_file=/b.txt",
        "--tensorflow_session_parallelism=2",
        "--grpc_max_threads=4",
    )
    assert args.enable_batching is True  # honoured: see test_batching.py
    assert args.enable_model_warmup is False  # honoured: see test_warmup.py
    assert args.grpc_max_threads == 4
    assert args.rest_api_num_threads == 8  # honoured: see test_http_connection.py
    assert args.tensorflow_session_parallelism == 2  # honoured: see test_flags.py
    assert parse().enable_model_warmup is True  # on unless turned off, as in TF Serving


def test_unknown_and_negative_flags_are_refused() -> None:
    with pytest.raises(SystemExit):
        parse("--no_such_flag=1")
    with pytest.raises(SystemExit):
        parse("--port=-1")
