"""Messages and services of our own, for what Seldon's and TF Serving's protos do not cover.

The `_pb2` modules are generated from the `.proto` files beside them (`make protos`) and
committed, so nothing is compiled at install time.
"""
