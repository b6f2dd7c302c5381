"""One shape for every problem the validator finds: where it is, what is wrong, how to fix it.

Schema checks and the operator's rules both report `Finding`s, so the command prints them the
same way and tests can match on the JSON path.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    """A problem at a JSON path of one document (`spec.predictors[0].graph.type`)."""

    path: str
    message: str
    fix: str

    def located(self, file: str, document: int | None = None) -> str:
        """`FILE: PATH: MESSAGE` and the fix on the next line, as the CLI prints it.

        `document` (0-based) is shown 1-based when a file holds several documents.
        """
        where = file if document is None else f"{file} (document {document + 1})"
        return f"{where}: {self.path or '(document)'}: {self.message}\n    fix: {self.fix}"


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
