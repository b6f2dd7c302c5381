"""The `seldon-tfserving` command: a sub-command that cannot run on this installation (such as
`validate` on the Apache-2.0 stack, whose jsonschema is too old) is refused with its reason."""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest

from seldon_tfserving import cli


def test_a_sub_command_that_cannot_import_is_refused_naming_why(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real_import = importlib.import_module

    def import_module(name: str) -> ModuleType:
        if name == "seldon_tfserving.deploy.validate_command":
            raise ImportError("validating manifests needs jsonschema 4 or later")
        return real_import(name)

    monkeypatch.setattr(cli.importlib, "import_module", import_module)
    with pytest.raises(SystemExit) as refused:
        cli.main(["validate", "graphs/ab-versions.yaml"])
    assert refused.value.code == 2
    assert capsys.readouterr().err == (
        "seldon-tfserving validate cannot run here: "
        "validating manifests needs jsonschema 4 or later\n"
    )
