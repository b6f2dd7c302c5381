"""Our entrypoint's body (`python -m seldon_tfserving.microservice`): seldon-core-microservice, with
the component's ports bounded against slow clients and a stop on SIGTERM.

It takes exactly seldon-core-microservice's arguments and environment; our own bounds come
from `ComponentServerSettings`. The image's CMD starts components through it, so a class that
is not ours is served the same way; ours also install the hooks when constructed
(`hooks.py`), so a plain `seldon-core-microservice` hosting them behaves alike.
"""

from __future__ import annotations

import logging
import os
import sys

from seldon_tfserving.microservice.listen_host import LISTEN_HOST_ENV, bind_to
from seldon_tfserving.microservice.seldon_version import bounded_rest_port_missing
from seldon_tfserving.microservice.server_settings import (
    REST_PORT_BOUNDS_ENV,
    ComponentServerSettings,
)
from seldon_tfserving.microservice.stopping import stop_on_sigterm
from seldon_tfserving.parameters import ConfigurationError

logger = logging.getLogger(__name__)

#: The program seldon-core's messages name: this entrypoint takes exactly its arguments.
PROGRAM_NAME = "seldon-core-microservice"

_installed: list[ComponentServerSettings] = []


def install_server_hooks(settings: ComponentServerSettings | None = None) -> None:
    """Give `seldon_core.microservice` our REST worker, door and graceful stop (once: the
    entrypoint installs them, and so does the first class of ours a process constructs,
    before seldon-core starts its servers)."""
    if _installed:
        return
    chosen = settings or ComponentServerSettings.from_env()
    missing = bounded_rest_port_missing()
    if missing is None:
        from seldon_tfserving.microservice.rest_server import serve_rest_ports_bounded

        serve_rest_ports_bounded(chosen)
    else:
        asked = sorted(key for key in REST_PORT_BOUNDS_ENV if os.environ.get(key))
        if asked:
            raise ConfigurationError(
                ", ".join(asked),
                f"the bounded REST port cannot be served here ({missing}): unset them",
            )
        logger.warning(
            "the bounded REST port (header and body deadlines, connection cap, body limit at "
            "the door, stop linger) is off: %s; Seldon's own gunicorn serves it",
            missing,
        )
    stop_on_sigterm(chosen.stop_grace_s)
    _installed.append(chosen)


def main() -> None:
    install_server_hooks()
    host = os.environ.get(LISTEN_HOST_ENV)
    if host:
        bind_to(host)
        # seldon-core still logs 0.0.0.0 in its own lines; say where its servers really listen
        print(
            f"seldon-tfserving up: seldon-core's servers listen on {host} (not 0.0.0.0)",
            file=sys.stderr,
            flush=True,
        )
    sys.argv[0] = PROGRAM_NAME  # how seldon-core's argument parser names it in its messages
    from seldon_core.microservice import main as seldon_microservice_main

    seldon_microservice_main()
