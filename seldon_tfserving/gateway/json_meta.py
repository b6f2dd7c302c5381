"""Rewrite the top-level `meta` of a JSON Seldon message without re-encoding its data.

Decoding and re-encoding a response to add `meta.routing` costs more than the hop itself for
big tensors (a 2 MB ndarray takes ~150 ms in Python). Only `meta` is decoded here: the
top-level object is scanned for its keys by looking only at quotes, backslashes and brackets
(found with numpy), and the new `meta` is spliced in between the untouched bytes around it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import numpy as np

_QUOTE, _BACKSLASH = ord('"'), ord("\\")
_OPEN, _CLOSE = (ord("{"), ord("[")), (ord("}"), ord("]"))
#: The only bytes a scan of the nesting needs to see (a lookup table by byte value).
_SPECIAL = np.zeros(256, dtype=bool)
_SPECIAL[np.frombuffer(b'"\\{}[]', dtype=np.uint8)] = True
_SPACE = b" \t\r\n"

MetaUpdate = Callable[[dict[str, Any]], None]


def _skip_space(body: bytes, index: int) -> int:
    while index < len(body) and body[index] in _SPACE:
        index += 1
    return index


#: Bytes scanned at once: the scan's arrays stay a few MB whatever the body's size.
_WINDOW = 1 << 20
_IS_OPEN = np.zeros(256, dtype=np.int64)
_IS_OPEN[[ord("{"), ord("[")]] = 1
_IS_CLOSE = np.zeros(256, dtype=np.int64)
_IS_CLOSE[[ord("}"), ord("]")]] = 1
_META_REST = np.frombuffer(b'meta"', dtype=np.uint8)


class _Scan:
    """The structure of a JSON text window by window, vectorised: which quotes open strings,
    which brackets are outside strings, and the nesting depth around each bracket."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.codes = np.frombuffer(body, dtype=np.uint8)
        self._in_string = 0
        self._depth = 0
        self._backslashes = 0  # the run of backslashes that ended the previous window

    def windows(self) -> Any:
        """Per window: positions, codes, opening-quote mask, depth before and after each."""
        for offset in range(0, len(self.codes), _WINDOW):
            codes = self.codes[offset : offset + _WINDOW]
            relative = np.flatnonzero(_SPECIAL[codes])
            if not relative.size:
                self._backslashes = 0
                continue
            found = codes[relative]
            escaped = self._escaped(relative, found, len(codes))
            quotes = (found == _QUOTE) & ~escaped
            count = np.cumsum(quotes)
            inside = ((count - quotes + self._in_string) & 1).astype(bool)
            self._in_string = int((self._in_string + count[-1]) & 1)
            delta = (_IS_OPEN[found] - _IS_CLOSE[found]) * ~inside
            after = np.cumsum(delta) + self._depth
            self._depth = int(after[-1])
            yield relative + offset, found, quotes & ~inside, after - delta, after

    def _escaped(self, positions: Any, found: Any, size: int) -> Any:
        backslash = found == _BACKSLASH
        index = np.arange(len(found))
        adjacent = np.zeros(len(found), dtype=bool)
        adjacent[1:] = positions[1:] - positions[:-1] == 1
        carried = self._backslashes if positions[0] == 0 else 0
        continues = backslash & np.concatenate(([carried > 0], backslash[:-1])) & adjacent
        continues[0] = bool(backslash[0]) and carried > 0
        starts = backslash & ~continues
        last_start = np.maximum.accumulate(np.where(starts, index, -1))
        run = np.where(last_start >= 0, index - last_start + 1, index + 1 + carried) * backslash
        escaped = np.zeros(len(found), dtype=bool)
        escaped[1:] = backslash[:-1] & adjacent[1:] & (run[:-1] % 2 == 1)
        escaped[0] = positions[0] == 0 and carried % 2 == 1
        self._backslashes = int(run[-1]) if backslash[-1] and positions[-1] == size - 1 else 0
        return escaped


def _meta_value_at(body: bytes, quote: int) -> int | None:
    """Where the value of the key `"meta"` opening at `quote` starts (None: not a key)."""
    colon = _skip_space(body, quote + 6)
    if body[colon : colon + 1] != b":":
        return None
    return _skip_space(body, colon + 1)


#: Below this size a body is scanned token by token: numpy's fixed cost per call (~1.5 ms for
#: the vectorised scan of a 100-byte answer) was most of the gateway's REST hop.
_SMALL_BODY = 64 * 1024
#: A whole string (escapes included), a bracket, or a quote that opens no whole string.
_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[{}\[\]"]', re.DOTALL)


def _small_meta_span(body: bytes, start: int) -> tuple[int, int] | None | bool:
    """`_meta_span` for a small body whose first byte, at `start`, is `{`."""
    depth, meta_start = 0, -1
    for token in _TOKEN.finditer(body, start):
        text = token.group()
        if text in (b"{", b"["):
            depth += 1
        elif text in (b"}", b"]"):
            depth -= 1
            if meta_start >= 0 and depth == 1:
                return meta_start, token.end()
            if depth == 0:
                return None if meta_start < 0 else False
        elif text == b'"':
            return False  # a string that never ends
        elif depth == 1 and meta_start < 0 and text == b'"meta"':
            value = _meta_value_at(body, token.start())
            if value is None:
                continue
            if body[value : value + 1] != b"{":
                return False
            meta_start = value
    return False


def _meta_span(body: bytes) -> tuple[int, int] | None | bool:
    """Where the top-level `meta` value lies: (start, end); None when there is no `meta`;
    False when the body is not an object this scan understands (the caller then decodes)."""
    start = _skip_space(body, 0)
    if body[start : start + 1] != b"{":
        return False
    if len(body) < _SMALL_BODY:
        return _small_meta_span(body, start)
    scan = _Scan(body)
    codes, size = scan.codes, len(body)
    meta_start = -1
    for positions, found, opening, before, after in scan.windows():
        if meta_start < 0:
            candidates = positions[opening & (before == 1)]
            candidates = candidates[candidates + 5 < size]
            if candidates.size:
                tails = codes[candidates[:, None] + np.arange(1, 6)]
                candidates = candidates[(tails == _META_REST).all(axis=1)]
            top_end = positions[(_IS_CLOSE[found] == 1) & (after == 0)]
            for quote in candidates.tolist():
                if top_end.size and top_end[0] < quote:
                    break
                value = _meta_value_at(body, quote)
                if value is None:
                    continue
                if body[value : value + 1] != b"{":
                    return False
                meta_start = value
                break
            if meta_start < 0:
                if top_end.size:
                    return None
                continue
        closes = np.flatnonzero((_IS_CLOSE[found] == 1) & (positions > meta_start) & (after <= 1))
        if closes.size:
            first = closes[0]
            return (meta_start, int(positions[first]) + 1) if after[first] == 1 else False
    return False


def meta_size(body: bytes) -> int:
    """The size in bytes of a JSON message's top-level `meta` (0 when it has none or when the
    body is not an object: those are for the component to refuse)."""
    if b'"meta"' not in body:
        return 0
    span = _meta_span(body)
    if isinstance(span, tuple):
        return span[1] - span[0]
    return 0


def rewrite_meta(body: bytes, update: MetaUpdate) -> bytes:
    """`body` with `update` applied to its top-level `meta` object (created when missing).

    Raises ValueError when `body` is not a JSON object with an object (or no) `meta`.
    """
    span = _meta_span(body)
    if span is False:
        document = json.loads(body)
        if not isinstance(document, dict):
            raise ValueError("not a JSON object")
        meta = document.setdefault("meta", {})
        if not isinstance(meta, dict):
            raise ValueError("meta is not an object")
        update(meta)
        return json.dumps(document).encode()
    if span is None:
        meta = {}
        update(meta)
        opening = body.index(b"{") + 1
        first = _skip_space(body, opening)
        separator = b"" if body[first : first + 1] == b"}" else b", "
        return body[:opening] + b'"meta": ' + json.dumps(meta).encode() + separator + body[first:]
    assert isinstance(span, tuple)
    meta_start, meta_end = span
    meta = json.loads(body[meta_start:meta_end])
    update(meta)
    return body[:meta_start] + json.dumps(meta).encode() + body[meta_end:]
