"""Reading the store back: prediction rows with their latest feedback joined on.

Rows are written once; feedback that came later lives in its own files and is joined here on
(request id, node, instance), so a row is readable before its feedback exists.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from seldon_tfserving.logs.rows import ALL_INSTANCES, FEEDBACK, PREDICTIONS


def _files(root: Path, table: str, node: str | None) -> Iterator[Path]:
    for path in sorted((Path(root) / table).glob("*/*/*/*/*.parquet")):
        parts = dict(p.split("=", 1) for p in path.parent.relative_to(root / table).parts)
        if node is None or unquote(parts.get("node", "")) == node:
            yield path


def read_table(root: Path, table: str, node: str | None = None) -> pa.Table | None:
    """Every file of `table` (for one node), schemas unified; None when there is none."""
    tables = [pq.ParquetFile(path).read() for path in _files(root, table, node)]
    if not tables:
        return None
    return pa.concat_tables(tables, promote_options="permissive")


def read_rows(root: Path, since: datetime | None = None, node: str | None = None) -> pa.Table:
    """Prediction rows (from `since`, of `node`) with `reward`, `truth`, `truth_value`."""
    predictions = read_table(root, PREDICTIONS, node)
    if predictions is None:
        return pa.table({})
    if since is not None:
        predictions = predictions.filter(pc.greater_equal(predictions["time"], pa.scalar(since)))
    latest: dict[tuple[str, str, int], tuple[object, object, object]] = {}
    feedback = read_table(root, FEEDBACK, node)
    if feedback is not None:
        feedback = feedback.sort_by("time")
        for row in feedback.select(
            ["request_id", "node", "instance", "reward", "truth", "truth_value"]
        ).to_pylist():
            key = (row["request_id"], row["node"], int(row["instance"]))
            latest[key] = (row["reward"], row["truth"], row["truth_value"])
    keys = zip(
        predictions["request_id"].to_pylist(),
        predictions["node"].to_pylist(),
        predictions["instance"].to_pylist(),
        strict=True,
    )
    nothing = (None, None, None)
    joined = [
        latest.get((r, n, int(i))) or latest.get((r, n, ALL_INSTANCES), nothing) for r, n, i in keys
    ]
    return (
        predictions.append_column("reward", pa.array([j[0] for j in joined], pa.float64()))
        .append_column("truth", pa.array([j[1] for j in joined], pa.string()))
        .append_column("truth_value", pa.array([j[2] for j in joined], pa.float64()))
    )
