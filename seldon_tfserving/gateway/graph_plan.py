"""What the executor does at each graph node, decided once per predictor.

The decisions follow predictor_process.go: a node's type and `methods` say which component
calls it gets, after the operator's defaulting (defaults.go) of nodes that name neither.
"""

from __future__ import annotations

from dataclasses import dataclass

from seldon_tfserving.deploy.model import GraphNode, Predictor
from seldon_tfserving.gateway import builtin_units
from seldon_tfserving.gateway.component_client import ComponentMethod
from seldon_tfserving.gateway.endpoints import endpoint_key

#: Implementations that are not prepackaged servers (operator prepack.go IsPrepack).
_NOT_PREPACKED = (
    "UNKNOWN_IMPLEMENTATION",
    "SIMPLE_MODEL",
    "SIMPLE_ROUTER",
    *builtin_units.BUILTIN_IMPLEMENTATIONS,
)


@dataclass(frozen=True)
class NodePlan:
    """What the executor does at one node, decided once from its type, methods, implementation."""

    node: GraphNode
    key: str
    input_method: ComponentMethod | None
    output_method: bool
    routes: bool
    ab_test_ratio: float | None
    aggregates: bool
    averages: bool
    takes_feedback: bool
    children: tuple[NodePlan, ...]
    image: tuple[str, str]

    @property
    def needs_component(self) -> bool:
        return bool(
            self.input_method
            or self.output_method
            or self.routes
            or self.aggregates
            or self.takes_feedback
        )

    def walk(self) -> list[NodePlan]:
        return [self, *(plan for child in self.children for plan in child.walk())]


def effective_type(node: GraphNode) -> str | None:
    """The node's type after the operator's defaulting (defaults.go addDefaultsToGraph)."""
    if node.type is None and not node.methods and node.implementation is None:
        return "MODEL"
    if node.implementation is not None and node.implementation not in _NOT_PREPACKED:
        return "MODEL"
    return node.type


def plan_node(deployment: str, predictor: Predictor, node: GraphNode) -> NodePlan:
    kind = effective_type(node)
    methods = set(node.methods)
    transform_input = kind == "TRANSFORMER" or "TRANSFORM_INPUT" in methods
    input_method: ComponentMethod | None = None
    if transform_input:
        input_method = "transform-input"
    elif kind == "MODEL":
        input_method = "predict"
    routes = kind == "ROUTER" or "ROUTE" in methods
    aggregates = kind == "COMBINER" or "AGGREGATE" in methods
    image = ""
    container = predictor.container(node.name)
    if container is not None:
        image = str(container.get("image") or "")
    name, _, version = image.partition(":")
    return NodePlan(
        node=node,
        key=endpoint_key(deployment, predictor.name, node.name),
        input_method=input_method,
        output_method=kind == "OUTPUT_TRANSFORMER" or "TRANSFORM_OUTPUT" in methods,
        routes=routes,
        ab_test_ratio=(
            builtin_units.ab_test_ratio(node)
            if not routes and node.implementation == builtin_units.RANDOM_ABTEST
            else None
        ),
        aggregates=aggregates,
        averages=not aggregates and node.implementation == builtin_units.AVERAGE_COMBINER,
        takes_feedback=kind in ("MODEL", "ROUTER") or "SEND_FEEDBACK" in methods,
        children=tuple(plan_node(deployment, predictor, child) for child in node.children),
        image=(name, version),
    )
