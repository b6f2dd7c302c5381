"""`skew`: a shifted feature is found, unshifted ones are not, on known distributions.

Rows are logged through the sink (as the executor would post them), the baseline drawn from
the same distributions with another seed; `skew` runs as the command does, in this process.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from seldon_tfserving.cli import main
from seldon_tfserving.logs.sink import LogSink, SinkSettings
from tests.logs.events import body, executor_headers

COLOURS = np.array(["red", "green", "blue"])
BASE_COLOUR_P = [0.5, 0.3, 0.2]


def draw(rng: np.random.Generator, n: int, age_shift: float, colour_p: list[float]) -> dict:
    return {
        "age": rng.normal(40.0 + age_shift, 10.0, n),
        "income": rng.lognormal(10.0, 0.5, n),
        "colour": rng.choice(COLOURS, n, p=colour_p),
    }


def log_traffic(root: Path, features: dict, version_of: list[str], truth_of: list[int]) -> None:
    """One prediction of one instance per row, answered by `version_of[i]`, with feedback."""
    sink = LogSink(SinkSettings(root, batch_rows=500, batch_s=60, settle_s=60))
    n = len(features["age"])
    for i in range(n):
        rid = f"r{i}"
        row = [float(features["age"][i]), float(features["income"][i]), str(features["colour"][i])]
        request = {"data": {"names": ["age", "income", "colour"], "ndarray": [row]}}
        answer = {
            "data": {"names": ["p0", "p1"], "ndarray": [[0.9, 0.1] if i % 3 else [0.2, 0.8]]},
            "meta": {"tags": {"tfserving_version": version_of[i], "tfserving_model": "m"}},
        }
        assert sink.receive(executor_headers("request", rid), body(request)).status == 200
        assert sink.receive(executor_headers("response", rid), body(answer)).status == 200
        feedback = {"reward": 1.0, "truth": {"data": {"ndarray": [truth_of[i]]}}}
        feedback["response"] = {"meta": {"puid": rid}}
        assert sink.receive(executor_headers("feedback", "fb" + rid), body(feedback)).status == 200
    sink.stop()


@pytest.fixture(scope="module")
def baseline_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    features = draw(np.random.default_rng(1), 3000, 0.0, BASE_COLOUR_P)
    path = tmp_path_factory.mktemp("baseline") / "train.parquet"
    pq.write_table(pa.table(features), path)
    return path


def run_skew(tmp_path: Path, logs: Path, baseline: Path) -> tuple[int, dict]:
    report = tmp_path / "skew.json"
    code = main(
        [
            "skew",
            "--logs",
            str(logs),
            "--baseline",
            str(baseline),
            "--json",
            str(report),
            "--png",
            str(tmp_path / "skew.png"),
        ]
    )
    return code, json.loads(report.read_text())


def test_a_shifted_feature_is_found_and_the_others_are_not(
    tmp_path: Path, baseline_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    n = 800
    serving = draw(np.random.default_rng(2), n, 8.0, BASE_COLOUR_P)
    versions = ["1" if i % 2 else "2" for i in range(n)]
    # the model predicts class 0 on two rows in three: truth 0 everywhere makes that accuracy
    log_traffic(tmp_path / "logs", serving, versions, [0] * n)
    code, report = run_skew(tmp_path, tmp_path / "logs", baseline_file)
    assert code == 1
    verdicts = {f["name"]: f for f in report["features"]}
    assert {name for name, f in verdicts.items() if f["drifted"]} == {"age"}
    assert verdicts["age"]["test"] == "kolmogorov-smirnov"
    assert verdicts["age"]["p_value_corrected"] < 1e-6
    assert verdicts["age"]["psi"] > 0.25
    assert verdicts["colour"]["test"] == "chi-squared"
    assert verdicts["colour"]["kind"] == "categorical"
    for name in ("income", "colour"):
        assert verdicts[name]["p_value_corrected"] > 0.05
        assert verdicts[name]["psi"] < 0.1
    assert all(f["serving_count"] == n for f in report["features"])
    png = (tmp_path / "skew.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    by_version = {v["model_version"]: v for v in report["versions"]}
    assert set(by_version) == {"1", "2"}
    for version, score in by_version.items():
        assert score["rows"] == n // 2 and score["rewarded"] == n // 2
        assert score["mean_reward"] == 1.0
        hits = sum(1 for i in range(n) if versions[i] == version and i % 3)
        assert score["accuracy"] == pytest.approx(hits / (n // 2))
    table = capsys.readouterr().out
    assert "age" in table and "DRIFT" in table


def test_unshifted_traffic_exits_0_and_a_category_shift_is_found(
    tmp_path: Path, baseline_file: Path
) -> None:
    same = draw(np.random.default_rng(3), 600, 0.0, BASE_COLOUR_P)
    log_traffic(tmp_path / "same", same, ["1"] * 600, [0] * 600)
    code, report = run_skew(tmp_path, tmp_path / "same", baseline_file)
    assert code == 0
    assert not report["drift"] and not any(f["drifted"] for f in report["features"])

    moved = draw(np.random.default_rng(4), 600, 0.0, [0.2, 0.3, 0.5])
    log_traffic(tmp_path / "moved", moved, ["1"] * 600, [0] * 600)
    code, report = run_skew(tmp_path, tmp_path / "moved", baseline_file)
    assert code == 1
    assert {f["name"] for f in report["features"] if f["drifted"]} == {"colour"}


@pytest.mark.parametrize("suffix", [".csv", ".npy"])
def test_csv_and_npy_baselines_read_as_parquet_ones(tmp_path: Path, suffix: str) -> None:
    from seldon_tfserving.logs.baseline import read_baseline

    rng = np.random.default_rng(5)
    values = rng.normal(size=(50, 2))
    path = tmp_path / f"train{suffix}"
    if suffix == ".csv":
        path.write_text("f0,f1\n" + "\n".join(f"{a!r},{b!r}" for a, b in values) + "\n")
    else:
        np.save(path, values)
    columns = read_baseline(path)
    assert set(columns) == {"f0", "f1"}
    np.testing.assert_allclose(columns["f0"], values[:, 0])
    np.testing.assert_allclose(columns["f1"], values[:, 1])


def test_bad_inputs_are_exit_2_with_the_reason(
    tmp_path: Path, baseline_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["skew", "--logs", str(tmp_path / "none"), "--baseline", str(baseline_file)]) == 2
    assert "no logged rows" in capsys.readouterr().err
    bad = tmp_path / "train.txt"
    bad.write_text("x")
    assert main(["skew", "--logs", str(tmp_path), "--baseline", str(bad)]) == 2
    assert ".parquet, .csv or .npy" in capsys.readouterr().err
