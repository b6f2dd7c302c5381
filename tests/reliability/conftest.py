"""The reliability suite's ledger: every test adds what it sent, injected and saw.

The figures (requests sent, faults injected, mismatches, answers by status) are printed at the
end of the run, so a green run still says how much load and how many faults it survived.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field

import pytest


@dataclass
class ReliabilityLedger:
    """Thread-safe counters shared by the reliability tests of one pytest session."""

    requests: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    mismatches: int = 0
    drops: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def answered(self, status: str, count: int = 1) -> None:
        with self._lock:
            self.requests += count
            self.statuses[status] += count

    def mismatched(self, count: int = 1) -> None:
        with self._lock:
            self.mismatches += count

    def dropped(self, count: int = 1) -> None:
        with self._lock:
            self.drops += count

    def injected(self, fault: str) -> None:
        with self._lock:
            self.faults[fault] += 1

    def summary_lines(self) -> list[str]:
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(self.statuses.items())) or "none"
        faults = ", ".join(f"{k}: {v}" for k, v in sorted(self.faults.items())) or "none"
        return [
            f"requests sent: {self.requests}",
            f"faults injected: {sum(self.faults.values())} ({faults})",
            f"mismatches: {self.mismatches}, drops: {self.drops}",
            f"answers by status: {statuses}",
        ]


_LEDGER_KEY = pytest.StashKey[ReliabilityLedger]()


@pytest.fixture(scope="session")
def ledger(request: pytest.FixtureRequest) -> ReliabilityLedger:
    """The session's ledger; its figures are printed in the terminal summary."""
    config = request.config
    if _LEDGER_KEY not in config.stash:
        config.stash[_LEDGER_KEY] = ReliabilityLedger()
    return config.stash[_LEDGER_KEY]


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    recorded = config.stash.get(_LEDGER_KEY, None)
    if recorded is None:
        return
    terminalreporter.section("reliability figures")
    for line in recorded.summary_lines():
        terminalreporter.write_line(line)
