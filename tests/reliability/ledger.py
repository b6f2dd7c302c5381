"""The reliability suite's figures, one ledger per pytest session: requests sent, faults
injected, mismatches, answers by status. Under xdist each worker keeps its own and hands it to
the controller at its end (`hand_over`, `take_over`), which prints the sum."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest

#: Where a worker leaves its figures for the controller (xdist's `workeroutput`).
WORKER_OUTPUT_KEY = "reliability_ledger"


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

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": self.requests,
                "faults": dict(self.faults),
                "mismatches": self.mismatches,
                "drops": self.drops,
                "statuses": dict(self.statuses),
            }

    def add(self, figures: dict[str, Any]) -> None:
        with self._lock:
            self.requests += figures["requests"]
            self.faults.update(figures["faults"])
            self.mismatches += figures["mismatches"]
            self.drops += figures["drops"]
            self.statuses.update(figures["statuses"])


_LEDGER_KEY = pytest.StashKey[ReliabilityLedger]()


def ledger_of(config: pytest.Config) -> ReliabilityLedger:
    """This process's ledger (made on first use)."""
    if _LEDGER_KEY not in config.stash:
        config.stash[_LEDGER_KEY] = ReliabilityLedger()
    return config.stash[_LEDGER_KEY]


def recorded(config: pytest.Config) -> ReliabilityLedger | None:
    return config.stash.get(_LEDGER_KEY, None)


def hand_over(config: pytest.Config) -> None:
    """In an xdist worker: leave this worker's figures for the controller."""
    ledger = recorded(config)
    output = getattr(config, "workeroutput", None)
    if ledger is not None and output is not None:
        output[WORKER_OUTPUT_KEY] = ledger.as_dict()


def take_over(config: pytest.Config, worker_output: dict[str, Any]) -> None:
    """In the controller: add a finished worker's figures."""
    figures = worker_output.get(WORKER_OUTPUT_KEY)
    if figures:
        ledger_of(config).add(figures)


def write_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    ledger = recorded(config)
    if ledger is None:
        return
    terminalreporter.section("reliability figures")
    for line in ledger.summary_lines():
        terminalreporter.write_line(line)
