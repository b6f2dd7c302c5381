"""Bench servers that all answer at one loopback address: for tests of what a run plans,
where no call is made."""

from __future__ import annotations

from collections.abc import Sequence

from seldon_tfserving.bench.graphs import graph_entries
from seldon_tfserving.bench.lineup import BenchServers
from seldon_tfserving.bench.models import BenchModel
from seldon_tfserving.gateway.endpoints import ServerAddress
from seldon_tfserving.runner.launch import LOOPBACK


def servers_at_one_address(
    models: Sequence[BenchModel], with_router: bool, with_reference: bool = False
) -> BenchServers:
    """Every process of a run at one address (the graphs' router only if `with_router`, a
    reference class's components only if `with_reference`)."""
    address = ServerAddress(LOOPBACK, 1, 2)
    return BenchServers(
        backend=address,
        wrappers={m.name: address for m in models},
        rest_transport_wrappers={m.name: address for m in models},
        forwarder=address.grpc_target,
        wrapper_forwarders={m.name: address.grpc_target for m in models},
        graphs=graph_entries(models, "http://h:1", "h:2", with_tf=True),
        router=address if with_router else None,
        references={m.name: address for m in models} if with_reference else {},
    )
