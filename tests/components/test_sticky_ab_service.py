"""A sticky A/B router under a real microservice: one user, one arm, on REST and gRPC alike."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.components.wire import GrpcWire, Reply, RestWire
from tests.servers import Microservice, start_microservice

USERS = [f"user-{index}" for index in range(200)] + [7, 42]


@pytest.fixture(scope="module")
def sticky_ab(log_dir: Path) -> Iterator[Microservice]:
    service = start_microservice(
        log_dir,
        "seldon_tfserving.ABTestRouter",
        service_type="ROUTER",
        parameters=[
            {"name": "ratio_a", "type": "FLOAT", "value": "0.5"},
            {"name": "sticky_key", "type": "STRING", "value": "user"},
            {"name": "seed", "type": "INT", "value": "3"},
        ],
    )
    yield service
    service.server.stop(timeout_s=2)


def route(wire: RestWire | GrpcWire, meta: dict[str, Any]) -> int:
    reply: Reply = wire.route({"data": {"ndarray": [[0.0]]}, "meta": meta})
    assert reply.ok, reply
    return int(reply.body["data"]["ndarray"][0][0])


def test_a_user_keeps_one_arm_on_every_request_and_transport(sticky_ab: Microservice) -> None:
    rest, grpc = RestWire(sticky_ab), GrpcWire(sticky_ab)
    try:
        arms = {user: route(rest, {"tags": {"user": user}}) for user in USERS}
        for visit in range(2):
            for user in USERS:
                meta = {"tags": {"user": user, "visit": visit}, "puid": f"{user}-{visit}"}
                assert route(rest, meta) == arms[user]
                # gRPC carries the numeric users 7 and 42 as 7.0 and 42.0: still the same arm.
                assert route(grpc, meta) == arms[user]
    finally:
        grpc.close()
    assert set(arms.values()) == {0, 1}


def test_without_the_tag_the_puid_is_the_sticky_key(sticky_ab: Microservice) -> None:
    rest, grpc = RestWire(sticky_ab), GrpcWire(sticky_ab)
    try:
        arms = set()
        for puid in (f"request-{index}" for index in range(50)):
            first = route(rest, {"puid": puid})
            assert route(rest, {"puid": puid}) == first
            assert route(grpc, {"puid": puid, "tags": {"other": 1}}) == first
            arms.add(first)
    finally:
        grpc.close()
    assert arms == {0, 1}
