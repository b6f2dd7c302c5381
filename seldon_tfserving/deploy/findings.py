"""One shape for every problem the validator finds: where it is, what is wrong, how to fix it.

Schema checks and the operator's rules both report `Finding`s, so the command prints them the
same way and tests can match on the JSON path. A finding is an error (the manifest is refused)
or a warning (it deploys, but something will not work where the message says).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]
ERROR: Severity = "error"
WARNING: Severity = "warning"


@dataclass(frozen=True)
class Finding:
    """A problem at a JSON path of one document (`spec.predictors[0].graph.type`)."""

    path: str
    message: str
    fix: str
    #: errors refuse the manifest; warnings are printed and leave the exit status alone
    severity: Severity = ERROR

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def located(self, file: str, document: int | None = None) -> str:
        """`FILE: PATH: MESSAGE` and the fix on the next line, as the CLI prints it; a
        warning reads `FILE: PATH: warning: MESSAGE`.

        `document` (0-based) is shown 1-based when a file holds several documents.
        """
        where = file if document is None else f"{file} (document {document + 1})"
        label = "" if self.is_error else f"{self.severity}: "
        return f"{where}: {self.path or '(document)'}: {label}{self.message}\n    fix: {self.fix}"


def warning(path: str, message: str, fix: str) -> Finding:
    """A finding that does not refuse the manifest."""
    return Finding(path, message, fix, WARNING)


def errors_among(findings: Iterable[Finding]) -> list[Finding]:
    """The findings that refuse a manifest, in their order."""
    return [finding for finding in findings if finding.is_error]


def json_path(parts: Iterable[str | int]) -> str:
    """Kubernetes' field path spelling: `spec.predictors[0].graph.children[1].name`."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def child_path(path: str, *parts: str | int) -> str:
    """Extend a path: child_path('spec', 'predictors', 0) -> 'spec.predictors[0]'."""
    suffix = json_path(parts)
    if not path:
        return suffix
    return path + (suffix if suffix.startswith("[") else "." + suffix)
