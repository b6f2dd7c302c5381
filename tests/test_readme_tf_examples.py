"""The README's "TF Serving's API through Seldon" examples, run as they are written.

Each block after a `<!-- readme-example: NAME -->` comment is run literally, from the project
root, with only the gateway's ports moved to free ones: the `up` block (its models folder and
`seldon-tfserving up` of graphs/tf-ab-versions.yaml) stays up for the module, the others call
it with curl and TF Serving's own Python client. What each prints is checked against the
output the README shows after it (printed by the stable arm; the canary arm's is derived).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.process_kill import kill_with_its_tree
from tests.servers import PROJECT_ROOT, free_port
from tests.waiting import eventually

pytestmark = pytest.mark.timeout(900)

README = PROJECT_ROOT / "README.md"
SECTION = "## TF Serving's API through Seldon"
EXAMPLES = ("up", "rest-predict", "grpc", "label-path", "feedback", "metadata")
#: the ports the README's examples use, and the only spellings of them that are moved
README_HTTP_PORT, README_GRPC_PORT = 8003, 5001
_PORT_SPELLINGS = ("127.0.0.1:{}", "--http-port {}", "--grpc-port {}")
_MARKED_BLOCK = re.compile(
    r"<!-- readme-example: (?P<name>[\w-]+) -->\n```(?P<language>\w+)\n(?P<code>.*?)```\n"
    r"(?P<after>.*?)(?=<!-- readme-example:|\Z)",
    re.DOTALL,
)
_SHOWN_OUTPUT = re.compile(r"```text\n(?P<text>.*?)```", re.DOTALL)
#: what each arm of the graph answers for the README's x = [1.0, 2.0, 5.0]
ANSWER = {0: [2.5, 3.0, 4.5], 1: [3.5, 4.0, 5.5]}
ARM = {0: "model-stable", 1: "model-canary"}


@dataclass(frozen=True)
class Example:
    name: str
    language: str
    code: str
    #: the output the README shows after the block ("" when it shows none)
    shown: str


def readme_examples() -> dict[str, Example]:
    """The marked blocks of the README's TF section, by name."""
    text = README.read_text()
    section = text[text.index(SECTION) :]
    following = section.find("\n## ", len(SECTION))
    section = section if following < 0 else section[:following]
    examples = {}
    for found in _MARKED_BLOCK.finditer(section):
        shown = _SHOWN_OUTPUT.search(found["after"])
        examples[found["name"]] = Example(
            found["name"], found["language"], found["code"], shown["text"] if shown else ""
        )
    return examples


def on_ports(code: str, http_port: int, grpc_port: int) -> str:
    """`code` with the README's gateway ports moved, and nothing else changed."""
    moves = {README_HTTP_PORT: http_port, README_GRPC_PORT: grpc_port}
    for spelling in _PORT_SPELLINGS:
        for old, new in moves.items():
            code = code.replace(spelling.format(old), spelling.format(new))
    leftover = re.findall(rf"\b(?:{README_HTTP_PORT}|{README_GRPC_PORT})\b", code)
    assert not leftover, f"a README port spelled in a way the test does not move: {code}"
    return code


@dataclass(frozen=True)
class Gateway:
    http_port: int
    grpc_port: int
    output: Path

    def run(self, example: Example) -> str:
        """Run an example block against this gateway; what it printed."""
        code = on_ports(example.code, self.http_port, self.grpc_port)
        command = ["bash", "-c", code] if example.language == "sh" else [sys.executable, "-c", code]
        done = subprocess.run(
            command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=180, check=False
        )
        assert done.returncode == 0, (done.stdout, done.stderr)
        return done.stdout


@pytest.fixture(scope="module")
def examples() -> dict[str, Example]:
    found = readme_examples()
    assert sorted(found) == sorted(EXAMPLES)
    assert found["up"].language == "sh" and found["grpc"].language == "python"
    return found


@pytest.fixture(scope="module")
def gateway(
    examples: dict[str, Example], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    """The README's `up` block, running until the module ends (then SIGTERM, as Ctrl-C)."""
    scratch = tmp_path_factory.mktemp("readme")
    started = Gateway(free_port(), free_port(), scratch / "up.out")
    code = on_ports(examples["up"].code, started.http_port, started.grpc_port)
    process = subprocess.Popen(
        ["bash", "-c", code],
        cwd=PROJECT_ROOT,
        env={**os.environ, "TMPDIR": str(scratch)},  # where its `mktemp -d` makes the folder
        stdout=started.output.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

    def up() -> bool:
        if "Gateway up" in started.output.read_text():
            return True
        assert process.poll() is None, started.output.read_text()
        return False

    try:
        eventually(
            up,
            400,
            interval_s=0.5,
            awaited="`up` printing Gateway up",
            detail=started.output.read_text,
        )
        ready = requests.get(f"http://127.0.0.1:{started.http_port}/ready", timeout=60)
        assert ready.status_code == 200, ready.text
        yield started
    finally:
        _stop(process, started.output)


def _stop(process: subprocess.Popen[bytes], output: Path) -> None:
    """SIGTERM to the block's process group (the shell and `up`); `up` stops its children."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 90
    while "Stopped." not in output.read_text() and time.monotonic() < deadline:
        time.sleep(0.5)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        kill_with_its_tree(process)


def test_the_up_block_builds_its_models_folder_and_serves_the_graph(gateway: Gateway) -> None:
    printed = gateway.output.read_text()
    assert "ready    backend   tfserving-tf-ab-versions/default/tfserving" in printed
    base = f"http://127.0.0.1:{gateway.http_port}/seldon/default/tfserving-tf-ab-versions"
    assert f"POST {base}/v1/models:predict" in printed
    assert "(nodes: model-stable, model-canary)" in printed


def test_the_rest_predict_example(gateway: Gateway, examples: dict[str, Example]) -> None:
    example = examples["rest-predict"]
    head, _, body = gateway.run(example).replace("\r\n", "\n").partition("\n\n")
    lines = head.splitlines()
    headers = dict(line.split(": ", 1) for line in lines[1:])
    branch = json.loads(headers["Seldon-Routing"])["ab-router"]
    assert json.loads(headers["Seldon-Routing"]) == {"ab-router": branch, ARM[branch]: -1}
    assert json.loads(body) == {"predictions": ANSWER[branch]}
    assert re.fullmatch(r"[0-9a-f-]{36}", headers["Seldon-Puid"])
    shown = example.shown.splitlines()
    assert lines[0] == shown[0] == "HTTP/1.1 200 OK"
    assert f"Content-Type: {headers['Content-Type']}" in shown
    if branch == 0:  # the README shows the stable arm's answer
        assert f"Seldon-Routing: {headers['Seldon-Routing']}" in shown
        assert body.strip() == shown[-1]


def test_the_grpc_example(gateway: Gateway, examples: dict[str, Example]) -> None:
    example = examples["grpc"]
    printed = gateway.run(example).splitlines()
    routing = json.loads(printed[1].removeprefix("routing "))
    branch = routing["ab-router"]
    expected = example.shown.splitlines()
    if branch == 1:
        expected[0] = f"y {ANSWER[1]} version 2"
        expected[1] = "routing " + json.dumps(
            {"ab-router": 1, "model-canary": -1}, separators=(",", ":")
        )
    assert printed == expected


def test_the_label_path_example(gateway: Gateway, examples: dict[str, Example]) -> None:
    example = examples["label-path"]
    refused, answered, *_ = example.shown.splitlines()
    printed = gateway.run(example).splitlines()
    assert len(printed) == 6
    assert set(printed) <= {refused, answered}, printed


def test_the_feedback_example(gateway: Gateway, examples: dict[str, Example]) -> None:
    example = examples["feedback"]
    assert gateway.run(example) == example.shown


def test_the_metadata_example(gateway: Gateway, examples: dict[str, Example]) -> None:
    example = examples["metadata"]
    printed = gateway.run(example)
    shown_start = example.shown.split("...")[0]
    assert printed.startswith(shown_start), printed[:300]
    document = json.loads(printed)
    assert document["model_spec"] == {"name": "half_plus_two", "version": "1", "signature_name": ""}
    assert "serving_default" in document["metadata"]["signature_def"]["signature_def"]
