"""The `spec.protocol`s the gateway speaks, read once from a deployment; light to import, so
the runner can plan by protocol without loading the protocols' protos."""

from __future__ import annotations

from seldon_tfserving.deploy.model import SeldonDeployment

SELDON_PROTOCOL = "seldon"
TENSORFLOW_PROTOCOL = "tensorflow"
#: The protocols the gateway speaks (v2/kfserving it does not).
PROTOCOLS = (SELDON_PROTOCOL, TENSORFLOW_PROTOCOL)


def deployment_protocol(deployment: SeldonDeployment) -> str:
    """The deployment's `spec.protocol` (seldon when unset, as the operator defaults it)."""
    spec = deployment.raw.get("spec") or {}
    return str(spec.get("protocol") or SELDON_PROTOCOL)
