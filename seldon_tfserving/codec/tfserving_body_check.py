"""Checks of a TF Serving REST body that a hop passes on without reading its tensors.

A router decides without the request's tensors, and the gateway chains a client's request to
its first node as it came, so neither needs the body parsed: a body whose first member is its
tensor is told from its first bytes, any other is parsed once. TF Serving itself, at the end
of the route, parses it in full and judges what follows those first bytes.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from seldon_tfserving.codec import fast_json
from seldon_tfserving.codec.json_tensors import debug_json
from seldon_tfserving.errors import InvalidInput

#: The members a `:predict` request holds its tensor in; `:classify`/`:regress` use `examples`.
PREDICT_MEMBERS: tuple[str, ...] = ("instances", "inputs")
REQUEST_MEMBERS: tuple[str, ...] = (*PREDICT_MEMBERS, "examples")

_SPACE = rb"[ \t\n\r]*"
#: `{`, at most a plain `signature_name` member (a string without escapes), then a name.
_OPENING = rb'%(s)s\{%(s)s(?:"signature_name"%(s)s:%(s)s"[^"\\]*"%(s)s,%(s)s)?"(%(names)s)"%(s)s:'


def _opening(members: tuple[str, ...]) -> re.Pattern[bytes]:
    names = b"|".join(re.escape(name).encode() for name in members)
    return re.compile(_OPENING % {b"s": _SPACE, b"names": names})


_OPENINGS: dict[tuple[str, ...], re.Pattern[bytes]] = {
    members: _opening(members) for members in (PREDICT_MEMBERS, REQUEST_MEMBERS)
}


def opens_with(body: bytes, members: tuple[str, ...]) -> bool:
    """Whether `body` opens as a JSON object whose first member (after at most a plain
    `signature_name`) is one of `members`: read from its first bytes, whatever its length."""
    return _OPENINGS[members].match(body) is not None


def check_request_body(body: bytes) -> None:
    """Refuse, with TF Serving's words, a body that is no TF Serving request at all: not a
    JSON object, or one with neither `instances`/`inputs` (predict) nor `examples` (classify,
    regress). For a hop that decides on a request without reading its tensors (a router).

    A body that opens with its tensor passes unparsed. Any other is parsed once by orjson,
    without `fast_json`'s scan for huge integers (their values are never read here); only a
    body orjson refuses is judged again by `json.loads`, for its verdict and its words."""
    if opens_with(body, REQUEST_MEMBERS):
        return
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        document = _judged_by_json_loads(body)
    if not isinstance(document, dict):
        raise InvalidInput(f"JSON Value: {debug_json(document)} Is not object")
    if not any(key in document for key in ("instances", "inputs", "examples")):
        raise InvalidInput("Missing 'inputs' or 'instances' key")


def _judged_by_json_loads(body: bytes) -> Any:
    try:
        return fast_json.loads(body)
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"JSON Parse error: Invalid encoding in string. {exc}") from None
    except (ValueError, RecursionError) as exc:
        raise InvalidInput(f"JSON Parse error: {exc}") from None
