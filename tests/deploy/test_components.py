"""The registry of our classes agrees with the package, and reads each class's settings."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

import seldon_tfserving
from seldon_tfserving.deploy import components

GRAPHS = Path(__file__).resolve().parents[2] / "graphs"
#: What reading our classes' parameters must not import: the classes and what hosts them.
HEAVY_MODULES = (
    "seldon_tfserving.model",
    "seldon_tfserving.routers",
    "seldon_tfserving.combiners",
    "seldon_tfserving.microservice",
    "seldon_core",
    "tensorflow",
    "flask",
    "grpc",
    "numpy",
)

SERVICE_TYPE_OF_MODULE = {
    "seldon_tfserving.model": "MODEL",
    "seldon_tfserving.routers": "ROUTER",
    "seldon_tfserving.combiners": "COMBINER",
}


def test_every_exported_class_is_registered_with_its_service_type() -> None:
    exports = seldon_tfserving._EXPORTS
    assert set(components.COMPONENTS) == set(exports)
    for name, module in exports.items():
        assert components.COMPONENTS[name].service_type == SERVICE_TYPE_OF_MODULE[module]


@pytest.mark.parametrize("name", sorted(components.COMPONENTS))
def test_registry_reads_the_settings_the_class_itself_uses(name: str) -> None:
    component = components.COMPONENTS[name]
    cls = getattr(importlib.import_module(seldon_tfserving._EXPORTS[name]), name)
    assert component.settings_type is cls.settings_type
    assert component.interface == f"seldon_tfserving.{name}"
    assert components.component_named(component.interface) is component
    assert components.component_named(name) is component


def test_tfserving_model_parameters_are_declared_like_the_routers() -> None:
    params = components.COMPONENTS["TfServingModel"].parameters()
    assert params["model_name"].required and params["model_name"].seldon_types == ("STRING",)
    assert params["timeout_ms"].seldon_types == ("INT",)
    assert params["model_version"].seldon_types == ("INT",)  # optional: int | None
    assert set(params["ready_timeout_s"].seldon_types) == {"FLOAT", "DOUBLE", "INT"}
    assert params["transport"].choices == ("grpc", "rest")
    assert not params["grpc_endpoint"].required
    assert all(spec.doc for spec in params.values())


def test_validating_imports_none_of_the_classes_it_validates() -> None:
    """`validate` reads the declared parameters; it never pays for the classes or their hosts."""
    graphs = sorted(str(path) for path in GRAPHS.glob("*.yaml"))
    probe = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from seldon_tfserving.deploy import schema\n"
        "from seldon_tfserving.deploy.validate import validate_file\n"
        "validator = schema.builtin_validator()\n"
        f"problems = [line for f in {graphs!r} for report in validate_file(Path(f), validator)\n"
        "            for line in report.lines(False)]\n"
        f"heavy = sorted(m for m in {HEAVY_MODULES!r} if m in sys.modules)\n"
        "print(json.dumps({'problems': problems, 'heavy': heavy}))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    report = json.loads(run.stdout)
    assert len(graphs) >= 5 and report["problems"] == []
    assert report["heavy"] == []


def test_router_parameters_follow_their_declared_seldon_type() -> None:
    params = components.COMPONENTS["ABTestRouter"].parameters()
    assert set(params) == {
        "ratio_a",
        "n_children",
        "weights",
        "seed",
        "sticky_key",
        "state_path",
        "max_message_bytes",
    }
    assert params["weights"].seldon_types == ("STRING",)  # a tuple field fed by a STRING
    assert set(params["ratio_a"].seldon_types) == {"FLOAT", "DOUBLE", "INT"}


def test_building_settings_refuses_what_the_class_refuses() -> None:
    thompson = components.COMPONENTS["ThompsonSamplingRouter"]
    thompson.build_settings({"n_branches": 3, "alpha0": 1.0})
    with pytest.raises(ValueError, match="n_branches"):
        thompson.build_settings({"alpha0": 1.0})
    model = components.COMPONENTS["TfServingModel"]
    with pytest.raises(ValueError, match="grpc_endpoint"):
        model.build_settings({"model_name": "m", "grpc_endpoint": "no-port"})


@pytest.mark.parametrize(
    ("kind", "text", "value"),
    [("INT", "3", 3), ("FLOAT", "0.5", 0.5), ("DOUBLE", "2", 2.0), ("BOOL", "Yes", True),
     ("BOOL", "off", False), ("STRING", " x ", " x ")],
)  # fmt: skip
def test_parameter_values_parse_as_seldon_core_parses_them(
    kind: str, text: str, value: object
) -> None:
    from seldon_core.microservice import parse_parameters

    ours = components.parse_seldon_value(kind, text)
    assert ours == value
    assert parse_parameters([{"name": "p", "type": kind, "value": text}]) == {"p": value}


@pytest.mark.parametrize(("kind", "text"), [("INT", "1.5"), ("FLOAT", "half"), ("BOOL", "maybe")])
def test_values_seldon_core_refuses_are_refused(kind: str, text: str) -> None:
    from seldon_core.microservice import parse_parameters

    with pytest.raises(ValueError):
        components.parse_seldon_value(kind, text)
    from seldon_core.flask_utils import SeldonMicroserviceException

    with pytest.raises((SeldonMicroserviceException, ValueError)):
        parse_parameters([{"name": "p", "type": kind, "value": text}])
