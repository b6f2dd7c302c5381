"""The local graph executor and Seldon's external API: what the Seldon executor and the
cluster's ingress do, on one machine.

`server.Gateway` wires it: `rest_api` and `grpc_api` (thin faces) hand requests to
`dataplane` (deployment lookup, `traffic` split and shadows, response annotation, server
metrics), which runs `executor` (the graph walk, planned per node by `graph_plan`, reading
routes with `routing`) over `component_client` (pooled REST / gRPC calls to components).
`request_logger` sends CloudEvents, `metrics` keeps the executor's Prometheus metrics.
"""
