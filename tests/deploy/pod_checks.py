"""What the kubelet and the executor ask of a node's container, asked from inside its pod.

Run in a PodSandbox (`python -m tests.deploy.pod_checks SPEC`): wait for the readinessProbe
(a TCP connect, as the operator writes it) and a first answer, then call Seldon's REST and gRPC
APIs on the container's ports and read its metrics; print what each gave, as JSON, for the test
outside to judge. A wait that runs out ends the script with an AssertionError naming it.
"""

from __future__ import annotations

import json
import socket
import sys
import time
from functools import partial
from typing import Any

import grpc
import requests
from google.protobuf import json_format
from seldon_core.proto import prediction_pb2, prediction_pb2_grpc

from tests.waiting import eventually

POLL_S = 0.5
METRICS_WAIT_S = 30


def tcp_probe(port: int) -> bool:
    """The kubelet's tcpSocket rule: the probe passes when a connection opens."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def rest_prediction(port: int, payload: Any) -> requests.Response:
    return requests.post(
        f"http://127.0.0.1:{port}/api/v1.0/predictions",
        json={"data": {"ndarray": payload}},
        timeout=10,
    )


def main(spec: dict[str, Any]) -> dict[str, Any]:
    deadline = time.monotonic() + float(spec["deadline_s"])
    report: dict[str, Any] = {
        "readiness": eventually(
            partial(tcp_probe, spec["readiness_port"]),
            float(spec["deadline_s"]),
            interval_s=POLL_S,
            awaited=f"the readinessProbe (port {spec['readiness_port']}) passing",
        )
    }
    last: list[str] = []  # what the REST prediction answered last, while it was no 200

    def rest_answered() -> requests.Response | None:
        try:
            reply = rest_prediction(spec["http_port"], spec["payload"])
        except requests.RequestException as error:
            last[:] = [repr(error)]
            return None
        if reply.status_code == 200:
            return reply
        last[:] = [f"{reply.status_code} {reply.text[:1000]}"]
        return None

    # the readinessProbe and the first REST answer share `deadline_s`
    reply = eventually(
        rest_answered,
        deadline - time.monotonic(),
        interval_s=POLL_S,
        awaited="a 200 for the REST prediction, within deadline_s of the start",
        detail=lambda: f"last answered: {last}",
    )
    report["rest"] = {"status": reply.status_code, "body": reply.json()}
    report["liveness"] = tcp_probe(spec["liveness_port"])
    request = prediction_pb2.SeldonMessage()
    json_format.ParseDict({"data": {"ndarray": spec["payload"]}}, request)
    # seldon-core starts its gRPC server in a process of its own, after or before REST: the
    # executor's client waits for the channel, so does this one, up to the same deadline
    with grpc.insecure_channel(f"127.0.0.1:{spec['grpc_port']}") as channel:
        answer = prediction_pb2_grpc.ModelStub(channel).Predict(
            request, timeout=max(deadline - time.monotonic(), 30.0), wait_for_ready=True
        )
    report["grpc"] = json_format.MessageToDict(answer)
    # a component records its metrics off the request path: they show up a moment later
    metrics_url = f"http://127.0.0.1:{spec['metrics_port']}{spec['metrics_path']}"

    def labelled() -> tuple[int, list[str]] | None:
        metrics = requests.get(metrics_url, timeout=10)
        lines = [line for line in metrics.text.splitlines() if "model_image=" in line]
        return (metrics.status_code, lines) if lines else None

    status, lines = eventually(
        labelled,
        METRICS_WAIT_S,
        interval_s=POLL_S,
        awaited=f"lines with model_image= at {metrics_url}",
    )
    report["metrics"] = {"status": status, "lines": lines}
    return report


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
