"""The parameters a TENSORFLOW_SERVER node's container gets, and what they mean for ours.

Under protocol seldon the operator appends TF Serving's in-pod addresses (only when the user
gave neither) and `model_name=<node>` after the user's parameters, and Seldon's
`parse_parameters` keeps the last value of a name (seldon-core v1.18.2
`SetUriParamsForTFServingProxyContainer`, `microservice.py`). TfServingProxy's parameters
(rest_endpoint, grpc_endpoint, model_name, signature_name, model_input, model_output) are all
TfServingModel's too, beside its own (model_version, version_label, timeout_ms, ...).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from seldon_tfserving.deploy.findings import Finding, warning

TFSERVING_GRPC_PORT, TFSERVING_REST_PORT = 2000, 2001
ENDPOINT_DEFAULTS = (
    ("rest_endpoint", f"http://0.0.0.0:{TFSERVING_REST_PORT}"),
    ("grpc_endpoint", f"0.0.0.0:{TFSERVING_GRPC_PORT}"),
)
#: TfServingModel calls TF Serving over gRPC unless its `transport` says rest.
DEFAULT_TRANSPORT = "grpc"


def proxy_parameters(user: Sequence[Mapping[str, Any]], node: str) -> list[dict[str, Any]]:
    """The parameters the operator gives the node's container under protocol seldon."""
    parameters = [dict(p) for p in user]
    if not any(p.get("name") in ("rest_endpoint", "grpc_endpoint") for p in parameters):
        parameters += [{"name": n, "value": v, "type": "STRING"} for n, v in ENDPOINT_DEFAULTS]
    parameters.append({"name": "model_name", "value": node, "type": "STRING"})
    return parameters


def proxy_parameter_findings(
    node: str, path: str, user: Sequence[Mapping[str, Any]]
) -> list[Finding]:
    """A model_name the operator's overrides, and one endpoint given without the other."""
    findings = []
    given = {str(p.get("name")): (i, str(p.get("value"))) for i, p in enumerate(user)}
    if "model_name" in given and given["model_name"][1] != node:
        index, value = given["model_name"]
        findings.append(
            warning(
                f"{path}.parameters[{index}].value",
                f"model_name {value!r} is not what the node calls: the operator appends "
                f"model_name={node!r} after it, Seldon keeps a name's last value, and TF "
                f"Serving serves the model as {node!r}",
                "set model_name to the node's name, or leave it out",
            )
        )
    endpoints = [n for n, _ in ENDPOINT_DEFAULTS if n in given]
    if len(endpoints) != 1:
        return findings
    missing = next(n for n, _ in ENDPOINT_DEFAULTS if n not in given)
    transport = given.get("transport", (0, DEFAULT_TRANSPORT))[1].strip().lower()
    message = (
        f"only {endpoints[0]} is given, so the operator adds neither endpoint: {missing} "
        f"stays TfServingModel's default, where the pod's TF Serving does not listen "
        f"(it listens on {TFSERVING_GRPC_PORT} and {TFSERVING_REST_PORT})"
    )
    fix = f"give {missing} too, or neither"
    where = f"{path}.parameters[{given[endpoints[0]][0]}].name"
    if missing.startswith(transport):
        findings.append(Finding(where, f"{message}; transport {transport} uses it", fix))
    else:
        findings.append(warning(where, message, fix))
    return findings


def unused_model_name(node: str, path: str, user: Sequence[Mapping[str, Any]]) -> list[Finding]:
    """Under protocol tensorflow TF Serving serves the model as the node's name, whatever
    a model_name parameter says."""
    return [
        warning(
            f"{path}.parameters[{index}].value",
            f"under protocol tensorflow the node is TF Serving itself, serving its model as "
            f"{node!r}: model_name {parameter.get('value')!r} reaches nothing",
            f"call the model {node!r} (clients name it in /v1/models/{node})",
        )
        for index, parameter in enumerate(user)
        if parameter.get("name") == "model_name" and str(parameter.get("value")) != node
    ]
