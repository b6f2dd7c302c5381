"""How our processes configure gRPC's C core, before the first `import grpc` reads it.

grpcio's default I/O runs on the EventEngine: its own threads read the sockets and hand every
call to the thread that polls the completion queue, which hands it to the servicer's pool.
With the older iomgr I/O, which grpcio still ships, the polling thread reads the socket
itself. On these hops (a unary call in, one to TF Serving out) that hand-over is a tenth of a
process's CPU per answer (measured A/B in the README's bench section). The C core reads
`GRPC_EXPERIMENTS` once, when `grpc` is first imported, so every entrypoint of ours calls
`use_iomgr_io()` first; its children inherit the variable. An operator's own value wins.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping

#: The variable gRPC's C core reads its experiments from (doc/environment_variables.md).
EXPERIMENTS_VARIABLE = "GRPC_EXPERIMENTS"

#: The EventEngine experiments turned off: the client's and the listener's socket I/O.
IOMGR_IO_EXPERIMENTS = "-event_engine_client,-event_engine_listener"


def use_iomgr_io(environ: MutableMapping[str, str] = os.environ) -> None:
    """Turn the EventEngine's socket I/O off for this process and its children, unless the
    operator already set `GRPC_EXPERIMENTS` (then theirs stands as it is)."""
    environ.setdefault(EXPERIMENTS_VARIABLE, IOMGR_IO_EXPERIMENTS)


def experiments_as_shipped(environ: Mapping[str, str] = os.environ) -> str:
    """`GRPC_EXPERIMENTS` for a child that must run as its makers ship it (the bench's
    reference class): the operator's value if any, never ours (empty: gRPC's defaults)."""
    found = environ.get(EXPERIMENTS_VARIABLE, "")
    return "" if found == IOMGR_IO_EXPERIMENTS else found
