"""Seldon's gRPC `ndarray` (a protobuf ListValue) <-> numpy, through its wire bytes.

A ListValue of numbers is a regular byte pattern: each number is `0a 09 11 <8-byte double>`
and each nested list a `0a <len> 32 <len>` header before its elements. For a dense numeric
array that pattern is built (and recognised) with numpy in a few vectorised steps, instead of
one protobuf `Value` object per element. Anything irregular (strings, ragged or empty lists)
returns None and the caller takes the ordinary, slower path.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from seldon_tfserving.codec.tensors import Array

_VALUES_TAG = 0x0A  # ListValue.values: field 1, length-delimited
_NUMBER_TAG = 0x11  # Value.number_value: field 2, fixed64
_BOOL_TAG = 0x20  # Value.bool_value: field 4, varint
_LIST_TAG = 0x32  # Value.list_value: field 6, length-delimited

_NUMBER_LEAF = np.dtype([("values", "u1"), ("size", "u1"), ("kind", "u1"), ("number", "<f8")])
_BOOL_LEAF = np.dtype([("values", "u1"), ("size", "u1"), ("kind", "u1"), ("flag", "u1")])


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while pos < len(data):
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
    raise IndexError("truncated varint")


def _encode(array: Array) -> tuple[Array, Array] | None:
    """The ListValue bytes of a dense numeric or boolean array, and where the payload sits."""
    if array.ndim == 0 or array.size == 0 or array.dtype.kind not in "biuf":
        return None
    flat = array.reshape(-1)
    if array.dtype.kind == "b":
        leaves = np.empty(flat.size, dtype=_BOOL_LEAF)
        leaves["values"], leaves["size"], leaves["kind"] = _VALUES_TAG, 2, _BOOL_TAG
        leaves["flag"] = flat
        payload = np.array([False, False, False, True])
    else:
        leaves = np.empty(flat.size, dtype=_NUMBER_LEAF)
        leaves["values"], leaves["size"], leaves["kind"] = _VALUES_TAG, 9, _NUMBER_TAG
        leaves["number"] = flat
        payload = np.array([False] * 3 + [True] * 8)
    width = leaves.dtype.itemsize
    shape = array.shape
    rows = flat.size // shape[-1]
    matrix = leaves.view(np.uint8).reshape(rows, shape[-1] * width)
    mask = np.broadcast_to(np.tile(payload, shape[-1]), matrix.shape)
    for axis in range(array.ndim - 2, -1, -1):
        length = matrix.shape[1]
        inner = bytes([_LIST_TAG]) + _varint(length)
        header = np.frombuffer(
            bytes([_VALUES_TAG]) + _varint(len(inner) + length) + inner, np.uint8
        )
        rows = matrix.shape[0]
        matrix = np.hstack([np.broadcast_to(header, (rows, header.size)), matrix])
        mask = np.hstack([np.zeros((rows, header.size), dtype=bool), mask])
        matrix = matrix.reshape(rows // shape[axis], -1)
        mask = mask.reshape(rows // shape[axis], -1)
    return matrix.reshape(-1), mask.reshape(-1)


def ndarray_to_list_value_bytes(array: Array) -> bytes | None:
    """Wire bytes of the ListValue holding `array` (numbers as doubles, as Seldon writes them).

    None for arrays this fast path does not cover (strings, scalars, empty arrays).
    """
    encoded = _encode(array)
    return None if encoded is None else encoded[0].tobytes()


def _probe_shape(data: bytes) -> tuple[int, ...] | None:
    """The shape a regular nested list of numbers would have, read along its first elements."""
    shape: list[int] = []
    pos, end = 0, len(data)
    try:
        while pos < end and data[pos] == _VALUES_TAG:
            size, start = _read_varint(data, pos + 1)
            element = start - pos + size
            if element <= 0 or (end - pos) % element:
                return None
            shape.append((end - pos) // element)
            if data[start] == _NUMBER_TAG:
                return tuple(shape) if size == 9 else None
            if data[start] != _LIST_TAG:
                return None
            length, inner = _read_varint(data, start + 1)
            if inner + length != start + size:
                return None
            pos, end = inner, inner + length
    except IndexError:
        return None
    return None


def list_value_to_ndarray(list_value: Any) -> Array | None:
    """A float64 array from a ListValue of dense nested numbers; None when it is not one."""
    data = list_value.SerializeToString()
    shape = _probe_shape(data)
    if shape is None:
        return None
    encoded = _encode(np.zeros(shape))
    if encoded is None:
        return None
    template, payload = encoded
    wire = np.frombuffer(data, dtype=np.uint8)
    if wire.size != template.size or not np.array_equal(wire[~payload], template[~payload]):
        return None
    return wire[payload].view("<f8").reshape(shape)
