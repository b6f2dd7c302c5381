"""The gateway's graceful stop, in this process: readiness fails at once, no new connection
is taken, requests in flight over REST and gRPC are answered, and `stop` is back within 5 s.
(Under load, in a process of its own and by SIGTERM: tests/reliability/test_graceful_stop.py.)"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import grpc
import pytest
import requests
from google.protobuf import json_format
from seldon_core.proto import prediction_pb2, prediction_pb2_grpc

from seldon_tfserving.deploy.model import SeldonDeployment
from seldon_tfserving.gateway.server import Gateway
from seldon_tfserving.gateway.settings import GatewaySettings
from tests.gateway.conftest import NAMESPACE, Components, endpoints_for
from tests.gateway.raw_http import RawConnection
from tests.servers import free_port

SLOW = {"data": {"ndarray": [[1.0]]}, "meta": {"tags": {"sleep": 0.8}}}


def test_stop_fails_readiness_at_once_and_answers_what_is_in_flight(
    components: Components, deployments: list[SeldonDeployment]
) -> None:
    gateway = Gateway(
        deployments,
        endpoints_for(deployments, components),
        http_port=free_port(),
        grpc_port=free_port(),
        settings=GatewaySettings(component_timeout_s=20, drain_timeout_s=4.0),
    )
    gateway.start()
    answers: dict[str, Any] = {}

    def rest_in_flight() -> None:
        answers["rest"] = requests.post(
            f"{gateway.http_url}/seldon/{NAMESPACE}/chained/api/v1.0/predictions",
            json=SLOW,
            timeout=20,
        )

    def grpc_in_flight() -> None:
        message = prediction_pb2.SeldonMessage()
        message.data.ndarray.extend([[1.0]])
        message.meta.tags["sleep"].number_value = 0.8
        with grpc.insecure_channel(gateway.grpc_target) as channel:
            answers["grpc"] = prediction_pb2_grpc.SeldonStub(channel).Predict(
                message, metadata=[("seldon", "chained"), ("namespace", NAMESPACE)], timeout=20
            )

    probe = RawConnection(("127.0.0.1", gateway.http_port))
    probe.send(b"GET /ready HTTP/1.1\r\nHost: gateway\r\n")  # its head half sent
    callers = [threading.Thread(target=rest_in_flight), threading.Thread(target=grpc_in_flight)]
    for caller in callers:
        caller.start()
    time.sleep(0.4)  # both are with the components now
    started = time.monotonic()
    stopper = threading.Thread(target=gateway.stop)
    stopper.start()
    time.sleep(0.1)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", gateway.http_port), timeout=2)
    probe.send(b"\r\n")
    ready = probe.answer()
    assert ready.status == 503 and b"stopping" in ready.body
    assert ready.headers["connection"] == "close"
    for caller in callers:
        caller.join(timeout=10)
    stopper.join(timeout=10)
    assert time.monotonic() - started < 5.0
    assert answers["rest"].status_code == 200, answers["rest"].text
    assert answers["rest"].headers["Connection"] == "close"
    assert answers["rest"].json()["data"]["ndarray"] == [[10.0]]
    assert json_format.MessageToDict(answers["grpc"].data)["ndarray"] == [[10.0]]
    probe.close()
