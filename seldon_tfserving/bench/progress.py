"""A one-line progress bar on stderr, so a long bench run shows where it is."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    """`[#####.....] 12/54  label  0:42 left` redrawn in place; plain lines when not a TTY."""

    def __init__(self, total_steps: int, stream: TextIO | None = None, width: int = 30) -> None:
        self.total_steps = max(1, total_steps)
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.started = time.monotonic()
        self.step = 0
        self.label = ""
        self._interactive = self.stream.isatty()
        self._last_line_len = 0

    def begin_step(self, label: str) -> None:
        """Start the next step (1-based in the display); non-TTY streams get one line per step."""
        self.label = label
        if not self._interactive:
            self.stream.write(f"[{self.step + 1}/{self.total_steps}] {label}\n")
            self.stream.flush()
        self.update(0.0)

    def update(self, fraction_of_step: float) -> None:
        if not self._interactive:
            return
        done = (self.step + min(max(fraction_of_step, 0.0), 1.0)) / self.total_steps
        filled = int(round(done * self.width))
        elapsed = time.monotonic() - self.started
        left = elapsed / done - elapsed if done > 0.01 else float("nan")
        eta = "--:--" if left != left else f"{int(left) // 60}:{int(left) % 60:02d}"
        line = (
            f"\r[{'#' * filled}{'.' * (self.width - filled)}] "
            f"{self.step + 1}/{self.total_steps} {self.label}  {eta} left"
        )
        padding = " " * max(0, self._last_line_len - len(line))
        self.stream.write(line + padding)
        self.stream.flush()
        self._last_line_len = len(line)

    def end_step(self) -> None:
        self.step += 1

    def close(self) -> None:
        if self._interactive:
            self.stream.write("\n")
            self.stream.flush()
