"""A routing policy made safe to serve: one lock, and its learning kept in an optional file.

Seldon calls a router from several threads, and (REST and gRPC) from several processes. The
keeper serialises a policy's `choose`/`update` with a lock and, given a StateFile, restores
the statistics at start-up, saves them after every accepted feedback, and merges what sibling
processes saved before it routes or learns.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from seldon_tfserving.errors import ConfigurationError
from seldon_tfserving.policies.branches import BranchPolicy, BranchStats
from seldon_tfserving.policies.state import Stamp, StateFile, StateFileError

logger = logging.getLogger(__name__)

STATE_FORMAT = 1


class PolicyKeeper:
    """Thread-safe, optionally persistent front of one BranchPolicy."""

    def __init__(self, policy: BranchPolicy, kind: str, state_file: StateFile | None) -> None:
        self.policy = policy
        self.kind = kind
        self.state_file = state_file
        self.routed = [0] * policy.n_branches
        self._lock = threading.Lock()
        self._stamp: Stamp | None = None
        if state_file is not None:
            try:
                # Taking the writer lock proves the directory is usable before traffic comes.
                with state_file.exclusive():
                    self._merge_saved(strict=True)
            except (StateFileError, ValueError) as error:
                raise ConfigurationError("state_path", str(error)) from None
            except OSError as error:
                raise ConfigurationError(
                    "state_path", f"cannot use {state_file.path}: {error.strerror}"
                ) from None

    def choose(self, identity: str | None = None) -> int:
        """The branch for one request (after taking in what sibling processes learned)."""
        with self._lock:
            self._merge_saved(strict=False)
            branch = self.policy.choose(identity)
            self.routed[branch] += 1
            return branch

    def learn(self, branch: int | None, reward: float) -> int:
        """Apply one feedback and save it; invalid feedback raises InvalidInput, state unchanged."""
        with self._lock:
            checked = self.policy.check_feedback(branch, reward)
            if self.state_file is None:
                self.policy.update(checked, reward)
                return checked
            with self.state_file.exclusive():
                self._merge_saved(strict=False)
                self.policy.update(checked, reward)
                self._stamp = self.state_file.write(self.document())
            return checked

    def mean_reward(self, branch: int) -> float | None:
        """The mean reward `branch` has earned so far (None before its first feedback)."""
        with self._lock:
            return self.policy.stats.mean_reward(branch)

    def describe(self) -> dict[str, Any]:
        """The learned state plus this process's route counts, for health and metadata."""
        with self._lock:
            self._merge_saved(strict=False)
            report = self.policy.describe()
            for entry in report["branches"]:
                entry["routed"] = self.routed[entry["branch"]]
            report["policy"] = self.kind
            report["state_path"] = None if self.state_file is None else str(self.state_file.path)
            return report

    def document(self) -> dict[str, Any]:
        """The state file's content: what this router has learned, and for which policy."""
        return {
            "format": STATE_FORMAT,
            "policy": self.kind,
            "n_branches": self.policy.n_branches,
            "stats": self.policy.stats.to_json(),
        }

    def _merge_saved(self, strict: bool) -> None:
        """Take over the file's statistics if it changed since we last read or wrote it.

        The caller holds `self._lock`. At start-up (`strict`) a bad file is an error; while
        serving it is logged and our in-memory state stays in charge (and is written back on
        the next feedback).
        """
        if self.state_file is None:
            return
        if self._stamp is not None and self.state_file.stamp() == self._stamp:
            return
        try:
            saved = self.state_file.read()
            if saved is None:
                return
            document, stamp = saved
            self.policy.restore(self._stats_from(document))
        except (StateFileError, ValueError) as error:
            if strict:
                raise
            logger.error("ignoring unusable state file %s: %s", self.state_file.path, error)
            # Remember this version, so that it is reported once, not on every request.
            self._stamp = self.state_file.stamp()
            return
        self._stamp = stamp

    def _stats_from(self, document: dict[str, Any]) -> BranchStats:
        if document.get("format") != STATE_FORMAT:
            raise ValueError(f"unknown state format {document.get('format')!r}")
        if document.get("policy") != self.kind:
            raise ValueError(
                f"the state file holds {document.get('policy')!r} state, this router is "
                f"{self.kind!r}"
            )
        return BranchStats.from_json(document.get("stats"), self.policy.n_branches)
