"""Events the sink could not use, kept with the reason so nothing is dropped unseen.

One JSON line per event (headers, base64 body, reason) in a daily file, fsynced before the
sender is answered: a dead letter is as durable as the sender believes it is.
"""

from __future__ import annotations

import base64
import json
import os
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

DEAD_LETTER_FOLDER = "dead-letter"


class DeadLetters:
    """Appends refused events to `root/dead-letter/<day>.jsonl`."""

    def __init__(self, root: Path) -> None:
        self.folder = Path(root) / DEAD_LETTER_FOLDER
        self._lock = threading.Lock()

    def keep(self, reason: str, headers: Mapping[str, str], body: bytes) -> Path:
        now = datetime.now(UTC)
        line = json.dumps(
            {
                "time": now.isoformat(),
                "reason": reason,
                "headers": dict(headers),
                "body_base64": base64.b64encode(body).decode("ascii"),
            }
        )
        path = self.folder / f"{now.date().isoformat()}.jsonl"
        with self._lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            with open(path, "a", encoding="utf-8") as handle:
                handle.write(line + "\n")
                handle.flush()
                os.fsync(handle.fileno())
        return path


def read_dead_letters(root: Path) -> list[dict[str, object]]:
    """Every dead letter under `root`, oldest file first."""
    folder = Path(root) / DEAD_LETTER_FOLDER
    letters: list[dict[str, object]] = []
    for path in sorted(folder.glob("*.jsonl")):
        letters += [json.loads(line) for line in path.read_text().splitlines() if line]
    return letters
