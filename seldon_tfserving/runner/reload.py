"""Ask a running TF Serving to apply a new model config: ModelService.HandleReloadConfigRequest.

This is how TF Serving moves a version label without a restart; a server that does not offer
it answers UNIMPLEMENTED, and the runner then restarts the backend instead.
"""

from __future__ import annotations

import logging

import grpc

logger = logging.getLogger(__name__)

RELOAD_TIMEOUT_S = 60.0


def reload_model_config(grpc_target: str, config_text: str) -> bool:
    """Send `config_text` (a ModelServerConfig text proto); True if the server applied it,
    False if it does not support reloading. Text that is no config raises
    ModelServerConfigError; other failures raise grpc.RpcError."""
    from tensorflow_serving.apis import model_management_pb2, model_service_pb2_grpc

    from seldon_tfserving.codec.model_server_config import parse_model_server_config

    config = parse_model_server_config(config_text)
    request = model_management_pb2.ReloadConfigRequest(config=config)
    with grpc.insecure_channel(grpc_target) as channel:
        stub = model_service_pb2_grpc.ModelServiceStub(channel)
        try:
            reply = stub.HandleReloadConfigRequest(request, timeout=RELOAD_TIMEOUT_S)
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.UNIMPLEMENTED:
                logger.info("%s cannot reload its config: %s", grpc_target, error.details())
                return False
            raise
    if reply.status.error_code != 0:
        raise RuntimeError(f"TF Serving refused the new config: {reply.status.error_message}")
    return True
