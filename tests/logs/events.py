"""CloudEvents as Seldon's executor posts them (executor/logger/worker.go), for sink tests
that need an event the gateway cannot produce (malformed ones, a stream at full speed)."""

from __future__ import annotations

import json
import uuid
from typing import Any

CE_TYPES = {
    "request": "io.seldon.serving.inference.request",
    "response": "io.seldon.serving.inference.response",
    "feedback": "io.seldon.serving.feedback",
}


def executor_headers(
    kind: str,
    request_id: str,
    node: str = "model",
    deployment: str = "dep",
    predictor: str = "default",
    protocol: str = "seldon",
    content_type: str = "application/json",
) -> dict[str, str]:
    """The executor's headers (executor/logger/worker.go's list: no Ce-Time), its Ce-Source."""
    return {
        "Content-Type": content_type,
        "Ce-Specversion": "1.0",
        "Ce-Id": str(uuid.uuid4()),
        "Ce-Type": CE_TYPES[kind],
        "Ce-Source": "http://:8000/",
        "Ce-Modelid": node,
        "Ce-Requestid": request_id,
        "Ce-Inferenceservicename": deployment,
        "Ce-Namespace": "seldon",
        "Ce-Endpoint": predictor,
        "Ce-Protocol": protocol,
    }


def body(document: Any) -> bytes:
    return json.dumps(document).encode()
