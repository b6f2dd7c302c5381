"""`validate` and `up` read a pod's TF Serving container alike, and give the same verdict.

Both are fed the same documents, spelling the TF Serving container each way a manifest may:
they must find the same ports and model names, and accept or refuse together, with the same
paths, messages and fixes. The same holds for every graph in graphs/ and for the broken
variants of tests/deploy/test_validate_refusals.py that concern TF Serving.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema.protocols import Validator

from seldon_tfserving.deploy import schema
from seldon_tfserving.deploy.findings import Finding
from seldon_tfserving.deploy.tfserving_checks import check_tfserving_pods
from seldon_tfserving.deploy.validate import validate_documents
from seldon_tfserving.runner.errors import PlanError
from seldon_tfserving.runner.plan import RunPlan, plan_run
from tests.deploy.manifests import GRAPH_FILES, load_graph
from tests.deploy.test_validate_refusals import DEFECTS
from tests.runner.test_plan import PROGRAMS, parameters, ports_from

NAME = "agree"
MODELS_CONFIG = """model_config_list {
  config {
    name: "half_plus_two"
    base_path: "/models/half_plus_two"
    model_version_policy { specific { versions: 1 versions: 2 } }
    version_labels { key: "stable" value: 1 }
    version_labels { key: "canary" value: 2 }
  }
  config { name: "half_plus_three" base_path: "/models/half_plus_three" }
}
"""
IMAGE = "tensorflow/serving:2.20.0"
SINGLE = ["--model_name=half_plus_two", "--model_base_path=/models/half_plus_two"]


@dataclass(frozen=True)
class Spelling:
    """One way to write the TF Serving container, and what both must read from it."""

    id: str
    container: dict[str, Any]
    #: in-pod gRPC and REST ports (REST 0: off) and model names; or what the refusal says
    ports: tuple[int, int] = (0, 0)
    models: tuple[str, ...] = ()
    refusal: str = ""
    config: str = MODELS_CONFIG
    node: dict[str, str] = field(default_factory=dict)


SPELLINGS = [
    Spelling(
        "flag-equals-value",
        {"image": IMAGE, "args": ["--port=8500", "--rest_api_port=8501", *SINGLE]},
        (8500, 8501),
        ("half_plus_two",),
    ),
    Spelling(
        "flag-then-value",
        {"image": IMAGE, "args": ["--port", "9000", "--rest_api_port=8501", *SINGLE]},
        refusal="tensorflow_model_server ignores '--port' '9000': a flag takes its value after "
        "'=' in the same word, so --port stays 8500",
    ),
    Spelling(
        "flag-then-value-matching-the-default",
        {"image": IMAGE, "args": ["--port", "8500", *SINGLE]},
        refusal="ignores '--port' '8500'",
    ),
    Spelling(
        "image-entrypoint-with-env",
        {"image": IMAGE, "env": [{"name": "MODEL_NAME", "value": "half_plus_two"}]},
        (8500, 8501),
        ("half_plus_two",),
    ),
    Spelling(
        "image-entrypoint-defaults",
        {"image": IMAGE},
        (8500, 8501),
        ("model",),
    ),
    Spelling(
        "binary-as-command",
        {
            "image": IMAGE,
            "command": ["tensorflow_model_server"],
            "args": [
                "--port=9000",
                "--model_name=a",
                "--model_name=b",
                "--model_base_path=/models/b",
            ],
        },
        (9000, 0),
        ("b",),
    ),
    Spelling(
        "entrypoint-script-as-command",
        {"image": IMAGE, "command": ["/usr/bin/tf_serving_entrypoint.sh"], "args": SINGLE},
        (8500, 8501),
        ("half_plus_two",),
    ),
    Spelling(
        "model-config-in-a-config-map",
        {"image": IMAGE, "args": ["--model_config_file=/config/models.config"]},
        (8500, 8501),
        ("half_plus_two", "half_plus_three"),
        node={"version_label": "canary"},
    ),
    Spelling(
        "label-at-a-version-the-policy-does-not-load",
        {"image": IMAGE, "args": ["--model_config_file=/config/models.config"]},
        config=MODELS_CONFIG.replace('key: "canary" value: 2', 'key: "canary" value: 3'),
        refusal="label 'canary' points at version 3, which the specific version policy does "
        "not load (1, 2)",
    ),
    Spelling(
        "config-file-not-in-the-config-map",
        {"image": IMAGE, "args": ["--model_config_file=/config/model.config"]},
        refusal="ConfigMap 'agree-config' has no key 'model.config' (keys: models.config)",
    ),
    Spelling(
        "binary-named-in-the-args-of-the-image",
        {"image": IMAGE, "args": ["tensorflow_model_server", *SINGLE]},
        refusal="the image's entrypoint already runs tensorflow_model_server",
    ),
    Spelling(
        "shell-command",
        {"image": IMAGE, "command": ["/bin/sh", "-c"], "args": ["tensorflow_model_server"]},
        refusal="TF Serving container runs '/bin/sh'",
    ),
    Spelling(
        "port-that-is-no-number",
        {"image": IMAGE, "args": ["--port=85OO", *SINGLE]},
        refusal="--port=85OO: tensorflow_model_server takes a whole number (int32) here",
    ),
    Spelling(
        "unknown-flag",
        {"image": IMAGE, "args": ["--rest_api_prot=8501", *SINGLE]},
        refusal="tensorflow_model_server has no flag --rest_api_prot",
    ),
    Spelling(
        "probe-on-a-port-tf-serving-does-not-listen-on",
        {"image": IMAGE, "args": SINGLE, "readinessProbe": {"tcpSocket": {"port": 9000}}},
        refusal="readinessProbe asks port 9000, where TF Serving does not listen",
    ),
]


def documents(spelling: Spelling, **node: str) -> list[dict[str, Any]]:
    """A ConfigMap and a one-node deployment: TfServingModel beside the spelt container."""
    grpc, rest = spelling.ports or (8500, 8501)
    values = {
        "model_name": (spelling.models or ("half_plus_two",))[0],
        "grpc_endpoint": f"localhost:{grpc or 8500}",
        **({"rest_endpoint": f"http://localhost:{rest}"} if rest else {}),
        **spelling.node,
        **node,
    }
    tfserving = {
        "name": "tfserving",
        "volumeMounts": [
            {"name": "models", "mountPath": "/models"},
            {"name": "config", "mountPath": "/config"},
        ],
        **copy.deepcopy(spelling.container),
    }
    wrapper = {
        "name": "model",
        "image": "seldon-tfserving:0.1.0",
        "env": [
            {"name": "MODEL_NAME", "value": "seldon_tfserving.TfServingModel"},
            {"name": "SERVICE_TYPE", "value": "MODEL"},
        ],
    }
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"{NAME}-config"},
            "data": {"models.config": spelling.config},
        },
        {
            "apiVersion": "machinelearning.seldon.io/v1",
            "kind": "SeldonDeployment",
            "metadata": {"name": NAME},
            "spec": {
                "predictors": [
                    {
                        "name": "default",
                        "graph": {
                            "name": "model",
                            "type": "MODEL",
                            "parameters": [
                                {"name": k, "type": "STRING", "value": v} for k, v in values.items()
                            ],
                        },
                        "componentSpecs": [
                            {
                                "spec": {
                                    "containers": [wrapper, tfserving],
                                    "volumes": [
                                        {"name": "models", "emptyDir": {}},
                                        {"name": "config", "configMap": {"name": f"{NAME}-config"}},
                                    ],
                                }
                            }
                        ],
                    }
                ]
            },
        },
    ]


@pytest.fixture(scope="module")
def validator() -> Validator:
    return schema.builtin_validator()


def validated(docs: list[dict[str, Any]], validator: Validator) -> list[Finding]:
    return [
        f for report in validate_documents(docs, validator, "agree.yaml") for f in report.findings
    ]


def planned(docs: list[dict[str, Any]], tmp_path: Path) -> RunPlan | PlanError:
    try:
        return plan_run(
            docs,
            volumes={"models": tmp_path / "models"},
            scratch_dir=tmp_path / "scratch",
            allocate_port=ports_from(20000),
            programs=PROGRAMS,
        )
    except PlanError as error:
        return error


def assert_same_refusal(
    findings: list[Finding], verdict: RunPlan | PlanError, deployment: str
) -> None:
    """`up` refuses with exactly validate's findings: paths, messages and fixes."""
    assert findings, "validate accepted what it should refuse"
    assert isinstance(verdict, PlanError), "up accepted what validate refuses"
    assert str(verdict).splitlines()[0::2] == [
        f"SeldonDeployment {deployment!r}: {f.path}: {f.message}" for f in findings
    ]
    assert str(verdict).splitlines()[1::2] == [f"    fix: {f.fix}" for f in findings]


ACCEPTED = [s for s in SPELLINGS if not s.refusal]
REFUSED = [s for s in SPELLINGS if s.refusal]


@pytest.mark.parametrize("spelling", ACCEPTED, ids=lambda s: s.id)
def test_both_accept_and_read_the_same_ports_and_models(
    spelling: Spelling, validator: Validator, tmp_path: Path
) -> None:
    docs = documents(spelling)
    assert validated(docs, validator) == []
    plan = planned(docs, tmp_path)
    assert isinstance(plan, RunPlan), plan
    (backend,) = plan.backends
    assert backend.models == spelling.models
    grpc, rest = spelling.ports
    # up moved TF Serving off the in-pod ports it read, and told the model where it went
    params = parameters(plan, "model")
    assert params["grpc_endpoint"] == f"127.0.0.1:{backend.grpc_port}"
    if rest:
        assert params["rest_endpoint"] == f"http://127.0.0.1:{backend.rest_port}"
    else:
        assert backend.rest_port is None
    # validate read the same ports and names: a model pointed elsewhere is refused by both
    elsewhere = documents(spelling, grpc_endpoint=f"localhost:{grpc + 1}")
    findings = validated(elsewhere, validator)
    assert [f.message for f in findings] == [
        f"grpc_endpoint 'localhost:{grpc + 1}': no TF Serving container in this pod listens "
        f"on port {grpc + 1} (--port={grpc}; 0 means off)"
    ]
    assert_same_refusal(findings, planned(elsewhere, tmp_path), NAME)
    unserved = documents(spelling, model_name="unserved")
    findings = validated(unserved, validator)
    assert [f.message for f in findings] == [
        f"TF Serving in this pod does not serve model 'unserved' (serves: "
        f"{', '.join(sorted(spelling.models))})"
    ]
    assert_same_refusal(findings, planned(unserved, tmp_path), NAME)


@pytest.mark.parametrize("spelling", REFUSED, ids=lambda s: s.id)
def test_both_refuse_with_the_same_message(
    spelling: Spelling, validator: Validator, tmp_path: Path
) -> None:
    docs = documents(spelling)
    findings = validated(docs, validator)
    assert any(spelling.refusal in f.message for f in findings), findings
    assert_same_refusal(findings, planned(docs, tmp_path), NAME)


def test_a_label_the_config_does_not_define_is_refused_by_both(
    validator: Validator, tmp_path: Path
) -> None:
    spelling = next(s for s in SPELLINGS if s.id == "model-config-in-a-config-map")
    docs = documents(spelling, version_label="beta")
    findings = validated(docs, validator)
    assert [f.message for f in findings] == [
        "model 'half_plus_two' has no version label 'beta' in TF Serving's model config "
        "(labels: canary, stable)"
    ]
    assert_same_refusal(findings, planned(docs, tmp_path), NAME)


@pytest.mark.parametrize("graph", GRAPH_FILES, ids=lambda g: g.name)
def test_every_graph_is_accepted_by_both(graph: Path, tmp_path: Path) -> None:
    docs = [d for d in yaml.safe_load_all(graph.read_text()) if d]
    for doc in docs:
        if doc.get("kind") == "SeldonDeployment":
            assert check_tfserving_pods(doc, docs) == []
    assert isinstance(planned(docs, tmp_path), RunPlan)


TFSERVING_DEFECTS = [d for d in DEFECTS if "TF Serving" in d.message or "label" in d.message]


def test_the_tf_serving_variants_are_the_expected_ones() -> None:
    assert [d.id for d in TFSERVING_DEFECTS] == [
        "version-label-not-in-model-config",
        "label-at-a-version-tf-serving-does-not-load",
        "model-pointed-at-wrong-port",
    ]


@pytest.mark.parametrize("defect", TFSERVING_DEFECTS, ids=lambda d: d.id)
def test_the_broken_tf_serving_variants_are_refused_by_both(defect: Any, tmp_path: Path) -> None:
    docs = load_graph(defect.graph)
    defect.change(docs)
    deployment = next(d for d in docs if d["kind"] == "SeldonDeployment")
    findings = check_tfserving_pods(deployment, docs)
    assert [f.path for f in findings] == [defect.path]
    assert_same_refusal(findings, planned(docs, tmp_path), deployment["metadata"]["name"])
