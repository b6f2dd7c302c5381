"""The two samples `skew` compares: a training baseline file and a window of logged rows.

A baseline is Parquet or CSV (one column per feature, by name) or NPY (a 2-D array whose
columns are `f0, f1, ...`, as unnamed features are logged, or a structured array by field).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from seldon_tfserving.logs.reader import read_rows
from seldon_tfserving.logs.rows import FEATURE_PREFIX

Columns = dict[str, np.ndarray[Any, Any]]
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def table_columns(table: pa.Table, prefix: str = "") -> Columns:
    """A table's columns (those starting with `prefix`, which is dropped) as numpy arrays."""
    columns: Columns = {}
    for name in table.column_names:
        if not name.startswith(prefix):
            continue
        column = table[name]
        if pa.types.is_floating(column.type) or pa.types.is_integer(column.type):
            values = column.cast(pa.float64()).to_numpy(zero_copy_only=False)
        else:
            values = np.asarray(column.to_pylist(), dtype=object)
        columns[name[len(prefix) :]] = values
    return columns


def read_baseline(path: Path) -> Columns:
    """The training baseline's features by name."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(path)
    elif suffix == ".csv":
        import pyarrow.csv as pacsv

        table = pacsv.read_csv(path)
    elif suffix == ".npy":
        return _npy_columns(np.load(path, allow_pickle=False))
    else:
        raise ValueError(f"{path}: a baseline is .parquet, .csv or .npy, not {suffix or 'none'}")
    prefixed = any(name.startswith(FEATURE_PREFIX) for name in table.column_names)
    return table_columns(table, FEATURE_PREFIX if prefixed else "")


def _npy_columns(array: np.ndarray[Any, Any]) -> Columns:
    if array.dtype.names:
        return {name: np.asarray(array[name]) for name in array.dtype.names}
    if array.ndim == 1:
        array = array.reshape(-1, 1)
    if array.ndim != 2:
        raise ValueError(f"an NPY baseline is 2-D (rows x features), not shape {array.shape}")
    return {f"f{i}": array[:, i] for i in range(array.shape[1])}


def since_time(text: str, now: datetime | None = None) -> datetime:
    """`--since`: an ISO time, or a duration back from now (`30m`, `2h`, `1d`)."""
    match = _DURATION.match(text.strip())
    now = now or datetime.now(UTC)
    if match:
        return now - timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--since {text!r} is neither an ISO time nor 30m, 2h, 1d") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def serving_window(root: Path, since: datetime | None, node: str | None) -> pa.Table:
    """The logged rows to compare: of `node`, or one per instance when no node is named (a
    graph logs the same features at each node on the path)."""
    rows = read_rows(root, since=since, node=node)
    if rows.num_rows == 0 or node is not None:
        return rows
    seen: set[tuple[str, int]] = set()
    keep = []
    requests, instances = rows["request_id"].to_pylist(), rows["instance"].to_pylist()
    for i, key in enumerate(zip(requests, instances, strict=True)):
        if key not in seen:
            seen.add(key)
            keep.append(i)
    return rows.take(pa.array(keep, pa.int64()))
