"""Runs our gateway over the bench's graphs in a process of its own, until SIGTERM.

In its own process the gateway does not share the bench clients' interpreter (and GIL), so
what the graph targets measure is the gateway's cost, not the clients'. It loads TensorFlow's
protos without its runtime (`tensorflow_protos_only`): the gateway only moves tensors.
Usage: python -m seldon_tfserving.bench.gateway_process SPEC.json (written by bench.graphs).
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path

from seldon_tfserving.bench.graphs import read_spec
from seldon_tfserving.deploy.model import parse_deployment
from seldon_tfserving.gateway.endpoints import ComponentEndpoint
from seldon_tfserving.tensorflow_protos_only import load_tensorflow_protos_only


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    load_tensorflow_protos_only()  # before the gateway imports TF Serving's protos
    from seldon_tfserving.gateway.server import Gateway

    spec = read_spec(Path(argv[0]))
    deployments = [parse_deployment(doc) for doc in spec["deployments"]]
    endpoints = {key: ComponentEndpoint(**value) for key, value in spec["endpoints"].items()}
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    with Gateway(
        deployments,
        endpoints,
        host="127.0.0.1",
        http_port=int(spec["http_port"]),
        grpc_port=int(spec["grpc_port"]),
    ):
        stopping.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
