"""One graph node's container as `up` starts it: `seldon-core-microservice` per the s2i image
contract, with the env the operator gives every node's container, on this machine's ports."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from seldon_tfserving.deploy.components import container_env
from seldon_tfserving.deploy.model import GraphNode, Parameter, Predictor, SeldonDeployment
from seldon_tfserving.deploy.operator_defaults import NodePorts, node_env
from seldon_tfserving.gateway.endpoints import ComponentEndpoint, endpoint_key
from seldon_tfserving.microservice.listen_host import LISTEN_HOST_ENV
from seldon_tfserving.runner.bind_host import LOOPBACK, dial_host
from seldon_tfserving.runner.errors import PlanError
from seldon_tfserving.runner.launch import MICROSERVICE, microservice_argv
from seldon_tfserving.runner.pod_addresses import node_parameters
from seldon_tfserving.runner.trusted_code import ONLY_OURS, TrustedCode
from seldon_tfserving.runner.volumes import MountTable
from seldon_tfserving.transport import endpoint_transport


@dataclass(frozen=True)
class ComponentProcess:
    """One graph node's container, run as `seldon-core-microservice` per s2i's image contract."""

    key: str
    #: the container's command, as the image runs it
    argv: tuple[str, ...]
    env: Mapping[str, str]
    endpoint: ComponentEndpoint
    metrics_port: int
    parameters: tuple[Parameter, ...] = ()
    #: the address its HTTP, gRPC and metrics servers listen on
    host: str = LOOPBACK

    @property
    def command(self) -> tuple[str, ...]:
        """What `up` starts: `argv`'s arguments under our entrypoint, which takes exactly
        seldon-core-microservice's (its servers on `host`, from `env`)."""
        return (*MICROSERVICE, *self.argv[1:])


def component_process(
    deployment: SeldonDeployment,
    predictor: Predictor,
    node: GraphNode,
    container: Mapping[str, Any],
    *,
    table: MountTable,
    port_map: Mapping[int, int],
    microservice: Sequence[str],
    allocate_port: Callable[[], int],
    host: str = LOOPBACK,
    trusted: TrustedCode = ONLY_OURS,
) -> ComponentProcess:
    """The process for `node`'s container: its class from MODEL_NAME, its parameters with the
    pod's addresses and mounts made local, three free ports on `host`, and the operator's env;
    PlanError for a class or an env that `trusted` does not allow."""
    env = {name: table.rewrite(value) for name, value in container_env(container).items()}
    model_name = env.get("MODEL_NAME")
    if not model_name:
        raise PlanError(
            f"container {node.name!r} has no MODEL_NAME in its env (the s2i image contract "
            f"names the class to serve there)"
        )
    trusted.check_container(
        f"graph node {node.name!r} of predictor {predictor.name!r} (SeldonDeployment "
        f"{deployment.name!r})",
        model_name,
        env,
    )
    service_type = env.get("SERVICE_TYPE") or (node.type or "MODEL")
    parameters = node_parameters(node, model_name, table, port_map, dial_host(host))
    http_port, grpc_port, metrics_port = (allocate_port() for _ in range(3))
    transport = endpoint_transport(node.endpoint.type if node.endpoint is not None else None)
    spec = deployment.raw.get("spec") or {}
    grpc_service = transport == "grpc" or spec.get("transport") == "grpc"
    env.update(
        node_env(
            deployment=deployment.name,
            predictor=predictor.name,
            predictor_labels=predictor.raw.get("labels") or {},
            container=node.name,
            image=str(container.get("image") or ""),
            ports=NodePorts(http_port, grpc_port, metrics_port, grpc_service),
            parameters=json.dumps([p.as_seldon_json() for p in parameters]),
            has_model_uri=bool(node.model_uri),
        )
    )
    env[LISTEN_HOST_ENV] = host
    argv = microservice_argv(
        microservice,
        model_name,
        service_type=service_type,
        http_port=http_port,
        grpc_port=grpc_port,
        metrics_port=metrics_port,
    )
    return ComponentProcess(
        key=endpoint_key(deployment.name, predictor.name, node.name),
        argv=argv,
        env=env,
        endpoint=ComponentEndpoint(dial_host(host), http_port, grpc_port, transport),
        metrics_port=metrics_port,
        parameters=parameters,
        host=host,
    )
