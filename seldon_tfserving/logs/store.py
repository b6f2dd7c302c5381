"""The Parquet store: rows buffered, then written per partition, each file atomically.

Folders are hive-style (`deployment=/predictor=/node=/day=`) under one folder per table. A
file is written under a dot-name in its own folder, fsynced, then renamed: readers never see
half a file, and a crash leaves at most an ignored temp file.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import quote

import pyarrow as pa
import pyarrow.parquet as pq

from seldon_tfserving.logs.rows import PARTITION_COLUMNS, Row

#: (table, deployment, predictor, node, day)
PartitionKey = tuple[str, str, str, str, str]


def partition_folder(root: Path, key: PartitionKey) -> Path:
    table, *values = key
    parts = [
        f"{name}={quote(value, safe='')}"
        for name, value in zip(PARTITION_COLUMNS, values, strict=True)
    ]
    return root.joinpath(table, *parts)


def rows_table(rows: Sequence[Row]) -> pa.Table:
    """Rows as a table; a column mixing numbers and text is kept as text (nothing is lost)."""
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    columns: dict[str, pa.Array] = {}
    for name in names:
        values = [row.get(name) for row in rows]
        columns[name] = _column(values)
    return pa.table(columns)


def _column(values: list[object]) -> pa.Array:
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return pa.array(values, pa.int64())
    if present and all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return pa.array([None if v is None else float(v) for v in values], pa.float64())  # type: ignore[arg-type]
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if v is None else str(v) for v in values], pa.string())


def write_atomically(folder: Path, table: pa.Table) -> Path:
    """Write `table` as a new file in `folder`: temp name, fsync, rename, fsync the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    name = f"part-{time.time_ns()}-{uuid.uuid4().hex[:8]}.parquet"
    final, temp = folder / name, folder / f".{name}.tmp"
    with open(temp, "wb") as handle:
        pq.write_table(table, handle, compression="zstd")
        handle.flush()
        os.fsync(handle.fileno())
    os.rename(temp, final)
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    return final


class ParquetStore:
    """Buffers rows per partition and writes them every `batch_rows` rows or `batch_s`."""

    def __init__(
        self,
        root: Path,
        batch_rows: int = 1000,
        batch_s: float = 5.0,
        on_written: Callable[[int, int, float], None] | None = None,
    ) -> None:
        self.root = Path(root)
        self.batch_rows = batch_rows
        self.batch_s = batch_s
        #: (rows, events, seconds) of each flush that wrote something
        self._on_written = on_written or (lambda rows, events, seconds: None)
        self._buffer: defaultdict[PartitionKey, list[Row]] = defaultdict(list)
        self._buffered_rows = 0
        self._buffered_events = 0
        self._oldest: float | None = None
        self._lock = threading.Lock()
        self.files_written = 0

    def add(self, table: str, rows: Sequence[Row], events: int) -> None:
        """Buffer `rows` (which `events` events made); a full buffer is written at once."""
        with self._lock:
            for row in rows:
                key = (table, *(str(row[c]) for c in PARTITION_COLUMNS))
                self._buffer[key].append(row)  # type: ignore[index]
            self._buffered_rows += len(rows)
            self._buffered_events += events
            if self._oldest is None:
                self._oldest = time.monotonic()
            if self._buffered_rows >= self.batch_rows:
                self._flush_locked()

    def flush_if_due(self) -> None:
        with self._lock:
            if self._oldest is not None and time.monotonic() - self._oldest >= self.batch_s:
                self._flush_locked()

    def flush(self) -> None:
        with self._lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        if self._oldest is None:
            return
        started = time.perf_counter()
        rows, events = self._buffered_rows, self._buffered_events
        for key in list(self._buffer):
            write_atomically(partition_folder(self.root, key), rows_table(self._buffer[key]))
            del self._buffer[key]  # only once on disk: a failed write keeps the rest
            self.files_written += 1
        self._buffered_rows = self._buffered_events = 0
        self._oldest = None
        self._on_written(rows, events, time.perf_counter() - started)
