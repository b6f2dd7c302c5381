"""Pure conversions between Seldon payloads, numpy arrays, TensorProtos and TF Serving JSON.

Nothing here does I/O or knows a transport.
"""
