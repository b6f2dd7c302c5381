"""A typed, read-only view of a SeldonDeployment (machinelearning.seldon.io/v1).

Validation, rendering and the local runner all read manifests through this one model, so a
field is interpreted the same way everywhere. It parses; it does not validate (see validate.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

#: Seldon's ParameterType values, and how each parses.
PARAMETER_TYPES = ("INT", "FLOAT", "DOUBLE", "STRING", "BOOL")


@dataclass(frozen=True)
class Parameter:
    """One `parameters` entry of a graph node: a name, a declared type and a string value."""

    name: str
    type: str
    value: str

    def parsed(self) -> int | float | str | bool:
        """The value as its declared type parses it (raises ValueError when it does not)."""
        if self.type == "INT":
            return int(self.value)
        if self.type in ("FLOAT", "DOUBLE"):
            return float(self.value)
        if self.type == "BOOL":
            lowered = self.value.strip().lower()
            if lowered not in ("true", "false", "1", "0"):
                raise ValueError(f"{self.value!r} is not a boolean")
            return lowered in ("true", "1")
        if self.type == "STRING":
            return self.value
        raise ValueError(f"unknown parameter type {self.type!r}")

    def as_seldon_json(self) -> dict[str, str]:
        """The form `seldon-core-microservice --parameters` and PREDICTIVE_UNIT_PARAMETERS take."""
        return {"name": self.name, "type": self.type, "value": self.value}


@dataclass(frozen=True)
class Endpoint:
    type: str = "REST"
    service_host: str | None = None
    service_port: int | None = None
    http_port: int | None = None
    grpc_port: int | None = None


@dataclass(frozen=True)
class Logger:
    mode: str = "all"
    url: str | None = None


@dataclass(frozen=True)
class GraphNode:
    """A PredictiveUnit: one node of a predictor's inference graph."""

    name: str
    type: str | None = None
    implementation: str | None = None
    methods: tuple[str, ...] = ()
    endpoint: Endpoint | None = None
    parameters: tuple[Parameter, ...] = ()
    children: tuple[GraphNode, ...] = ()
    logger: Logger | None = None
    model_uri: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def walk(self) -> Iterator[GraphNode]:
        """This node and every descendant, depth first, parents before children."""
        yield self
        for child in self.children:
            yield from child.walk()

    def parameter_values(self) -> dict[str, int | float | str | bool]:
        return {p.name: p.parsed() for p in self.parameters}


@dataclass(frozen=True)
class Predictor:
    name: str
    graph: GraphNode
    traffic: int | None = None
    shadow: bool = False
    replicas: int | None = None
    component_specs: tuple[Mapping[str, Any], ...] = ()
    annotations: Mapping[str, str] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def containers(self) -> Iterator[Mapping[str, Any]]:
        """Every container of every componentSpec's pod spec."""
        for spec in self.component_specs:
            yield from (spec.get("spec") or {}).get("containers") or ()

    def container(self, name: str) -> Mapping[str, Any] | None:
        """The container that implements graph node `name`, if one is declared."""
        return next((c for c in self.containers() if c.get("name") == name), None)

    def volumes(self) -> dict[str, Mapping[str, Any]]:
        result: dict[str, Mapping[str, Any]] = {}
        for spec in self.component_specs:
            for volume in (spec.get("spec") or {}).get("volumes") or ():
                result[str(volume.get("name"))] = volume
        return result


@dataclass(frozen=True)
class SeldonDeployment:
    name: str
    namespace: str
    predictors: tuple[Predictor, ...]
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def predictor(self, name: str) -> Predictor:
        for predictor in self.predictors:
            if predictor.name == name:
                return predictor
        raise KeyError(name)


def _endpoint(raw: Mapping[str, Any] | None) -> Endpoint | None:
    if not raw:
        return None
    return Endpoint(
        type=str(raw.get("type", "REST")),
        service_host=raw.get("service_host"),
        service_port=raw.get("service_port"),
        http_port=raw.get("httpPort"),
        grpc_port=raw.get("grpcPort"),
    )


def parse_graph(raw: Mapping[str, Any]) -> GraphNode:
    logger = raw.get("logger")
    return GraphNode(
        name=str(raw.get("name", "")),
        type=raw.get("type"),
        implementation=raw.get("implementation"),
        methods=tuple(raw.get("methods") or ()),
        endpoint=_endpoint(raw.get("endpoint")),
        parameters=tuple(
            Parameter(str(p.get("name", "")), str(p.get("type", "STRING")), str(p.get("value", "")))
            for p in raw.get("parameters") or ()
        ),
        children=tuple(parse_graph(child) for child in raw.get("children") or ()),
        logger=Logger(str(logger.get("mode", "all")), logger.get("url")) if logger else None,
        model_uri=raw.get("modelUri"),
        raw=raw,
    )


def parse_deployment(doc: Mapping[str, Any]) -> SeldonDeployment:
    """Read one SeldonDeployment document (already loaded from YAML or JSON)."""
    metadata = doc.get("metadata") or {}
    spec = doc.get("spec") or {}
    predictors = tuple(
        Predictor(
            name=str(p.get("name", "")),
            graph=parse_graph(p.get("graph") or {}),
            traffic=p.get("traffic"),
            shadow=bool(p.get("shadow", False)),
            replicas=p.get("replicas"),
            component_specs=tuple(p.get("componentSpecs") or ()),
            annotations=p.get("annotations") or {},
            raw=p,
        )
        for p in spec.get("predictors") or ()
    )
    return SeldonDeployment(
        name=str(metadata.get("name") or spec.get("name") or ""),
        namespace=str(metadata.get("namespace") or "default"),
        predictors=predictors,
        raw=doc,
    )


def load_documents(path: Path) -> list[dict[str, Any]]:
    """Every non-empty YAML document in a file."""
    with path.open() as stream:
        return [doc for doc in yaml.safe_load_all(stream) if doc]


def load_deployments(path: Path) -> list[SeldonDeployment]:
    """Every SeldonDeployment in a file (other kinds, such as ConfigMaps, are skipped)."""
    return [
        parse_deployment(doc)
        for doc in load_documents(path)
        if doc.get("kind") == "SeldonDeployment"
    ]
