"""The one address everything `up` starts listens on (`--host`), and where it is reached.

Every child binds `--host`: the components' HTTP, gRPC and metrics ports, the backends' ports,
the gateway. The runner, the gateway and a pod's TfServingModel nodes dial that address, or
loopback when it is the wildcard. IPv4 only: the gateway, Seldon's client and the pods'
`host:port` endpoints spell addresses without IPv6's brackets.
"""

from __future__ import annotations

import ipaddress

LOOPBACK = "127.0.0.1"
WILDCARD = "0.0.0.0"


def listen_host(text: str) -> str:
    """`--host`'s value as an address to bind: an IPv4 address (`localhost` is 127.0.0.1);
    ValueError for anything else."""
    if text == "localhost":
        return LOOPBACK
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        raise ValueError(
            f"{text!r} is not an IPv4 address (use 127.0.0.1, this machine only, the default; "
            f"0.0.0.0 for every interface; or one interface's address)"
        ) from None


def is_wildcard(host: str) -> bool:
    """Whether `host` means every interface."""
    return host == WILDCARD


def dial_host(host: str) -> str:
    """Where a process bound to `host` is reached from this machine."""
    return LOOPBACK if is_wildcard(host) else host
