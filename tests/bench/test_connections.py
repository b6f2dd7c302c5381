"""The bench's gRPC clients each hold a TCP connection of their own, counted on the server's
side: clients sharing one connection would measure that connection, not N callers."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from seldon_tfserving.bench import targets
from seldon_tfserving.bench.harness import run_closed_loop
from seldon_tfserving.codec.tensor_proto import ndarray_to_tensor_proto
from tests.grpc_servers import serving

ESTABLISHED = "01"


def _socket_inodes_of_this_process() -> set[str]:
    inodes = set()
    for fd in Path("/proc/self/fd").iterdir():
        try:
            link = os.readlink(fd)
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[len("socket:[") : -1])
    return inodes


def _established_of_this_process() -> list[tuple[str, str]]:
    """(local, remote) addresses, as /proc/net writes them, of every established TCP socket of
    this process (tcp and tcp6)."""
    ours = _socket_inodes_of_this_process()
    pairs = []
    for table in ("tcp", "tcp6"):
        path = Path("/proc/net") / table
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            words = line.split()
            local, remote, state, inode = words[1], words[2], words[3], words[9]
            if state == ESTABLISHED and inode in ours:
                pairs.append((local, remote))
    return pairs


def established_to(port: int) -> int:
    """Client connections open to `port`: the server's side of each (local end `port`) whose
    client end is a live socket of this process too. A server socket of an earlier server on
    a reused port number, whose client has gone, is not counted; other processes are not."""
    pairs = _established_of_this_process()
    client_ends = {local for local, remote in pairs if _port(remote) == port}
    return sum(1 for local, remote in pairs if _port(local) == port and remote in client_ends)


def _port(address: str) -> int:
    """The port of an address as /proc/net writes it (`0100007F:1F90`, hexadecimal)."""
    return int(address.rsplit(":", 1)[1], 16)


class SoftmaxAnswers(prediction_service_pb2_grpc.PredictionServiceServicer):  # type: ignore[misc]
    """Answers every Predict with one row of softmax scores, as the bench models do."""

    def Predict(self, request: Any, context: Any) -> Any:  # noqa: N802 (gRPC's name)
        reply = predict_pb2.PredictResponse()
        scores = np.array([[0.25, 0.75]], dtype=np.float32)
        reply.outputs["scores"].CopyFrom(ndarray_to_tensor_proto(scores))
        return reply


@pytest.fixture
def server_port() -> Iterator[int]:
    add = prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server
    with serving(add, SoftmaxAnswers(), workers=8) as port:
        yield port


def _connections_held_during_load(port: int, concurrency: int) -> tuple[int, int]:
    target = targets.tfserving_grpc(
        f"127.0.0.1:{port}", "m", "serving_default", "x", "scores", np.ones((1, 4), np.float32)
    )
    seen: list[int] = []
    result = run_closed_loop(
        target.open_call,
        concurrency,
        duration_s=0.6,
        warmup_s=0.2,
        on_tick=lambda _: seen.append(established_to(port)),
    )
    assert result.errors == {} and result.stats.count > 0, "every answer checked and good"
    # the count held through the load: a reconnect's overlapping moment is one tick's extra
    return Counter(seen).most_common(1)[0][0], result.stats.count


@pytest.mark.parametrize("concurrency", [1, 4, 8])
def test_each_grpc_client_thread_opens_its_own_connection(
    server_port: int, concurrency: int
) -> None:
    connections, _ = _connections_held_during_load(server_port, concurrency)
    assert connections == concurrency


def test_plain_channels_to_one_target_would_share_a_connection(server_port: int) -> None:
    """The fault the bench's channel option removes, seen by the same count: grpcio's global
    subchannel pool gives every channel of a process with the same arguments one connection."""
    channels = [grpc.insecure_channel(f"127.0.0.1:{server_port}") for _ in range(4)]
    try:
        for channel in channels:
            grpc.channel_ready_future(channel).result(timeout=10)
        assert established_to(server_port) == 1
    finally:
        for channel in channels:
            channel.close()
