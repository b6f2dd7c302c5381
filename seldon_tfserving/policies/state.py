"""A router's learned state in a JSON file: atomic writes, one writer at a time, change checks.

`seldon-core-microservice` serves REST from a gunicorn worker and gRPC from another process,
each with its own copy of the router. With a state file they share what they learn: every
update is a read-merge-write under an exclusive `flock`, and a route first re-reads the file
if its identity (inode, mtime, size) changed. Writes go to a temporary file in the same
directory, are fsynced and renamed over the old one, so a reader or a crash never sees half.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: Identity of one version of the file: a rename always gives a new inode or mtime.
Stamp = tuple[int, int, int]


class StateFileError(ValueError):
    """The state file exists but cannot be read as a state document."""


class StateFile:
    """One JSON document on disk, shared by the processes of a pod and kept across restarts."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")

    def stamp(self) -> Stamp | None:
        """The identity of the file now; None when there is no file yet."""
        try:
            status = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (status.st_ino, status.st_mtime_ns, status.st_size)

    def read(self) -> tuple[dict[str, Any], Stamp] | None:
        """The document and the stamp of exactly the version read; None when there is none."""
        try:
            with open(self.path, "rb") as handle:
                status = os.fstat(handle.fileno())
                raw = handle.read()
        except FileNotFoundError:
            return None
        try:
            document = json.loads(raw)
        except (ValueError, RecursionError) as error:  # also too deep, or a 5000-digit number
            raise StateFileError(f"{self.path} is not valid JSON: {error}") from None
        if not isinstance(document, dict):
            raise StateFileError(f"{self.path} does not hold a JSON object")
        return document, (status.st_ino, status.st_mtime_ns, status.st_size)

    def write(self, document: dict[str, Any]) -> Stamp:
        """Replace the file atomically with `document`; returns the new version's stamp."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = json.dumps(document, indent=2, sort_keys=True).encode("utf-8")
        descriptor, temporary = tempfile.mkstemp(
            prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent
        )
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
        self._fsync_directory()
        stamp = self.stamp()
        assert stamp is not None, "the file was just renamed into place"
        return stamp

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the pod-wide writer lock (an flock on a sibling `.lock` file)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.lock_path, "a+b") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def _fsync_directory(self) -> None:
        # The rename itself is durable only once the directory entry is on disk.
        descriptor = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
