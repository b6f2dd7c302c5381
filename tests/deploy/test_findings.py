"""A finding is an error or a warning: both printed with path and fix, only errors refuse."""

from __future__ import annotations

from seldon_tfserving.deploy.findings import ERROR, WARNING, Finding, errors_among, warning
from seldon_tfserving.deploy.validate import DocumentReport

ERROR_FINDING = Finding("spec.predictors", "Graph contains no predictors", "add one")
WARNING_FINDING = warning("spec.predictors[0].graph", "works locally only", "run it with up")


def test_a_finding_is_an_error_unless_made_a_warning() -> None:
    assert ERROR_FINDING.severity == ERROR and ERROR_FINDING.is_error
    assert WARNING_FINDING.severity == WARNING and not WARNING_FINDING.is_error
    assert errors_among([WARNING_FINDING, ERROR_FINDING, WARNING_FINDING]) == [ERROR_FINDING]


def test_an_error_prints_as_before_and_a_warning_says_so() -> None:
    assert ERROR_FINDING.located("g.yaml") == (
        "g.yaml: spec.predictors: Graph contains no predictors\n    fix: add one"
    )
    assert WARNING_FINDING.located("g.yaml", 1) == (
        "g.yaml (document 2): spec.predictors[0].graph: warning: works locally only\n"
        "    fix: run it with up"
    )


def test_a_report_prints_its_warnings_only_when_asked() -> None:
    report = DocumentReport("g.yaml", 0, "SeldonDeployment", "g", [WARNING_FINDING, ERROR_FINDING])
    assert report.errors == [ERROR_FINDING]
    assert report.warnings == [WARNING_FINDING]
    assert report.lines(False) == [ERROR_FINDING.located("g.yaml")]
    assert report.lines(True, warnings=True) == [
        WARNING_FINDING.located("g.yaml", 0),
        ERROR_FINDING.located("g.yaml", 0),
    ]
