"""A live status line per child (starting / ready / failed), on a terminal or in a log.

On a TTY the block of lines is redrawn in place; elsewhere (CI, a pipe, a test) each change
is written as one line, so the same display works in both.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TextIO

STARTING, READY, FAILED, STOPPED = "starting", "ready", "failed", "stopped"
_MARKS = {STARTING: "…", READY: "✓", FAILED: "✗", STOPPED: "·"}


@dataclass
class _Line:
    kind: str
    name: str
    state: str
    detail: str
    since: float


class ProgressBoard:
    """Thread-safe: the watcher thread reports failures while the main thread waits."""

    def __init__(self, stream: TextIO | None, *, live: bool | None = None) -> None:
        self.stream = stream
        self.live = bool(live if live is not None else stream is not None and stream.isatty())
        self._lines: dict[str, _Line] = {}
        self._drawn = 0
        self._lock = threading.Lock()

    def set(self, kind: str, name: str, state: str, detail: str = "") -> None:
        """Record `name`'s new state and show it."""
        with self._lock:
            line = self._lines.get(name)
            if line is None or line.state != state:
                started = line.since if line is not None and state != STARTING else time.monotonic()
                line = _Line(kind, name, state, detail, started)
                self._lines[name] = line
                changed = True
            else:
                changed = line.detail != detail
                line.detail = detail
            if self.stream is None or not changed:
                return
            if self.live:
                self._redraw()
            else:
                self.stream.write(self._format(line) + "\n")
            self.stream.flush()

    def state(self, name: str) -> str | None:
        with self._lock:
            line = self._lines.get(name)
            return line.state if line else None

    def message(self, text: str) -> None:
        """A line of its own below the board (it is not redrawn)."""
        with self._lock:
            if self.stream is None:
                return
            self.stream.write(text + "\n")
            self.stream.flush()
            self._drawn = 0

    def _format(self, line: _Line) -> str:
        elapsed = time.monotonic() - line.since
        timing = f" ({elapsed:.1f} s)" if line.state in (READY, FAILED) else ""
        detail = f"  {line.detail}" if line.detail else ""
        return f"  {_MARKS[line.state]} {line.state:<8} {line.kind:<9} {line.name}{timing}{detail}"

    def _redraw(self) -> None:
        assert self.stream is not None
        if self._drawn:
            self.stream.write(f"\x1b[{self._drawn}F")
        for line in self._lines.values():
            self.stream.write("\x1b[2K" + self._format(line) + "\n")
        self._drawn = len(self._lines)
