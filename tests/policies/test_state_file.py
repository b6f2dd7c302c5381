"""A router's learned state survives restarts and is shared by the processes of one pod."""

from __future__ import annotations

import json
import multiprocessing
import threading
from pathlib import Path

import pytest

from seldon_tfserving.errors import ConfigurationError, InvalidInput
from seldon_tfserving.policies.bandits import UCB1, ThompsonSampling
from seldon_tfserving.policies.keeper import PolicyKeeper
from seldon_tfserving.policies.state import StateFile


def thompson_keeper(path: Path, n_branches: int = 2) -> PolicyKeeper:
    return PolicyKeeper(
        ThompsonSampling(n_branches, seed=1), "ThompsonSamplingRouter", StateFile(path)
    )


def test_a_restarted_router_starts_from_what_it_learned(tmp_path: Path) -> None:
    path = tmp_path / "state" / "router.json"
    keeper = thompson_keeper(path)
    keeper.learn(1, 1.0)
    keeper.learn(1, 0.5)
    keeper.learn(0, 0.0)

    restarted = thompson_keeper(path)
    assert restarted.policy.stats.feedback == [1, 2]
    assert restarted.policy.stats.reward_sum == [0.0, 1.5]
    saved = json.loads(path.read_text())
    assert saved["policy"] == "ThompsonSamplingRouter"
    assert saved["stats"] == {"feedback": [1, 2], "reward_sum": [0.0, 1.5]}


def test_writes_are_atomic_renames_that_leave_no_temporary_files(tmp_path: Path) -> None:
    path = tmp_path / "router.json"
    keeper = thompson_keeper(path)
    inodes = set()
    for _ in range(5):
        keeper.learn(0, 1.0)
        inodes.add(path.stat().st_ino)
    assert len(inodes) > 1  # each save is a new file renamed over the old one
    assert sorted(p.name for p in tmp_path.iterdir()) == ["router.json", "router.json.lock"]


def test_refused_feedback_leaves_the_file_untouched(tmp_path: Path) -> None:
    path = tmp_path / "router.json"
    keeper = thompson_keeper(path)
    keeper.learn(0, 1.0)
    before = path.read_bytes()
    with pytest.raises(InvalidInput):
        keeper.learn(0, 2.0)
    with pytest.raises(InvalidInput):
        keeper.learn(None, 1.0)
    assert path.read_bytes() == before
    assert keeper.policy.stats.feedback == [1, 0]


def test_sibling_processes_merge_what_they_learn(tmp_path: Path) -> None:
    # Seldon serves REST and gRPC from separate processes, each with its own router copy.
    path = tmp_path / "router.json"
    rest_side, grpc_side = thompson_keeper(path), thompson_keeper(path)
    rest_side.learn(0, 1.0)
    grpc_side.learn(1, 1.0)
    rest_side.learn(1, 0.0)
    for keeper in (rest_side, grpc_side):
        assert keeper.describe()["branches"][1]["feedback"] == 2
    assert thompson_keeper(path).policy.stats.feedback == [1, 2]


def test_a_sibling_s_learning_changes_the_next_route(tmp_path: Path) -> None:
    path = tmp_path / "ucb.json"
    router = PolicyKeeper(UCB1(2), "UCB1Router", StateFile(path))
    sibling = PolicyKeeper(UCB1(2), "UCB1Router", StateFile(path))
    assert router.choose() == 0
    sibling.learn(0, 1.0)
    assert router.choose() == 1  # branch 0 is tried now (by the sibling), branch 1 is not


def _learn_many(path: str, branch: int, times: int) -> None:
    keeper = PolicyKeeper(UCB1(2), "UCB1Router", StateFile(path))
    for _ in range(times):
        keeper.learn(branch, 1.0)


def test_concurrent_processes_and_threads_lose_no_feedback(tmp_path: Path) -> None:
    path = str(tmp_path / "router.json")
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_learn_many, args=(path, b, 40)) for b in (0, 1)]
    for worker in workers:
        worker.start()
    local = PolicyKeeper(UCB1(2), "UCB1Router", StateFile(path))
    threads = [threading.Thread(target=local.learn, args=(1, 0.0)) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    final = PolicyKeeper(UCB1(2), "UCB1Router", StateFile(path)).policy.stats
    assert final.feedback == [40, 60]
    assert final.reward_sum == [40.0, 40.0]


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"format": 1, "policy": "UCB1Router", "n_branches": 2, "stats": {}}', "'UCB1Router'"),
        (
            '{"format": 1, "policy": "ThompsonSamplingRouter", "n_branches": 3,'
            ' "stats": {"feedback": [0, 0, 0], "reward_sum": [0, 0, 0]}}',
            "3 branches",
        ),
        (
            '{"format": 1, "policy": "ThompsonSamplingRouter", "n_branches": 2,'
            ' "stats": {"feedback": [-1, 0], "reward_sum": [0, 0]}}',
            "non-negative",
        ),
    ],
)
def test_an_unusable_state_file_fails_at_start_up_naming_state_path(
    tmp_path: Path, content: str, complaint: str
) -> None:
    path = tmp_path / "router.json"
    path.write_text(content)
    with pytest.raises(ConfigurationError, match=complaint) as failed:
        thompson_keeper(path)
    assert failed.value.parameter == "state_path"


def test_a_file_spoiled_while_serving_is_reported_and_overwritten(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "router.json"
    keeper = thompson_keeper(path)
    keeper.learn(0, 1.0)
    path.write_text("garbage")
    assert keeper.choose() in (0, 1)
    keeper.choose()
    assert caplog.text.count("ignoring unusable state file") == 1
    keeper.learn(0, 1.0)
    assert json.loads(path.read_text())["stats"]["feedback"] == [2, 0]


def test_an_unusable_state_directory_fails_at_start_up(tmp_path: Path) -> None:
    not_a_directory = tmp_path / "plain-file"
    not_a_directory.write_text("")
    with pytest.raises(ConfigurationError, match="cannot use") as failed:
        thompson_keeper(not_a_directory / "router.json")
    assert failed.value.parameter == "state_path"


def test_a_missing_state_directory_is_created(tmp_path: Path) -> None:
    path = tmp_path / "volume" / "routers" / "router.json"
    keeper = thompson_keeper(path)
    assert path.parent.is_dir() and not path.exists()
    keeper.learn(0, 1.0)
    assert path.exists()
