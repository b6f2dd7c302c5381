"""Seldon's gRPC `ndarray` (a protobuf ListValue) <-> numpy, through its wire bytes.

A ListValue of numbers is a regular byte pattern: each number is `0a 09 11 <8-byte double>`
and each nested list a `0a <len> 32 <len>` header before its elements. For a dense numeric
array that pattern is built (and recognised) with numpy in a few vectorised steps, instead of
one protobuf `Value` object per element. Anything irregular (strings, ragged or empty lists)
returns None and the caller takes the ordinary, slower path.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
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


@dataclass(frozen=True)
class _Layout:
    """The ListValue bytes of one shape and leaf kind, with zeros where the values go."""

    template: Array  # uint8
    payload: Array  # bool, True on the bytes of the values
    framing: Array  # bool, True on the bytes that are not values
    fixed: bytes  # the template's bytes that are not values

    @property
    def size(self) -> int:
        return int(self.template.size)


def _build_layout(shape: tuple[int, ...], boolean: bool) -> _Layout:
    """Lay the byte pattern out once with numpy: leaves, then each level's list headers."""
    count = math.prod(shape)
    if boolean:
        leaves = np.zeros(count, dtype=_BOOL_LEAF)
        leaves["values"], leaves["size"], leaves["kind"] = _VALUES_TAG, 2, _BOOL_TAG
        payload = np.array([False, False, False, True])
    else:
        leaves = np.zeros(count, dtype=_NUMBER_LEAF)
        leaves["values"], leaves["size"], leaves["kind"] = _VALUES_TAG, 9, _NUMBER_TAG
        payload = np.array([False] * 3 + [True] * 8)
    width = leaves.dtype.itemsize
    rows = count // shape[-1]
    matrix = leaves.view(np.uint8).reshape(rows, shape[-1] * width)
    mask = np.broadcast_to(np.tile(payload, shape[-1]), matrix.shape)
    for axis in range(len(shape) - 2, -1, -1):
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
    template = np.ascontiguousarray(matrix.reshape(-1))
    payload_mask = np.ascontiguousarray(mask.reshape(-1))
    layout = _Layout(template, payload_mask, ~payload_mask, template[~payload_mask].tobytes())
    for shared in (layout.template, layout.payload, layout.framing):
        shared.flags.writeable = False  # cached layouts are shared by every request
    return layout


#: Layouts of small shapes, kept: Seldon's clients send the same few shapes again and again,
#: and laying one out costs more than the rest of a 1x4 request's conversions together.
_cached_layout = functools.lru_cache(maxsize=128)(_build_layout)
#: Above this many values a layout is built per call (its cost is then small beside the copy).
_CACHED_LAYOUT_VALUES = 4096


def _layout(shape: tuple[int, ...], boolean: bool) -> _Layout:
    if math.prod(shape) <= _CACHED_LAYOUT_VALUES:
        return _cached_layout(shape, boolean)
    return _build_layout(shape, boolean)


def ndarray_to_list_value_bytes(array: Array) -> bytes | None:
    """Wire bytes of the ListValue holding `array` (numbers as doubles, as Seldon writes them).

    None for arrays this fast path does not cover (strings, scalars, empty arrays).
    """
    if array.ndim == 0 or array.size == 0 or array.dtype.kind not in "biuf":
        return None
    boolean = array.dtype.kind == "b"
    layout = _layout(array.shape, boolean)
    wire = layout.template.copy()
    values = array.reshape(-1).astype(np.uint8 if boolean else "<f8")
    wire[layout.payload] = values.view(np.uint8)
    return wire.tobytes()


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


#: The shape last read from a ListValue of each byte length: Seldon's clients send the same few
#: shapes again and again, and a guess is checked against every framing byte before it is used.
_shape_of_length: dict[int, tuple[int, ...]] = {}
_REMEMBERED_LENGTHS = 128


def _read_as(data: bytes, shape: tuple[int, ...]) -> Array | None:
    """`data` as a float64 array of `shape`, or None unless every framing byte is that shape's."""
    layout = _layout(shape, boolean=False)
    wire = np.frombuffer(data, dtype=np.uint8)
    if wire.size != layout.size or wire[layout.framing].tobytes() != layout.fixed:
        return None
    return wire[layout.payload].view("<f8").reshape(shape)


def list_value_to_ndarray(list_value: Any) -> Array | None:
    """A float64 array from a ListValue of dense nested numbers; None when it is not one."""
    data = list_value.SerializeToString()
    remembered = _shape_of_length.get(len(data))
    if remembered is not None:
        array = _read_as(data, remembered)
        if array is not None:
            return array
    shape = _probe_shape(data)
    if shape is None:
        return None
    array = _read_as(data, shape)
    if array is not None and math.prod(shape) <= _CACHED_LAYOUT_VALUES:
        if len(_shape_of_length) >= _REMEMBERED_LENGTHS:
            _shape_of_length.clear()
        _shape_of_length[len(data)] = shape
    return array
