"""Hosting our Seldon classes inside `seldon-core-microservice`: real error statuses, metrics
off the request path, fast body parsing and guarded payload decoding.

Nothing is imported here, so that a router's process pays only for the modules it uses.
"""
