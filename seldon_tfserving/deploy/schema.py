"""The SeldonDeployment CRD's OpenAPI schemas, made checkable by a JSON Schema validator.

The API server checks a manifest against the `openAPIV3Schema` of the version its apiVersion
names (Seldon's CRD serves v1, v1alpha2 and v1alpha3), plus a few Kubernetes keywords JSON
Schema does not know. This module reads those schemas (built in, extracted from Seldon Core's
CRD by `schema_data.py`, or from a user's CRD dump) and translates the Kubernetes parts so
`jsonschema` enforces what the API server would: int-or-string, int32/int64 ranges, nullable,
list-map keys, and unknown fields refused (kubectl's default `--validate=strict`).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

try:
    from jsonschema import Draft202012Validator, validators
    from jsonschema import ValidationError as ValidationError
    from jsonschema.protocols import Validator as Validator
except ImportError as too_old:  # seldon-core 1.17.1 (the Apache-2.0 stack) pins jsonschema < 4
    raise ImportError(
        "validating manifests needs jsonschema 4 or later (the CRD's draft 2020-12 checks); "
        "seldon-core 1.17.1 pins jsonschema < 4, so validate from the default stack's venv"
    ) from too_old

#: The package data file holding the v1 openAPIV3Schema (descriptions stripped).
BUILTIN_SCHEMA_FILE = "seldondeployment-v1.openapi.json"
#: The package data file naming, for each served version, the file holding its schema (one
#: file per distinct schema: Seldon's three versions share one).
BUILTIN_VERSIONS_FILE = "seldondeployment-versions.json"
GROUP = "machinelearning.seldon.io"
CRD_NAME = f"seldondeployments.{GROUP}"
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


def _seldon_crd(docs: list[Any]) -> Mapping[str, Any]:
    crds = list(_crd_documents(docs))
    if not crds:
        raise CrdError("no CustomResourceDefinition in the file")
    crd = next((c for c in crds if (c.get("metadata") or {}).get("name") == CRD_NAME), None)
    if crd is None:
        names = ", ".join(str((c.get("metadata") or {}).get("name")) for c in crds)
        raise CrdError(f"no CRD named {CRD_NAME} (found: {names})")
    return crd


def served_versions(docs: list[Any]) -> list[str]:
    """The versions a SeldonDeployment CRD serves, in its order (v1beta1: `spec.version` too)."""
    spec = _seldon_crd(docs).get("spec") or {}
    versions = [
        str(entry.get("name"))
        for entry in spec.get("versions") or ()
        if entry.get("served", True) and entry.get("name")
    ]
    if not versions and spec.get("version"):
        versions = [str(spec["version"])]
    return versions


def openapi_schemas_from_crd(docs: list[Any]) -> dict[str, dict[str, Any]]:
    """version -> `openAPIV3Schema`, for every version the SeldonDeployment CRD serves."""
    return {version: openapi_schema_from_crd(docs, version) for version in served_versions(docs)}


def openapi_schema_from_crd(docs: list[Any], version: str = "v1") -> dict[str, Any]:
    """The `openAPIV3Schema` of `version` in a SeldonDeployment CRD (as kubectl prints it)."""
    crd = _seldon_crd(docs)
    spec = crd.get("spec") or {}
    # apiextensions.k8s.io/v1beta1 CRDs carry one schema for all versions, in spec.validation
    legacy = (spec.get("validation") or {}).get("openAPIV3Schema")
    for entry in spec.get("versions") or ():
        if entry.get("name") == version:
            schema = (entry.get("schema") or {}).get("openAPIV3Schema", legacy)
            if not isinstance(schema, dict):
                raise CrdError(f"version {version} of {CRD_NAME} has no openAPIV3Schema")
            return schema
    if isinstance(legacy, dict):
        return legacy
    raise CrdError(f"{CRD_NAME} has no version {version}")


def load_crd_documents(path: Path) -> list[Any]:
    """The documents of a CRD YAML or JSON file (CrdError when it cannot be read)."""
    try:
        with path.open() as stream:
            return list(yaml.load_all(stream, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
    except OSError as error:
        raise CrdError(f"cannot read {path}: {error.strerror}") from error
    except yaml.YAMLError as error:
        raise CrdError(f"{path} is not YAML: {error}") from error


def load_crd_schema(path: Path) -> dict[str, Any]:
    """Read a CRD YAML or JSON file and return its v1 openAPIV3Schema."""
    return openapi_schema_from_crd(load_crd_documents(path))


def _data_text(name: str) -> str:
    return resources.files(__package__).joinpath("data", name).read_text()


def builtin_openapi_schema(version: str = "v1") -> dict[str, Any]:
    """The schema of `version` shipped with the package (extracted from Seldon Core's CRD)."""
    files: dict[str, str] = json.loads(_data_text(BUILTIN_VERSIONS_FILE))
    if version not in files:
        raise CrdError(f"the built-in CRD has no version {version}")
    schema: dict[str, Any] = json.loads(_data_text(files[version]))
    return schema


def builtin_versions() -> list[str]:
    """The versions the built-in CRD serves, v1 first."""
    return list(json.loads(_data_text(BUILTIN_VERSIONS_FILE)))


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


@dataclass(frozen=True)
class CrdSchemas:
    """One validator per version a CRD serves: a manifest is checked against the schema of
    the version its apiVersion names, as the API server checks it."""

    validators: Mapping[str, Validator]

    @property
    def versions(self) -> tuple[str, ...]:
        return tuple(self.validators)

    def validator(self, api_version: str) -> Validator | None:
        """The validator for `machinelearning.seldon.io/<version>`; None when not served."""
        group, _, version = api_version.rpartition("/")
        if group != GROUP:
            return None
        return self.validators.get(version)

    def api_versions(self) -> str:
        """The apiVersions served, as a message lists them."""
        return ", ".join(f"{GROUP}/{version}" for version in self.versions)


def crd_schemas(openapi: Mapping[str, Mapping[str, Any]]) -> CrdSchemas:
    """Validators for version -> openAPIV3Schema; versions sharing one schema share one."""
    built: dict[str, Validator] = {}
    validators: dict[str, Validator] = {}
    for version, schema in openapi.items():
        key = json.dumps(schema, sort_keys=True)
        if key not in built:
            built[key] = validator_for(schema)
        validators[version] = built[key]
    return CrdSchemas(validators)


def load_crd_schemas(path: Path) -> CrdSchemas:
    """The validators of every version a user's CRD file serves."""
    return crd_schemas(openapi_schemas_from_crd(load_crd_documents(path)))


@functools.cache
def builtin_schemas() -> CrdSchemas:
    """The validators of every version Seldon Core's CRD serves, built once per process
    (v1 shares the validator `builtin_validator` returns)."""
    schemas = {version: builtin_openapi_schema(version) for version in builtin_versions()}
    validators = dict(crd_schemas(schemas).validators)
    v1 = schemas.get("v1")
    for version, schema in schemas.items():
        if schema == v1:
            validators[version] = builtin_validator()
    return CrdSchemas(validators)
