"""SIGTERM under load (a real `serve-models`, REST and gRPC clients calling a slow model): every
call in flight is answered, none is lost, later ones are refused cleanly, and the process exits
0 within 5 s."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import requests
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from seldon_tfserving.codec.tensor_proto import ndarray_to_tensor_proto, tensor_proto_to_ndarray
from tests.servers import Backend
from tests.waiting import eventually

EXIT_WITHIN_S = 5.0


@dataclass
class Call:
    face: str
    began: float
    ended: float
    #: "answered", "refused" (never accepted: connection refused, UNAVAILABLE) or "lost: ..."
    outcome: str


@dataclass
class Load:
    backend: Backend
    calls: list[Call] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, face: str, began: float, outcome: str) -> None:
        with self.lock:
            self.calls.append(Call(face, began, time.monotonic(), outcome))

    def rest(self, worker: int) -> None:
        url = f"{self.backend.rest_endpoint}/v1/models/slow:predict"
        with requests.Session() as session:
            while not self.stop.is_set():
                began, x = time.monotonic(), float(worker)
                try:
                    reply = session.post(url, json={"instances": [x]}, timeout=30)
                    good = reply.status_code == 200 and reply.json() == {"predictions": [x + 1]}
                    outcome = "answered" if good else f"lost: {reply.status_code} {reply.text}"
                except requests.ConnectionError as exc:
                    refused = "Connection refused" in str(exc)
                    outcome = "refused" if refused else f"lost: {exc!r}"
                self.record("rest", began, outcome)
                if outcome == "refused":
                    return

    def grpc(self, worker: int) -> None:
        with grpc.insecure_channel(self.backend.grpc_endpoint) as channel:
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
            while not self.stop.is_set():
                began, x = time.monotonic(), float(worker)
                request = predict_pb2.PredictRequest()
                request.model_spec.name = "slow"
                request.inputs["x"].CopyFrom(ndarray_to_tensor_proto(np.array([x], np.float32)))
                try:
                    answer = stub.Predict(request, timeout=30)
                    y = tensor_proto_to_ndarray(answer.outputs["y"]).tolist()
                    outcome = "answered" if y == [x + 1] else f"lost: {y}"
                except grpc.RpcError as exc:
                    refused = exc.code() == grpc.StatusCode.UNAVAILABLE
                    outcome = "refused" if refused else f"lost: {exc.code()} {exc.details()}"
                self.record("grpc", began, outcome)
                if outcome == "refused":
                    return

    def answered(self, face: str) -> int:
        with self.lock:
            return sum(1 for c in self.calls if c.face == face and c.outcome == "answered")


def test_sigterm_under_load_answers_every_call_in_flight_and_exits_0_within_5_s(
    backend_factory: Callable[..., Backend], generated_models: Path
) -> None:
    backend = backend_factory(
        [
            "--model_name=slow",
            f"--model_base_path={generated_models / 'slow'}",
            "--tensorflow_inter_op_parallelism=6",
            "--enable_model_warmup=false",
        ],
        ready_model="slow",
        name="graceful",
    )
    process: Any = backend.server.process
    load = Load(backend)
    clients = [
        threading.Thread(target=target, args=(worker,))
        for worker, target in enumerate([load.rest, load.rest, load.grpc, load.grpc])
    ]
    for client in clients:
        client.start()
    try:
        eventually(
            lambda: load.answered("rest") >= 4 and load.answered("grpc") >= 4,
            60,
            awaited="4 answers over each transport",
            detail=lambda: load.calls,
        )
        time.sleep(0.2)  # every client is in the middle of a call
        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        returncode = process.wait(timeout=30)
        exited_after = time.monotonic() - signalled
    finally:
        load.stop.set()
        for client in clients:
            client.join(timeout=60)

    assert returncode == 0
    assert exited_after <= EXIT_WITHIN_S
    lost = [c for c in load.calls if c.outcome.startswith("lost")]
    assert lost == []
    in_flight = [c for c in load.calls if c.began < signalled < c.ended]
    assert {c.face for c in in_flight} == {"rest", "grpc"}
    assert all(c.outcome == "answered" for c in in_flight), in_flight
    print(
        f"SIGTERM under load: exit 0 after {exited_after:.2f} s, {len(in_flight)} calls in "
        f"flight all answered, {len(load.calls)} calls, 0 lost"
    )
