"""A gateway as the whole of a process: serve until SIGTERM (or SIGINT), stop gracefully,
exit 0.

Once `Gateway.stop` is back every socket is closed and every answer written; what is left is
the interpreter's own finalization, which with TensorFlow's modules loaded takes seconds on a
busy machine. So the process ends with `os._exit(0)` after flushing its streams, and the whole
stop stays within the gateway's drain timeout plus a fraction of a second.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from typing import NoReturn

from seldon_tfserving.gateway.server import Gateway
from seldon_tfserving.process_exit import exit_now

logger = logging.getLogger(__name__)


def serve_until_signalled(gateway: Gateway, on_ready: Callable[[], None] | None = None) -> NoReturn:
    """Start `gateway`, wait for SIGTERM or SIGINT, stop it gracefully and end the process
    with exit code 0 (never returns)."""
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    gateway.start()
    if on_ready is not None:
        on_ready()
    stopping.wait()
    try:
        gateway.stop()
    except Exception:
        logger.exception("the gateway's stop failed")
        exit_now(1)
    exit_now(0)
