"""seldon-core-microservice's servers on one address instead of every interface.

seldon-core 1.19 binds its REST and metrics servers (gunicorn's `bind`, or Flask's development
server under SELDON_DEBUG) and its gRPC server to 0.0.0.0, with no option to choose, and the
gunicorn application class it uses reads no gunicorn settings from the environment. So our
entrypoint (`serve.py`), given `SELDON_TFSERVING_LISTEN_HOST` (`up --host` sets it), replaces
the address those three servers are given before seldon-core's own `main` runs; the
replacements are made before anything forks, so the gRPC processes and gunicorn's workers
inherit them. On a cluster the variable is unset and the pod's network decides.

seldon-core's gRPC port reservation (a socket bound to the port, never listening) is left as
it is: it accepts no connection.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Sequence
from typing import Any

#: The address every server of the component listens on (unset: seldon-core's 0.0.0.0).
LISTEN_HOST_ENV = "SELDON_TFSERVING_LISTEN_HOST"
#: seldon-core's function that starts one gRPC server process on the address it is given.
GRPC_SERVER_RUNNER = "_run_grpc_server"


def on_host(address: str, host: str) -> str:
    """`0.0.0.0:9000` -> `HOST:9000`; a unix socket, or an address without a port, is kept."""
    if address.startswith("unix:"):
        return address
    _, separator, port = address.rpartition(":")
    return f"{host}:{port}" if separator and port.isdigit() else address


def bind_to(host: str) -> None:
    """Make seldon-core's REST, metrics and gRPC servers listen on `host`, in this process and
    the processes it forks; RuntimeError if this seldon-core starts gRPC some other way."""
    microservice = importlib.import_module("seldon_core.microservice")
    run_grpc_server = getattr(microservice, GRPC_SERVER_RUNNER, None)
    if run_grpc_server is None or "bind_address" not in _parameters(run_grpc_server):
        raise RuntimeError(
            f"this seldon-core has no {GRPC_SERVER_RUNNER}(..., bind_address): its gRPC server "
            f"cannot be bound to {host}; run the seldon-core version pyproject.toml pins"
        )
    setattr(microservice, GRPC_SERVER_RUNNER, _grpc_on_host(run_grpc_server, host))
    application = importlib.import_module("gunicorn.app.base").BaseApplication
    application.do_load_config = _gunicorn_on_host(application.do_load_config, host)
    flask_app = importlib.import_module("flask").Flask
    flask_app.run = _flask_on_host(flask_app.run, host)


def _parameters(function: Callable[..., Any]) -> Sequence[str]:
    return list(inspect.signature(function).parameters)


def _grpc_on_host(run_grpc_server: Callable[..., Any], host: str) -> Callable[..., Any]:
    signature = inspect.signature(run_grpc_server)

    def run_on_host(*args: Any, **kwargs: Any) -> Any:
        call = signature.bind(*args, **kwargs)
        call.arguments["bind_address"] = on_host(str(call.arguments["bind_address"]), host)
        return run_grpc_server(*call.args, **call.kwargs)

    return run_on_host


def _gunicorn_on_host(do_load_config: Callable[[Any], None], host: str) -> Callable[[Any], None]:
    """gunicorn's config loading (at start and on reload), then its `bind` moved to `host`."""

    def load_on_host(application: Any) -> None:
        do_load_config(application)
        application.cfg.set("bind", [on_host(str(a), host) for a in application.cfg.bind])

    return load_on_host


def _flask_on_host(run: Callable[..., Any], host: str) -> Callable[..., Any]:
    """Flask's development server (seldon-core's under SELDON_DEBUG), on `host`."""

    def run_on_host(app: Any, _host: str | None = None, *args: Any, **kwargs: Any) -> Any:
        kwargs.pop("host", None)
        return run(app, host, *args, **kwargs)

    return run_on_host
