"""Each bench process's memory: its own RSS and every descendant's, read from /proc."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from seldon_tfserving.bench.memory import (
    ProcessMemory,
    children_of,
    memory_table,
    process_memory,
    resident_kib,
)
from tests.bench.process_trees import parent_with_child

#: A child holding 64 MiB, which says so and waits to be measured.
HOLDER = "import time; block = bytearray(64 * 2**20); print(1, flush=True); time.sleep(60)"


@pytest.fixture(name="parent_with_child")
def holding_parent() -> Iterator[subprocess.Popen[str]]:
    with parent_with_child(HOLDER) as parent:
        yield parent


def test_a_process_and_its_child_are_measured_apart(
    parent_with_child: subprocess.Popen[str],
) -> None:
    measured = process_memory("holder", parent_with_child.pid)
    assert measured.name == "holder" and measured.pid == parent_with_child.pid
    assert measured.rss_kib is not None and 0 < measured.rss_kib < 64 * 1024
    ((kid, kid_rss, command),) = measured.children
    assert kid in children_of(parent_with_child.pid)
    assert kid_rss >= 64 * 1024, "the child's 64 MiB block is resident"
    assert "bytearray" in command
    assert measured.total_kib == measured.rss_kib + kid_rss
    document = measured.as_json()
    assert document["rss_mib"] == round(measured.rss_kib / 1024, 1)
    assert document["children"][0]["rss_mib"] >= 64
    assert document["total_rss_mib"] == round(measured.total_kib / 1024, 1)


def test_a_process_that_is_gone_has_no_figure() -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # reaped: its /proc entry is gone with it
    assert resident_kib(gone.pid) is None
    measured = process_memory("gone", gone.pid)
    assert measured.rss_kib is None and measured.children == [] and measured.total_kib == 0
    assert measured.as_json()["rss_mib"] is None


def test_vmrss_is_read_from_the_status_file(tmp_path: Path) -> None:
    (tmp_path / "42").mkdir()
    (tmp_path / "42" / "status").write_text("Name:\tx\nVmPeak:\t 900 kB\nVmRSS:\t  2048 kB\n")
    assert resident_kib(42, tmp_path) == 2048
    (tmp_path / "43").mkdir()
    (tmp_path / "43" / "status").write_text("Name:\tkernel thread\n")
    assert resident_kib(43, tmp_path) is None


def test_the_table_has_a_row_per_process_with_its_childrens_share() -> None:
    table = memory_table(
        [
            ProcessMemory("backend", 10, 300 * 1024),
            ProcessMemory("wrapper-dense", 11, 80 * 1024, [(12, 70 * 1024, "gunicorn")]),
        ]
    )
    lines = table.splitlines()
    assert lines[0].startswith("| process | RSS MiB |")
    assert lines[2] == "| backend | 300 | 0 | 0 | 300 |"
    assert lines[3] == "| wrapper-dense | 80 | 1 | 70 | 150 |"
