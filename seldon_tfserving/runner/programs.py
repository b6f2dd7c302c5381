"""Which programs `up` launches for its two kinds of child, found once.

The real `tensorflow_model_server` listens on every interface (gRPC on 0.0.0.0, REST on `::`)
and has no flag to choose one, so it is taken only when `up` listens everywhere anyway; on any
other `--host` our `serve-models` stands in, bound to that address, and `up` says why.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from seldon_tfserving.deploy.tfserving_flags import MODEL_SERVER_BINARY
from seldon_tfserving.runner.bind_host import is_wildcard
from seldon_tfserving.runner.errors import PlanError

SERVE_MODELS = (sys.executable, "-m", "seldon_tfserving.cli", "serve-models")


@dataclass(frozen=True)
class Programs:
    """How to launch the two kinds of child, resolved once."""

    model_server: tuple[str, ...]
    microservice: tuple[str, ...]
    #: whether the model server takes our `--bind_address` (serve-models does)
    binds_host: bool = False
    #: why a `tensorflow_model_server` on PATH is not used (None: it is, or there is none)
    note: str | None = None


def find_programs(
    which: Callable[[str], str | None] = shutil.which, host: str | None = None
) -> Programs:
    """The real `tensorflow_model_server` when it is on PATH and may listen on every interface
    (`host` the wildcard, or None: not asked), else our `serve-models`."""
    real = which(MODEL_SERVER_BINARY)
    note = None
    if real and host is not None and not is_wildcard(host):
        note = (
            f"{MODEL_SERVER_BINARY} is on PATH, but it listens on every interface and cannot be "
            f"told {host}: serve-models stands in for it (--host 0.0.0.0 runs the real one)"
        )
        real = None
    beside_python = Path(sys.executable).parent / "seldon-core-microservice"
    microservice = (
        str(beside_python) if beside_python.exists() else which("seldon-core-microservice")
    )
    if microservice is None:
        raise PlanError("seldon-core-microservice is not installed (pip install seldon-core)")
    if real:
        return Programs((real,), (microservice,))
    return Programs(SERVE_MODELS, (microservice,), binds_host=True, note=note)
