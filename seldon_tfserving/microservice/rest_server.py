"""How a component's REST and metrics ports are served: Seldon's gunicorn applications, given
our worker (`rest_worker.py`), our door (`rest_door.py`) and bounded settings.

Seldon builds its gunicorn options itself (workers, --threads, --keepalive, the REST timeout
annotation, ...) and reads no gunicorn config file, so its two application classes are
replaced by subclasses that add ours. Seldon's knobs keep their meaning; `--threads`
(GUNICORN_THREADS) is how many requests the app serves at once in each worker. Ours are read
once from the environment, each named after what it bounds.
"""

from __future__ import annotations

import math
from typing import Any

from seldon_core import gunicorn_utils

from seldon_tfserving.microservice.rest_door import DoorLimits, WsgiDoor, body_limit_of
from seldon_tfserving.microservice.rest_worker import BoundedAsgiWorker
from seldon_tfserving.microservice.server_settings import ComponentServerSettings
from seldon_tfserving.microservice.stopping import on_rest_master_ready

WORKER_CLASS = "seldon_tfserving.microservice.rest_worker.BoundedAsgiWorker"
#: the metrics port takes GETs only: a body there is never needed
METRICS_MAX_BODY_BYTES = 64 * 1024


def _bounded(cfg: Any, settings: ComponentServerSettings) -> None:
    cfg.set("worker_class", WORKER_CLASS)
    # gunicorn's runtime control socket sits at one path per user: two masters per component
    # (REST, metrics) and every other component of the machine would share it
    cfg.set("control_socket_disable", True)
    cfg.set("worker_connections", settings.max_connections)
    cfg.set("graceful_timeout", math.ceil(settings.stop_grace_s))  # gunicorn takes whole seconds
    # the asyncio worker pings its master every second; Seldon's timeout (the REST timeout
    # annotation, 5000 s by default) keeps bounding a worker that stops doing so
    BoundedAsgiWorker.header_timeout_s = settings.header_timeout_s


class ComponentApplication(gunicorn_utils.UserModelApplication):  # type: ignore[misc]
    """Seldon's REST application on our worker, its Flask app behind a `WsgiDoor`."""

    settings = ComponentServerSettings()

    def load_config(self) -> None:
        super().load_config()
        _bounded(self.cfg, self.settings)
        self.cfg.set("when_ready", on_rest_master_ready)

    def load(self) -> WsgiDoor:
        app = super().load()
        limits = DoorLimits(
            max_body_bytes=body_limit_of(self.user_object),
            body_timeout_s=self.settings.body_timeout_s,
            app_threads=max(1, int(self.cfg.threads)),
        )
        return WsgiDoor(app, limits)


class MetricsApplication(gunicorn_utils.StandaloneApplication):  # type: ignore[misc]
    """Seldon's metrics application on the same worker: a scraper cannot hold it either."""

    settings = ComponentServerSettings()

    def load_config(self) -> None:
        super().load_config()
        _bounded(self.cfg, self.settings)

    def load(self) -> WsgiDoor:
        limits = DoorLimits(
            max_body_bytes=METRICS_MAX_BODY_BYTES,
            limit_name="the metrics port's limit",
            body_timeout_s=self.settings.body_timeout_s,
            app_threads=1,
        )
        return WsgiDoor(super().load(), limits)


def serve_rest_ports_bounded(settings: ComponentServerSettings) -> None:
    """Make `seldon_core.microservice` start its REST and metrics ports with ours."""
    from seldon_core import microservice

    ComponentApplication.settings = settings
    MetricsApplication.settings = settings
    microservice.UserModelApplication = ComponentApplication
    microservice.StandaloneApplication = MetricsApplication
