"""A gateway in a process of its own, for the tests of its graceful stop: it runs under
`serve_until_signalled`, so SIGTERM calls `Gateway.stop()` and the process then exits 0.

Usage: python -m tests.gateway.gateway_child SPEC.json, where the spec holds the raw
deployments, the endpoints by key and the two ports. "ready" is printed once listening.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from seldon_tfserving.deploy.model import parse_deployment
from seldon_tfserving.gateway.endpoints import ComponentEndpoint
from seldon_tfserving.gateway.process import serve_until_signalled
from seldon_tfserving.gateway.server import Gateway
from seldon_tfserving.gateway.settings import GatewaySettings


def write_spec(
    path: Path,
    deployments: list[dict[str, Any]],
    endpoints: dict[str, ComponentEndpoint],
    http_port: int,
    grpc_port: int,
) -> Path:
    spec = {
        "deployments": deployments,
        "endpoints": {
            key: {
                "host": e.host,
                "http_port": e.http_port,
                "grpc_port": e.grpc_port,
                "transport": e.transport,
            }
            for key, e in endpoints.items()
        },
        "http_port": http_port,
        "grpc_port": grpc_port,
    }
    path.write_text(json.dumps(spec))
    return path


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[0]).read_text())
    gateway = Gateway(
        [parse_deployment(doc) for doc in spec["deployments"]],
        {key: ComponentEndpoint(**value) for key, value in spec["endpoints"].items()},
        http_port=spec["http_port"],
        grpc_port=spec["grpc_port"],
        settings=GatewaySettings(component_timeout_s=20),
    )
    serve_until_signalled(gateway, on_ready=lambda: print("ready", flush=True))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
