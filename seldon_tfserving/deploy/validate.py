"""Validate manifest files: the CRD schema first, then the operator's and our own rules.

As on a cluster, a document is checked against the schema of the version its apiVersion
names, and one that fails it is refused before the operator's webhook sees it, so its semantic
rules run only once the schema passes. The pod rules then read the pods as the operator builds
them (TENSORFLOW_SERVER expanded, `tensorflow_server.py`). Every problem comes back as a
`Finding` with the JSON path and a fix; the protocol's rules add warnings for what deploys but
works only with our local gateway.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from seldon_tfserving.deploy import (
    code_loading_env,
    component_rules,
    semantics,
    tensorflow_protocol,
    tfserving_checks,
)
from seldon_tfserving.deploy.findings import Finding, errors_among, json_path
from seldon_tfserving.deploy.schema import CrdSchemas, ValidationError, Validator
from seldon_tfserving.deploy.tensorflow_server import expand_tensorflow_servers

SELDON_KIND = "SeldonDeployment"
#: One validator (for v1 only, as before versions were known), or one per served version.
Schemas = Validator | CrdSchemas


@dataclass
class DocumentReport:
    """The outcome for one YAML document of a file."""

    file: str
    index: int
    kind: str
    name: str
    findings: list[Finding] = field(default_factory=list)
    checked: bool = True

    @property
    def errors(self) -> list[Finding]:
        return errors_among(self.findings)

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if not f.is_error]

    def lines(self, multi: bool, warnings: bool = False) -> list[str]:
        """Each error as the CLI prints it, and each warning too when asked for."""
        shown = self.findings if warnings else self.errors
        return [f.located(self.file, self.index if multi else None) for f in shown]


def schema_findings(validator: Validator, doc: Any) -> list[Finding]:
    """The CRD schema's verdict on one document, as findings with paths and fixes."""
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
    return [_schema_finding(error) for error in errors]


def _schema_finding(error: ValidationError) -> Finding:
    path = json_path(error.absolute_path)
    kind = error.validator
    node_schema: Mapping[str, Any] = error.schema if isinstance(error.schema, Mapping) else {}
    if kind == "additionalProperties":
        known = node_schema.get("properties") or {}
        instance = error.instance if isinstance(error.instance, Mapping) else {}
        extra = sorted(set(instance) - set(known))
        allowed = ", ".join(sorted(known))
        field_path = json_path([*error.absolute_path, extra[0]]) if extra else path
        return Finding(
            field_path,
            f"unknown field {', '.join(map(repr, extra))} (the API server refuses unknown fields)",
            f"check the spelling or move it; fields allowed here: {allowed}",
        )
    if kind == "required":
        missing = str(error.message).split("'")[1] if "'" in error.message else "?"
        return Finding(
            json_path([*error.absolute_path, missing]),
            f"required field {missing!r} is missing",
            f"add {missing}",
        )
    if kind == "type":
        expected = error.validator_value
        return Finding(
            path,
            f"{error.instance!r} is not of type {expected}",
            f"write a{'n' if str(expected)[0] in 'aeiou' else ''} {expected} here",
        )
    if kind in ("pattern", "anyOf"):
        return Finding(
            path,
            f"{error.instance!r} is not a Kubernetes quantity or int-or-string value",
            "write a number or a quantity such as 500m, 2, 1Gi",
        )
    if kind in ("minimum", "maximum"):
        return Finding(
            path,
            f"{error.instance!r} is out of range ({error.message})",
            "use a value within the field's range",
        )
    if kind == "enum":
        return Finding(
            path, error.message, "use one of " + ", ".join(map(str, node_schema.get("enum") or ()))
        )
    return Finding(path, error.message, "make it match the CRD schema")


def check_configmap(doc: Mapping[str, Any]) -> list[Finding]:
    """The shape Kubernetes requires of a ConfigMap shipped beside a deployment."""
    findings = []
    if not (doc.get("metadata") or {}).get("name"):
        findings.append(Finding("metadata.name", "the ConfigMap has no name", "set metadata.name"))
    data = doc.get("data")
    if data is not None and not isinstance(data, Mapping):
        findings.append(Finding("data", "data must be a map of strings", "write key: value pairs"))
    for key, value in (data or {}).items() if isinstance(data, Mapping) else ():
        if not isinstance(value, str):
            findings.append(Finding(f"data.{key}", f"{value!r} is not a string", "quote the value"))
    return findings


def as_crd_schemas(validator: Schemas) -> CrdSchemas:
    """A bare validator is the v1 schema alone."""
    return validator if isinstance(validator, CrdSchemas) else CrdSchemas({"v1": validator})


def version_findings(schemas: CrdSchemas, doc: Mapping[str, Any]) -> list[Finding]:
    """The API server knows a SeldonDeployment only in the versions its CRD serves."""
    api_version = str(doc.get("apiVersion"))
    if schemas.validator(api_version) is not None:
        return []
    return [
        Finding(
            "apiVersion",
            f"apiVersion {doc.get('apiVersion')!r} is not served by the SeldonDeployment CRD "
            f"(it serves {schemas.api_versions()})",
            f"set apiVersion: {schemas.api_versions().split(', ')[0]}",
        )
    ]


def validate_documents(
    docs: list[Any], validator: Schemas, file: str = "<input>"
) -> list[DocumentReport]:
    """Check every document of one file against the schema of its apiVersion; other
    documents (ConfigMaps) give context."""
    schemas = as_crd_schemas(validator)
    reports = []
    for index, doc in enumerate(docs):
        if not isinstance(doc, Mapping):
            reports.append(
                DocumentReport(
                    file,
                    index,
                    "?",
                    "",
                    [Finding("", "not a YAML mapping", "write a Kubernetes object")],
                )
            )
            continue
        kind = str(doc.get("kind"))
        name = str((doc.get("metadata") or {}).get("name", ""))
        report = DocumentReport(file, index, kind, name)
        if kind == SELDON_KIND:
            version_schema = schemas.validator(str(doc.get("apiVersion")))
            report.findings = (
                schema_findings(version_schema, doc)
                if version_schema is not None
                else version_findings(schemas, doc)
            )
            if not report.findings:
                report.findings = validate_semantics(doc, docs)
        elif kind == "ConfigMap":
            report.findings = check_configmap(doc)
        else:
            report.checked = False
        reports.append(report)
    if not any(r.kind == SELDON_KIND for r in reports):
        reports.append(
            DocumentReport(
                file,
                len(docs),
                "-",
                "",
                [
                    Finding(
                        "", "no SeldonDeployment in this file", "add one (kind: SeldonDeployment)"
                    )
                ],
            )
        )
    return reports


def validate_semantics(doc: Mapping[str, Any], context: list[Any]) -> list[Finding]:
    """Every rule beyond the schema, for a document that passed the schema: the webhook's on
    the document as written, the pods' on the pods the operator builds from it."""
    expansion = expand_tensorflow_servers(doc)
    pods = expansion.document
    return (
        component_rules.check_metadata(doc)
        + semantics.check_deployment(doc)
        + list(expansion.findings)
        + expansion.relocate(
            component_rules.check_pods(pods)
            + code_loading_env.check_code_loading_env(pods)
            + component_rules.check_our_classes(pods)
            + tfserving_checks.check_tfserving_pods(pods, context)
            + tensorflow_protocol.check_tensorflow_protocol(pods, context)
        )
    )


def load_yaml_documents(path: Path) -> list[Any]:
    """Every non-empty YAML document of a file (raises OSError or yaml.YAMLError)."""
    with path.open() as stream:
        return [doc for doc in yaml.safe_load_all(stream) if doc is not None]


def validate_file(path: Path, validator: Schemas) -> list[DocumentReport]:
    """Check one manifest file (`-`: standard input); unreadable or non-YAML files become one
    finding."""
    try:
        if str(path) == "-":
            docs = [doc for doc in yaml.safe_load_all(sys.stdin) if doc is not None]
        else:
            docs = load_yaml_documents(path)
    except OSError as error:
        return [DocumentReport(str(path), 0, "-", "", [_unreadable(error.strerror or str(error))])]
    except yaml.YAMLError as error:
        return [DocumentReport(str(path), 0, "-", "", [_not_yaml(error)])]
    return validate_documents(docs, validator, str(path))


def _unreadable(reason: str) -> Finding:
    return Finding("", f"cannot read the file: {reason}", "check the path")


def _not_yaml(error: yaml.YAMLError) -> Finding:
    return Finding("", f"not valid YAML: {error}".replace("\n", " "), "fix the YAML syntax")
