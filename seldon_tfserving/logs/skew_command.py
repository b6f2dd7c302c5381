"""`seldon-tfserving skew`: logged traffic against a training baseline, feature by feature.

Prints a table, writes JSON and a PNG when asked, and exits 1 when a feature drifted (its
corrected p-value under --threshold, or its PSI at --psi-threshold or more), so a retraining
job can be gated on it; 2 when the inputs cannot be compared.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TextIO

from seldon_tfserving.logs.accuracy import VersionScore, version_scores
from seldon_tfserving.logs.baseline import read_baseline, serving_window, since_time, table_columns
from seldon_tfserving.logs.drift import FeatureDrift, feature_drift
from seldon_tfserving.logs.rows import FEATURE_PREFIX


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--logs", type=Path, required=True, help="the log sink's folder")
    parser.add_argument(
        "--baseline", type=Path, required=True, help="training features (.parquet, .csv, .npy)"
    )
    parser.add_argument("--since", help="window start: an ISO time, or 30m, 2h, 1d back")
    parser.add_argument(
        "--node", help="the graph node whose rows to take (default: one per instance)"
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=0.05,
        help="significance level of the corrected tests (default 0.05)",
    )
    parser.add_argument(
        "--psi-threshold",
        type=float,
        default=0.25,
        help="PSI from which a feature counts as drifted too (default 0.25)",
    )
    parser.add_argument(
        "--correction",
        choices=("bonferroni", "fdr"),
        default="bonferroni",
        help="multiple-testing correction across features",
    )
    parser.add_argument(
        "--categorical",
        action="append",
        default=[],
        metavar="FEATURE",
        help="test this numeric feature as categories (repeatable)",
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the report as JSON")
    parser.add_argument("--png", type=Path, metavar="FILE", help="write the histograms as PNG")


def print_report(out: TextIO, drifts: list[FeatureDrift], scores: list[VersionScore]) -> None:
    out.write(
        f"{'feature':<20} {'kind':<12} {'test':<19} {'statistic':>9} {'p (corr.)':>10} "
        f"{'PSI':>7} {'n base':>7} {'n serve':>7}  verdict\n"
    )
    for d in drifts:
        verdict = "DRIFT" if d.drifted else "ok"
        out.write(
            f"{d.name:<20} {d.kind:<12} {d.test:<19} {d.statistic:>9.4f} "
            f"{d.p_value_corrected:>10.3g} {d.psi:>7.3f} {d.baseline_count:>7} "
            f"{d.serving_count:>7}  {verdict}\n"
        )
    if scores:
        out.write("\nper model version (joined feedback):\n")
        for s in scores:
            reward = "-" if s.mean_reward is None else f"{s.mean_reward:.3f}"
            accuracy = "-" if s.accuracy is None else f"{s.accuracy:.3f}"
            out.write(
                f"  {s.model_name} v{s.model_version}: {s.rows} rows, {s.rewarded} rewarded "
                f"(mean {reward}), {s.with_truth} with truth (accuracy {accuracy})\n"
            )


def run(args: argparse.Namespace) -> int:
    try:
        since = since_time(args.since) if args.since else None
        baseline = read_baseline(args.baseline)
        window = serving_window(args.logs, since, args.node)
        if window.num_rows == 0:
            raise ValueError(f"no logged rows in {args.logs} for that window")
        serving = table_columns(window, FEATURE_PREFIX)
        drifts = feature_drift(
            baseline,
            serving,
            args.threshold,
            args.correction,
            tuple(args.categorical),
            args.psi_threshold,
        )
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    scores = version_scores(window)
    print_report(sys.stdout, drifts, scores)
    any_drift = any(d.drifted for d in drifts)
    if args.json is not None:
        report = {
            "window_rows": window.num_rows,
            "threshold": args.threshold,
            "psi_threshold": args.psi_threshold,
            "correction": args.correction,
            "features": [asdict(d) for d in drifts],
            "versions": [asdict(s) for s in scores],
            "drift": any_drift,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    if args.png is not None:
        from seldon_tfserving.logs.drift_chart import write_drift_chart

        write_drift_chart(args.png, drifts, baseline, serving)
    return 1 if any_drift else 0
