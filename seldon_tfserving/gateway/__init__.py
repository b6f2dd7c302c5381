"""The local graph executor and Seldon's external API: what the Seldon executor and the
cluster's ingress do, on one machine.

`server.Gateway` wires it. Its HTTP port is `http_front`: one event loop reads every connection
(`http_connection`) under timeouts and a connection cap, parses it strictly (`http1`, RFC 9112),
tunnels HTTP/2 to gRPC (`tunnel`) and hands complete requests to bounded workers (`wsgi_bridge`);
`refusals` are its HTTP-only errors, `cors` says which web pages may call, and `process` runs a
gateway until SIGTERM and its graceful stop. `rest_api` and `grpc_api` (thin faces) build a
`context` per request and hand it to `dataplane` (deployment lookup, `traffic` split and shadows,
response annotation, server metrics), which runs `executor` (the graph walk, planned per node by
`graph_plan`, reading routes with `routing`, children called at once by `fan_out`, `builtin_units`
run in place) over `component_client` (pooled REST / gRPC calls to components). `liveness` holds
the components the runner reported dead, `request_logger` sends CloudEvents, `metrics` keeps the
executor's Prometheus metrics and their labels.

Under `spec.protocol: tensorflow` (`protocols`) the faces are `tf_rest_api` and `tf_grpc_api`
over `tf_dataplane`; the same walk runs with the `tf_calls` strategy (`node_calls` is what a
protocol gives the walk; Seldon's is `seldon_calls`): `tf_component_client` calls each node,
`tf_chain` feeds one node's answer to the next, `routing_memory` keeps the routing by puid.
"""
