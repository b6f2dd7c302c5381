"""How each model version did, from the feedback joined to its rows: mean reward, and
accuracy where a truth came back (the predicted class against the true one)."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import pyarrow as pa


@dataclass(frozen=True)
class VersionScore:
    model_name: str
    model_version: str
    rows: int
    rewarded: int
    mean_reward: float | None
    with_truth: int
    accuracy: float | None


def predicted_class(text: str | None) -> Any:
    """A prediction's (or truth's) class: the index of its largest score, or its one value."""
    if text is None:
        return None
    value = json.loads(text)
    while isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, list) and value and all(isinstance(v, int | float) for v in value):
        return max(range(len(value)), key=value.__getitem__)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def version_scores(rows: pa.Table) -> list[VersionScore]:
    """One score per (model, version) among answered rows."""
    if rows.num_rows == 0:
        return []
    groups: defaultdict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    columns = ["model_name", "model_version", "prediction", "reward", "truth"]
    for row in rows.select(columns).to_pylist():
        if row["prediction"] is None:
            continue
        groups[(str(row["model_name"]), str(row["model_version"] or "-"))].append(row)
    scores = []
    for (model, version), members in sorted(groups.items()):
        rewards = [r["reward"] for r in members if r["reward"] is not None]
        truths = [r for r in members if r["truth"] is not None]
        hits = sum(predicted_class(r["prediction"]) == predicted_class(r["truth"]) for r in truths)
        scores.append(
            VersionScore(
                model_name=model,
                model_version=version,
                rows=len(members),
                rewarded=len(rewards),
                mean_reward=sum(rewards) / len(rewards) if rewards else None,
                with_truth=len(truths),
                accuracy=hits / len(truths) if truths else None,
            )
        )
    return scores
