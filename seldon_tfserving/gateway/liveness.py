"""Which components the runner reported dead: the gateway answers 503 for graphs that need
them instead of waiting on a connection that cannot succeed."""

from __future__ import annotations

import threading
from collections.abc import Sequence


class DownComponents:
    """Components the runner reported dead, with the reason (shared by every predictor)."""

    def __init__(self) -> None:
        self._down: dict[str, str] = {}
        self._lock = threading.Lock()

    def mark_down(self, key: str, reason: str) -> None:
        with self._lock:
            self._down[key] = reason

    def mark_up(self, key: str) -> None:
        with self._lock:
            self._down.pop(key, None)

    def first_down(self, keys: Sequence[str]) -> tuple[str, str] | None:
        """The first of `keys` reported dead, with its reason; None when all are up."""
        with self._lock:
            for key in keys:
                if key in self._down:
                    return key, self._down[key]
        return None
