"""Seldon parameters become frozen settings at start-up; a wrong one fails naming itself."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from typing import Any

import pytest

from seldon_tfserving.combiner_settings import MajorityVoteSettings, WeightedMeanSettings
from seldon_tfserving.combiners import (
    MajorityVoteCombiner,
    MaxConfidenceCombiner,
    MeanCombiner,
    WeightedMeanCombiner,
)
from seldon_tfserving.errors import ConfigurationError
from seldon_tfserving.parameters import (
    MANIFEST_TYPES,
    parameter_types,
    parse_number_list,
    parse_settings,
)
from seldon_tfserving.router_settings import (
    ABTestSettings,
    EpsilonGreedySettings,
    ThompsonSamplingSettings,
    UCB1Settings,
)
from seldon_tfserving.routers import (
    ABTestRouter,
    EpsilonGreedyRouter,
    ThompsonSamplingRouter,
    UCB1Router,
)

COMPONENTS = [
    ABTestRouter,
    EpsilonGreedyRouter,
    ThompsonSamplingRouter,
    UCB1Router,
    MeanCombiner,
    WeightedMeanCombiner,
    MajorityVoteCombiner,
    MaxConfidenceCombiner,
]


def test_settings_types_are_readable_without_tensorflow_or_seldon() -> None:
    # The deploy validator reads these; it must not pay for (or need) TensorFlow.
    script = (
        "import dataclasses, json, sys\n"
        "import seldon_tfserving as package\n"
        "from seldon_tfserving.parameters import parameter_types\n"
        "names = " + json.dumps([component.__name__ for component in COMPONENTS]) + "\n"
        "types = {n: parameter_types(getattr(package, n).settings_type) for n in names}\n"
        "print(json.dumps({'types': types, 'heavy': sorted(\n"
        "    m for m in ('tensorflow', 'seldon_core') if m in sys.modules)}))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    report = json.loads(run.stdout)
    assert report["heavy"] == []
    assert report["types"]["ABTestRouter"] == {
        "ratio_a": "FLOAT",
        "n_children": "INT",
        "weights": "STRING",
        "seed": "INT",
        "sticky_key": "STRING",
        "state_path": "STRING",
        "max_message_bytes": "INT",
    }
    assert report["types"]["ThompsonSamplingRouter"] == {
        "n_branches": "INT",
        "alpha0": "FLOAT",
        "beta0": "FLOAT",
        "max_message_bytes": "INT",
        "seed": "INT",
        "state_path": "STRING",
    }
    # every component's REST body limit (ComponentSettings)
    assert report["types"]["MeanCombiner"] == {"max_message_bytes": "INT"}
    assert report["types"]["MajorityVoteCombiner"] == {
        "max_message_bytes": "INT",
        "output": "STRING",
    }


@pytest.mark.parametrize("component", COMPONENTS, ids=lambda c: c.__name__)
def test_every_component_declares_frozen_settings_with_seldon_types(component: Any) -> None:
    settings_type = component.settings_type
    assert dataclasses.is_dataclass(settings_type)
    assert settings_type.__dataclass_params__.frozen
    for seldon_type in parameter_types(settings_type).values():
        assert seldon_type in MANIFEST_TYPES


def test_required_parameters_have_no_default() -> None:
    def required(component: Any) -> list[str]:
        return [
            f.name
            for f in dataclasses.fields(component.settings_type)
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        ]

    assert {c.__name__: required(c) for c in COMPONENTS} == {
        "ABTestRouter": [],
        "EpsilonGreedyRouter": ["n_branches"],
        "ThompsonSamplingRouter": ["n_branches"],
        "UCB1Router": ["n_branches"],
        "MeanCombiner": [],
        "WeightedMeanCombiner": ["weights"],
        "MajorityVoteCombiner": [],
        "MaxConfidenceCombiner": [],
    }


@pytest.mark.parametrize("text", ["[0.7, 0.2, 0.1]", "0.7,0.2,0.1", " 0.7 , 0.2 , 0.1 "])
def test_weights_are_a_json_list_or_comma_separated(text: str) -> None:
    assert parse_number_list(text) == (0.7, 0.2, 0.1)


@pytest.mark.parametrize("text", ["", "[]x", '{"a": 1}', "0.5,abc", "[0.5, true]", "1,nan"])
def test_weights_that_are_not_numbers_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_number_list(text)


def test_parameters_arrive_typed_by_seldon_and_become_settings() -> None:
    settings = parse_settings(
        ABTestSettings, {"weights": "[3, 1]", "seed": 5, "sticky_key": "user"}
    )
    assert settings == ABTestSettings(weights=(3.0, 1.0), seed=5, sticky_key="user")
    assert settings.branch_weights() == (0.75, 0.25)
    assert parse_settings(EpsilonGreedySettings, {"n_branches": 3, "epsilon": 0}).epsilon == 0.0
    assert ABTestSettings(n_children=4, ratio_a=0.4).branch_weights() == pytest.approx(
        (0.4, 0.2, 0.2, 0.2)
    )
    assert ABTestSettings().branch_weights() == (0.5, 0.5)


@pytest.mark.parametrize(
    ("settings_type", "parameters", "named"),
    [
        (ABTestSettings, {"ratio_a": 1.5}, "ratio_a"),
        (ABTestSettings, {"ratio_a": "0.5"}, "ratio_a"),
        (ABTestSettings, {"ratio_a": 0.5, "weights": "1,1"}, "ratio_a"),
        (ABTestSettings, {"weights": "1,1", "n_children": 3}, "weights"),
        (ABTestSettings, {"weights": "1,-1"}, "weights"),
        (ABTestSettings, {"weights": "0,0"}, "weights"),
        (ABTestSettings, {"weights": "1"}, "weights"),
        (ABTestSettings, {"weights": "one,two"}, "weights"),
        (ABTestSettings, {"n_children": 1}, "n_children"),
        (ABTestSettings, {"sticky_key": ""}, "sticky_key"),
        (ABTestSettings, {"ratio": 0.5}, "ratio"),
        (ABTestSettings, {"seed": 1.5}, "seed"),
        (ABTestSettings, {"seed": True}, "seed"),
        (EpsilonGreedySettings, {}, "n_branches"),
        (UCB1Settings, {"state_path": "/tmp/x.json"}, "n_branches"),
        (EpsilonGreedySettings, {"n_branches": 2, "epsilon": 1.1}, "epsilon"),
        (EpsilonGreedySettings, {"n_branches": 2, "best_branch": 2}, "best_branch"),
        (ThompsonSamplingSettings, {"n_branches": 2, "alpha0": 0.0}, "alpha0"),
        (ThompsonSamplingSettings, {"n_branches": 2, "beta0": -1.0}, "beta0"),
        (ThompsonSamplingSettings, {"n_branches": 2, "state_path": " "}, "state_path"),
        (UCB1Settings, {"n_branches": 2, "epsilon": 0.1}, "epsilon"),
        (WeightedMeanSettings, {}, "weights"),
        (MajorityVoteSettings, {"output": "probabilities"}, "output"),
    ],
)
def test_a_wrong_parameter_fails_at_start_up_naming_it(
    settings_type: type, parameters: dict[str, Any], named: str
) -> None:
    with pytest.raises(ConfigurationError) as failed:
        parse_settings(settings_type, parameters)
    assert failed.value.parameter == named
    assert repr(named) in str(failed.value)


def test_a_component_refuses_bad_parameters_when_constructed() -> None:
    with pytest.raises(ConfigurationError, match="'n_branches'"):
        UCB1Router(n_branches=1)
    with pytest.raises(ConfigurationError, match="'weights'"):
        WeightedMeanCombiner(weights="1,x")
