"""The CPU a bench process spends: its own and its descendants', read from /proc."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from seldon_tfserving.bench.cpu_time import CpuClock, own_cpu_seconds, spent, tree_cpu_seconds
from tests.bench.process_trees import parent_with_child

#: A child that burns about half a second of CPU, says so, and waits to be measured.
BURNER = (
    "import time\n"
    "end = time.process_time() + 0.5\n"
    "while time.process_time() < end: pass\n"
    "print(1, flush=True); time.sleep(60)\n"
)


@pytest.fixture
def parent_with_busy_child() -> Iterator[subprocess.Popen[str]]:
    with parent_with_child(BURNER) as parent:
        yield parent


def test_a_process_tree_counts_the_cpu_its_children_spent(
    parent_with_busy_child: subprocess.Popen[str],
) -> None:
    own = own_cpu_seconds(parent_with_busy_child.pid)
    tree = tree_cpu_seconds(parent_with_busy_child.pid)
    assert own is not None and tree is not None
    assert tree - own >= 0.45, "the child's half second of CPU is in the tree's"
    assert own < 0.45, "the parent only started the child and slept"


def test_a_process_that_is_gone_has_no_cpu_and_leaves_the_clocks_reading() -> None:
    gone = 2**22 + 1  # above Linux's largest pid
    assert own_cpu_seconds(gone) is None and tree_cpu_seconds(gone) is None
    reading = CpuClock({"gone": gone, "me": os.getpid()}).read()
    assert set(reading) == {"me"} and reading["me"] > 0


def test_the_fields_are_read_after_a_command_name_holding_spaces_and_brackets(
    tmp_path: Path,
) -> None:
    (tmp_path / "42").mkdir()
    # pid (comm) state ppid ... utime stime: fields 14 and 15, here 250 and 50 ticks
    fields = ["S", "1"] + ["0"] * 9 + ["250", "50"] + ["0"] * 30
    (tmp_path / "42" / "stat").write_text(f"42 (a) b (c)) {' '.join(fields)}\n")
    assert own_cpu_seconds(42, proc=tmp_path) == pytest.approx(300 / os.sysconf("SC_CLK_TCK"))


def test_a_window_spends_what_each_process_read_at_both_ends_spent() -> None:
    assert spent({"a": 1.0, "b": 2.0}, {"a": 1.5, "c": 9.0}) == {"a": 0.5}
