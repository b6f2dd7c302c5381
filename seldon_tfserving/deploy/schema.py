"""The SeldonDeployment CRD's OpenAPI schema, made checkable by a JSON Schema validator.

The API server checks a manifest against the CRD's `openAPIV3Schema` plus a few Kubernetes
keywords JSON Schema does not know. This module reads that schema (built in, extracted from the
v1 CRD, or from a user's CRD dump) and translates the Kubernetes parts so `jsonschema` enforces
what the API server would: int-or-string, int32/int64 ranges, nullable, list-map keys, and
unknown fields refused (kubectl's default `--validate=strict`).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, ValidationError, validators
from jsonschema.protocols import Validator

#: The package data file holding the v1 openAPIV3Schema (descriptions stripped).
BUILTIN_SCHEMA_FILE = "seldondeployment-v1.openapi.json"
CRD_NAME = "seldondeployments.machinelearning.seldon.io"
#: The graph node (PredictiveUnit) schema: the CRD generator leaves `children` items empty,
#: and the operator decodes them as PredictiveUnits all the same.
PREDICTIVE_UNIT_DEF = "predictiveUnit"

_INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}


class CrdError(ValueError):
    """The given CRD file does not hold a usable SeldonDeployment v1 schema."""


def strip_descriptions(schema: Any) -> Any:
    """The schema without `description` texts (they are most of the CRD's bytes)."""
    if isinstance(schema, dict):
        return {k: strip_descriptions(v) for k, v in schema.items() if k != "description"}
    if isinstance(schema, list):
        return [strip_descriptions(item) for item in schema]
    return schema


def _crd_documents(docs: list[Any]) -> Iterator[Mapping[str, Any]]:
    for doc in docs:
        if not isinstance(doc, Mapping):
            continue
        if doc.get("kind") == "List":  # `kubectl get crd -o yaml` over several CRDs
            yield from _crd_documents(list(doc.get("items") or ()))
        elif doc.get("kind") == "CustomResourceDefinition":
            yield doc


def openapi_schema_from_crd(docs: list[Any], version: str = "v1") -> dict[str, Any]:
    """The `openAPIV3Schema` of `version` in a SeldonDeployment CRD (as kubectl prints it)."""
    crds = list(_crd_documents(docs))
    if not crds:
        raise CrdError("no CustomResourceDefinition in the file")
    crd = next((c for c in crds if (c.get("metadata") or {}).get("name") == CRD_NAME), None)
    if crd is None:
        names = ", ".join(str((c.get("metadata") or {}).get("name")) for c in crds)
        raise CrdError(f"no CRD named {CRD_NAME} (found: {names})")
    spec = crd.get("spec") or {}
    for entry in spec.get("versions") or ():
        if entry.get("name") == version:
            schema = (entry.get("schema") or {}).get("openAPIV3Schema")
            if not isinstance(schema, dict):
                raise CrdError(f"version {version} of {CRD_NAME} has no openAPIV3Schema")
            return schema
    # apiextensions.k8s.io/v1beta1 CRDs carry one schema under spec.validation
    legacy = (spec.get("validation") or {}).get("openAPIV3Schema")
    if isinstance(legacy, dict):
        return legacy
    raise CrdError(f"{CRD_NAME} has no version {version}")


def load_crd_schema(path: Path) -> dict[str, Any]:
    """Read a CRD YAML or JSON file and return its v1 openAPIV3Schema."""
    try:
        with path.open() as stream:
            docs = list(yaml.load_all(stream, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
    except OSError as error:
        raise CrdError(f"cannot read {path}: {error.strerror}") from error
    except yaml.YAMLError as error:
        raise CrdError(f"{path} is not YAML: {error}") from error
    return openapi_schema_from_crd(docs)


def builtin_openapi_schema() -> dict[str, Any]:
    """The v1 schema shipped with the package (extracted from Seldon Core's CRD)."""
    text = resources.files(__package__).joinpath("data", BUILTIN_SCHEMA_FILE).read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


def _translate(node: Any) -> Any:
    """One OpenAPI (Kubernetes structural) schema node as a JSON Schema node."""
    if isinstance(node, list):
        return [_translate(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("description", "format", "nullable", "x-kubernetes-list-type"):
            continue
        if key in ("properties", "patternProperties"):
            out[key] = {name: _translate(sub) for name, sub in value.items()}
        else:
            out[key] = _translate(value)
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    bounds = _INT_RANGES.get(str(node.get("format")))
    if bounds and node.get("type") == "integer":
        out.setdefault("minimum", bounds[0])
        out.setdefault("maximum", bounds[1])
    if node.get("nullable") and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    if node.get("x-kubernetes-list-type") == "set":
        out["uniqueItems"] = True
    closed = (
        node.get("type") == "object"
        and "properties" in node
        and "additionalProperties" not in node
        and not node.get("x-kubernetes-preserve-unknown-fields")
    )
    if closed:
        out["additionalProperties"] = False
    return out


def _graph_schema(schema: dict[str, Any]) -> dict[str, Any] | None:
    try:
        graph = schema["properties"]["spec"]["properties"]["predictors"]["items"]
        node = graph["properties"]["graph"]
    except (KeyError, TypeError):
        return None
    return node if isinstance(node, dict) else None


def to_json_schema(openapi: Mapping[str, Any]) -> dict[str, Any]:
    """Translate a CRD's openAPIV3Schema into a JSON Schema (2020-12) document."""
    schema: dict[str, Any] = _translate(dict(openapi))
    graph = _graph_schema(schema)
    if graph is not None:
        children = (graph.get("properties") or {}).get("children")
        if isinstance(children, dict) and not children.get("items"):
            # The Go type is []PredictiveUnit: children are checked as graph nodes too.
            schema["$defs"] = {PREDICTIVE_UNIT_DEF: graph}
            children["items"] = {"$ref": f"#/$defs/{PREDICTIVE_UNIT_DEF}"}
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def _list_map_keys(
    validator: Validator, keys: Any, instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    """`x-kubernetes-list-map-keys`: no two items may share the same key values."""
    if not isinstance(instance, list):
        return
    # The API server applies defaults (a port's protocol: TCP) before comparing keys.
    item_properties = (schema.get("items") or {}).get("properties") or {}
    defaults = {k: (item_properties.get(k) or {}).get("default") for k in keys}
    seen: dict[tuple[str, ...], int] = {}
    for index, item in enumerate(instance):
        if not isinstance(item, Mapping):
            continue
        values = {k: item.get(k, defaults[k]) for k in keys}
        key = tuple(json.dumps(values[k], sort_keys=True) for k in keys)
        if key in seen:
            shown = ", ".join(f"{k}={values[k]!r}" for k in keys)
            yield ValidationError(
                f"duplicate entry ({shown}): items {seen[key]} and {index} share their keys",
                validator="x-kubernetes-list-map-keys",
                validator_value=keys,
                instance=instance,
                schema=schema,
                path=[index],
            )
        seen[key] = index


KubernetesValidator = validators.extend(  # type: ignore[no-untyped-call]
    Draft202012Validator, {"x-kubernetes-list-map-keys": _list_map_keys}
)


def validator_for(openapi: Mapping[str, Any]) -> Validator:
    """A JSON Schema validator enforcing a CRD schema the way the API server does."""
    validator: Validator = KubernetesValidator(to_json_schema(openapi))
    return validator


@functools.cache
def builtin_validator() -> Validator:
    """The validator for the built-in v1 schema, built once per process."""
    return validator_for(builtin_openapi_schema())
