"""The seldon-core hosting us, read once: the releases the hooks were tested on are accepted,
others, and one lacking a piece the hooks use, are refused at start-up, naming why."""

from __future__ import annotations

from collections.abc import Iterator
from importlib import metadata

import pytest
from seldon_core import seldon_methods, wrapper

from seldon_tfserving.microservice import seldon_version
from seldon_tfserving.microservice.component import SeldonComponent
from seldon_tfserving.microservice.seldon_version import (
    UnsupportedSeldonCore,
    check_release,
    hosting_release,
    missing_pieces,
    release_of,
)
from seldon_tfserving.parameters import ConfigurationError


@pytest.fixture(autouse=True)
def read_afresh() -> Iterator[None]:
    """Each test reads the installed release anew, and leaves the cache as it found it."""
    hosting_release.cache_clear()
    yield
    hosting_release.cache_clear()


def test_this_venvs_seldon_core_is_read_with_its_licence() -> None:
    hosting = hosting_release()
    assert hosting.version == metadata.version("seldon-core")
    assert hosting.release in ((1, 17, 1), (1, 19, 0))
    assert hosting.licence == ("Apache-2.0" if hosting.release == (1, 17, 1) else "BSL-1.1")
    assert missing_pieces() == []


@pytest.mark.parametrize(
    ("version", "release", "licence"),
    [
        ("1.17.1", (1, 17, 1), "Apache-2.0"),
        ("1.18.2", (1, 18, 2), "BSL-1.1"),
        ("1.19.0", (1, 19, 0), "BSL-1.1"),
        ("1.19.0rc1", (1, 19, 0), "BSL-1.1"),
    ],
)
def test_the_tested_releases_are_accepted(
    version: str, release: tuple[int, ...], licence: str
) -> None:
    accepted = check_release(version)
    assert accepted.release == release == release_of(version)
    assert accepted.licence == licence


@pytest.mark.parametrize("version", ["1.16.0", "1.17.0", "1.20.0", "2.8.1", "not-a-version"])
def test_other_releases_are_refused_naming_the_range(version: str) -> None:
    with pytest.raises(UnsupportedSeldonCore, match=version):
        check_release(version)
    if version[0].isdigit():
        with pytest.raises(UnsupportedSeldonCore, match=r"1\.17\.1 to 1\.19\.x"):
            check_release(version)


def test_a_release_lacking_a_hooked_piece_is_refused_at_start_up_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delattr(seldon_methods, "handle_raw_custom_metrics")
    monkeypatch.setattr(wrapper, "SeldonModelGRPC", type("SeldonModelGRPC", (), {}))
    assert "seldon_core.seldon_methods.handle_raw_custom_metrics" in missing_pieces()
    assert "seldon_core.wrapper.SeldonModelGRPC.Route" in missing_pieces()
    with pytest.raises(UnsupportedSeldonCore, match="handle_raw_custom_metrics") as refused:
        SeldonComponent()  # what every class of ours runs when Seldon builds it
    assert "SeldonModelGRPC.Predict" in str(refused.value)


def test_an_unsupported_release_is_refused_before_any_hook_is_installed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(seldon_version.metadata, "version", lambda name: "2.8.1")
    servicer, app_factory = wrapper.SeldonModelGRPC, wrapper.get_rest_microservice
    with pytest.raises(UnsupportedSeldonCore, match="seldon-core 2.8.1 is not supported"):
        SeldonComponent()
    assert (wrapper.SeldonModelGRPC, wrapper.get_rest_microservice) == (servicer, app_factory)


@pytest.fixture
def gunicorn_20(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The Apache-2.0 stack's web server (seldon-core 1.17.1 caps gunicorn below 20.2)."""
    real = seldon_version.metadata.version
    monkeypatch.setattr(
        seldon_version.metadata,
        "version",
        lambda name: "20.1.0" if name == "gunicorn" else real(name),
    )
    seldon_version.bounded_rest_port_missing.cache_clear()
    yield
    seldon_version.bounded_rest_port_missing.cache_clear()


def test_the_bounded_rest_port_is_served_by_gunicorn_27_only(gunicorn_20: None) -> None:
    assert seldon_version.bounded_rest_port_missing() == (
        "it needs gunicorn 27.0 or later, this stack has gunicorn 20.1.0"
    )


def test_its_bounds_asked_of_a_stack_that_cannot_serve_them_are_refused(
    gunicorn_20: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from seldon_tfserving.microservice import serve

    monkeypatch.setattr(serve, "_installed", [])
    monkeypatch.setenv("SELDON_TFSERVING_REST_BODY_TIMEOUT_S", "5")
    with pytest.raises(ConfigurationError, match="SELDON_TFSERVING_REST_BODY_TIMEOUT_S.*20.1.0"):
        serve.install_server_hooks()
