"""A node's `logger` sends its payloads as CloudEvents, as the executor does, without ever
holding up or failing a prediction."""

from __future__ import annotations

import json
import socket
import threading
import time

import grpc
import numpy as np
import requests
from seldon_core.proto import prediction_pb2, prediction_pb2_grpc
from seldon_core.seldon_client import SeldonClient

from seldon_tfserving.gateway.metrics import GatewayMetrics
from seldon_tfserving.gateway.request_logger import LogEvent, RequestLogger
from seldon_tfserving.gateway.server import Gateway
from tests.gateway.conftest import NAMESPACE
from tests.gateway.sink import CloudEventSink

PATH = f"/seldon/{NAMESPACE}/logged/api/v1.0"


def test_request_response_and_feedback_events_carry_the_executors_headers(
    gateway: Gateway, sink: CloudEventSink
) -> None:
    reply = requests.post(
        gateway.http_url + PATH + "/predictions",
        json={"data": {"ndarray": [[4.0]]}},
        timeout=20,
    )
    assert reply.status_code == 200, reply.text
    puid = reply.headers["Seldon-Puid"]
    request_events = sink.wait_for(
        1, **{"Ce-Requestid": puid, "Ce-Type": "io.seldon.serving.inference.request"}
    )
    response_events = sink.wait_for(
        1, **{"Ce-Requestid": puid, "Ce-Type": "io.seldon.serving.inference.response"}
    )
    assert len(request_events) == 1 and len(response_events) == 1
    request_event, response_event = request_events[0], response_events[0]
    for event in (request_event, response_event):
        assert event.path == "/events"
        assert event.headers["Ce-Modelid"] == "model-a"
        assert event.headers["Ce-Inferenceservicename"] == "logged"
        assert event.headers["Ce-Namespace"] == NAMESPACE
        assert event.headers["Ce-Endpoint"] == "default"
        assert event.headers["Ce-Specversion"] == "1.0"
        assert event.headers["Ce-Source"] == f"http://localhost:{gateway.http_port}/"
        assert event.headers["Content-Type"] == "application/json"
        assert len(event.headers["Ce-Id"]) == 36
    assert request_event.headers["Ce-Id"] != response_event.headers["Ce-Id"]
    assert json.loads(request_event.body) == {"data": {"ndarray": [[4.0]]}}
    assert json.loads(response_event.body)["data"]["ndarray"] == [[4.0]]

    feedback = requests.post(
        gateway.http_url + PATH + "/feedback",
        json={"request": {"data": {"ndarray": [[4.0]]}}, "reward": 1.0},
        headers={"Seldon-Puid": puid},
        timeout=20,
    )
    assert feedback.status_code == 200, feedback.text
    feedback_events = sink.wait_for(
        1, **{"Ce-Requestid": puid, "Ce-Type": "io.seldon.serving.feedback"}
    )
    assert len(feedback_events) == 1
    assert json.loads(feedback_events[0].body)["reward"] == 1.0


def test_seldon_skip_logging_keeps_a_request_out_of_the_log(
    gateway: Gateway, sink: CloudEventSink
) -> None:
    skipped = requests.post(
        gateway.http_url + PATH + "/predictions",
        json={"data": {"ndarray": [[5.0]]}},
        headers={"Seldon-Skip-Logging": "true"},
        timeout=20,
    )
    logged = requests.post(
        gateway.http_url + PATH + "/predictions", json={"data": {"ndarray": [[5.0]]}}, timeout=20
    )
    assert skipped.status_code == logged.status_code == 200
    assert len(sink.wait_for(2, **{"Ce-Requestid": logged.headers["Seldon-Puid"]})) == 2
    assert sink.matching(**{"Ce-Requestid": skipped.headers["Seldon-Puid"]}) == []


def test_seldon_skip_logging_keeps_a_grpc_call_out_of_the_log_too(
    gateway: Gateway, sink: CloudEventSink
) -> None:
    """One reading of the header for both faces: gRPC metadata names it in lower case."""
    with grpc.insecure_channel(gateway.grpc_target) as channel:
        predict = prediction_pb2_grpc.SeldonStub(channel).Predict
        request = prediction_pb2.SeldonMessage()
        request.data.ndarray.append(6.0)
        route = [("seldon", "logged"), ("namespace", NAMESPACE)]
        predict(
            request,
            metadata=[*route, ("seldon-puid", "grpc-skipped"), ("seldon-skip-logging", "On")],
            timeout=20,
        )
        predict(request, metadata=[*route, ("seldon-puid", "grpc-logged")], timeout=20)
    assert len(sink.wait_for(2, **{"Ce-Requestid": "grpc-logged"})) == 2
    assert sink.matching(**{"Ce-Requestid": "grpc-skipped"}) == []


def test_grpc_payloads_are_logged_as_protobuf(gateway: Gateway, sink: CloudEventSink) -> None:
    sc = SeldonClient(
        deployment_name="logged",
        namespace=NAMESPACE,
        gateway_endpoint=f"127.0.0.1:{gateway.http_port}",
        gateway="istio",
        transport="grpc",
    )
    marker = float(np.random.default_rng().integers(100, 1000))
    result = sc.predict(data=np.asarray([[marker]]), payload_type="ndarray")
    assert result.success, result.msg
    puid = result.response["meta"]["puid"]
    events = sink.wait_for(
        1, **{"Ce-Requestid": puid, "Ce-Type": "io.seldon.serving.inference.request"}
    )
    assert len(events) == 1
    assert events[0].headers["Content-Type"] == "application/protobuf"
    logged = prediction_pb2.SeldonMessage.FromString(events[0].body)
    assert list(logged.data.ndarray[0]) == [marker]


def test_a_stalled_sink_never_blocks_the_caller_and_a_full_queue_drops() -> None:
    """A sink that accepts and never answers: events queue, overflow is counted, the
    prediction path does not wait for it."""
    stalled = socket.socket()
    stalled.bind(("127.0.0.1", 0))
    stalled.listen(16)
    url = f"http://127.0.0.1:{stalled.getsockname()[1]}/"
    metrics = GatewayMetrics()
    logger = RequestLogger("http://localhost:0/", metrics, queue_size=2, workers=1, timeout_s=5)
    logger.start()
    try:
        event = LogEvent(url, b"{}", "application/json", "request", "m", "p", "d", "ns", "pr")
        logger.log(event)
        time.sleep(0.2)  # the worker takes it and hangs on the sink
        started = time.perf_counter()
        for _ in range(9):
            logger.log(event)
        # nine puts, none waiting for the sink's 5 s timeout (a loaded machine's pauses allowed)
        assert time.perf_counter() - started < 2.5
        # two wait in the queue, seven are dropped
        assert logger.dropped == 7
        exposition = metrics.exposition().decode()
        assert "seldon_api_executor_request_logger_dropped_total 7.0" in exposition
    finally:
        stopper = threading.Thread(target=logger.stop, kwargs={"timeout_s": 0.1})
        stopper.start()
        stalled.close()
        stopper.join(timeout=10)
