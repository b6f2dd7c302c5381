"""A predictor's graph-level metadata: every node's model metadata and the graph's two ends.

Seldon's executor answers `/api/v1.0/metadata` (predictor/metadata.go) by asking every node for
its metadata and deriving what the graph as a whole takes and gives from the node kinds: a MODEL
or TRANSFORMER takes its own inputs and gives what its first child gives; a ROUTER passes on its
first child's; a COMBINER or OUTPUT_TRANSFORMER takes its first child's inputs and gives its own
outputs. Children after the first are assumed to agree with it, as Seldon assumes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from google.protobuf import json_format

from seldon_tfserving.gateway.graph_plan import NodePlan

#: The fields of the executor's ModelMetadata; it drops the others and the empty ones.
MODEL_METADATA_FIELDS = ("name", "platform", "versions", "inputs", "outputs", "custom")

Document = dict[str, Any]


def model_metadata_document(answer: Any) -> Document:
    """A component's metadata answer (JSON from REST, a SeldonModelMetadata from gRPC) as the
    executor re-encodes it."""
    document = answer if isinstance(answer, dict) else json_format.MessageToDict(answer)
    return {key: document[key] for key in MODEL_METADATA_FIELDS if document.get(key)}


def builtin_metadata(plan: NodePlan) -> Document:
    """What a node the gateway runs itself (RANDOM_ABTEST, AVERAGE_COMBINER) says of itself:
    there is no component to ask."""
    document: Document = {"name": plan.node.name, "platform": "seldon"}
    if plan.node.implementation:
        document["custom"] = {"implementation": plan.node.implementation}
    return document


def graph_metadata(name: str, root: NodePlan, models: Mapping[str, Document]) -> Document:
    """The executor's GraphMetadata document for the predictor `name`."""
    taking, giving = _ends(root, models)
    return {
        "name": name,
        "models": dict(models),
        "graphinputs": taking.get("inputs"),
        "graphoutputs": giving.get("outputs"),
    }


def _ends(plan: NodePlan, models: Mapping[str, Document]) -> tuple[Document, Document]:
    """The metadata of the node whose inputs the subtree takes, and of the one whose outputs
    it gives."""
    own = models[plan.node.name]
    if not plan.children:
        return own, own
    first_taking, first_giving = _ends(plan.children[0], models)
    if plan.routes or plan.ab_test_ratio is not None:
        return first_taking, first_giving
    if plan.aggregates or plan.averages:
        return first_taking, own
    if plan.output_method and plan.input_method is None:
        return first_taking, own
    return own, first_giving
