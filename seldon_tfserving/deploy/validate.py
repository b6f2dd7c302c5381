"""Validate manifest files: the CRD schema first, then the operator's and our own rules.

As on a cluster, a document that fails the schema is refused before the operator's webhook
sees it, so its semantic rules run only once the schema passes. Every problem comes back as a
`Finding` with the JSON path and a fix.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from jsonschema import ValidationError
from jsonschema.protocols import Validator

from seldon_tfserving.deploy import component_rules, semantics, tfserving_checks
from seldon_tfserving.deploy.findings import Finding, json_path

SELDON_KIND = "SeldonDeployment"


@dataclass
class DocumentReport:
    """The outcome for one YAML document of a file."""

    file: str
    index: int
    kind: str
    name: str
    findings: list[Finding] = field(default_factory=list)
    checked: bool = True

    def lines(self, multi: bool) -> list[str]:
        return [f.located(self.file, self.index if multi else None) for f in self.findings]


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


def validate_documents(
    docs: list[Any], validator: Validator, file: str = "<input>"
) -> list[DocumentReport]:
    """Check every document of one file; other documents (ConfigMaps) give context."""
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
            report.findings = schema_findings(validator, doc)
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
    """Every rule beyond the schema, for a document that passed the schema."""
    return (
        component_rules.check_metadata(doc)
        + semantics.check_deployment(doc)
        + component_rules.check_pods(doc)
        + component_rules.check_our_classes(doc)
        + tfserving_checks.check_tfserving_pods(doc, context)
    )


def load_yaml_documents(path: Path) -> list[Any]:
    """Every non-empty YAML document of a file (raises OSError or yaml.YAMLError)."""
    with path.open() as stream:
        return [doc for doc in yaml.safe_load_all(stream) if doc is not None]


def validate_file(path: Path, validator: Validator) -> list[DocumentReport]:
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
