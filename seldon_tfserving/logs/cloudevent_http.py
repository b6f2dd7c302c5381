"""CloudEvents 1.0 over HTTP, binary mode, read by the sink itself: its per-event hot path.

The SDK's parse and validation was two thirds of an event's cost in the sink. This reader keeps
the spec's rules (REQUIRED id, source, type and specversion 1.0; non-empty optional
attributes; RFC 3339 time; attribute names of [a-z0-9]; headers unquoted, then percent-decoded
refusing invalid UTF-8; each attribute once) and builds nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import unquote

SPECVERSION = "1.0"
REQUIRED = ("specversion", "id", "source", "type")
#: optional attributes that, when present, must not be empty (datacontenttype is checked
#: where it comes from: Content-Type)
NON_EMPTY_OPTIONAL = ("subject", "dataschema")
CE_PREFIX = "ce-"
#: RFC 3339's date-time (section 5.6; T, t or the space its note allows between date and time)
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})\Z", re.ASCII
)
#: RFC 7230's quoted-pair inside a quoted-string
_QUOTED_PAIR = re.compile(r"\\(.)", re.DOTALL)


class InvalidCloudEvent(ValueError):
    """The message is not a binary-mode CloudEvent 1.0; the message says which rule it breaks."""


class NoCloudEventHeaders(InvalidCloudEvent):
    """No Ce-* header at all: not a binary-mode CloudEvent (maybe not a CloudEvent at all)."""


@dataclass(frozen=True, slots=True)
class BinaryCloudEvent:
    """One event's context attributes (decoded text; `time` parsed) and its data as sent."""

    attributes: dict[str, str]
    time: datetime | None
    data: bytes


def read_binary_event(headers: Mapping[str, str], body: bytes) -> BinaryCloudEvent:
    """The CloudEvent `headers` and `body` carry, or InvalidCloudEvent naming the broken rule."""
    attributes: dict[str, str] = {}
    for header, raw in headers.items():
        name = header.lower()
        if name.startswith(CE_PREFIX):
            attribute = name[3:]
            if attribute == "datacontenttype":
                raise InvalidCloudEvent(
                    "Ce-Datacontenttype is not allowed in binary mode: Content-Type carries it"
                )
            _check_name(attribute, header)
            value = _header_value(header, raw)
        elif name == "content-type":
            # datacontenttype as it is: Content-Type is never percent-encoded (binding, 3.1.1)
            attribute, value = "datacontenttype", raw.strip()
        else:
            continue
        if attribute in attributes:
            raise InvalidCloudEvent(f"the attribute {attribute!r} appears more than once")
        attributes[attribute] = value
    if not any(name != "datacontenttype" for name in attributes):
        raise NoCloudEventHeaders("no Ce-* headers")
    for name in REQUIRED:
        if not attributes.get(name):
            raise InvalidCloudEvent(f"the required attribute {name!r} is missing or empty")
    if attributes["specversion"] != SPECVERSION:
        raise InvalidCloudEvent(f"specversion {attributes['specversion']!r} is not {SPECVERSION!r}")
    for name in NON_EMPTY_OPTIONAL:
        if name in attributes and not attributes[name]:
            raise InvalidCloudEvent(f"the attribute {name!r} is empty")
    if "datacontenttype" in attributes and not attributes["datacontenttype"].strip():
        raise InvalidCloudEvent("Content-Type (datacontenttype) is empty")
    time_text = attributes.pop("time", None)
    return BinaryCloudEvent(attributes, None if time_text is None else _timestamp(time_text), body)


def _check_name(attribute: str, header: str) -> None:
    """A context attribute's name: one or more of [a-z0-9], and never the reserved `data`."""
    if not (attribute.isascii() and attribute.isalnum()):
        raise InvalidCloudEvent(f"{header!r} names no valid attribute (only a-z and 0-9)")
    if attribute == "data":
        raise InvalidCloudEvent("'data' is reserved and is no attribute name")


def _header_value(header: str, raw: str) -> str:
    """A header's attribute value: a quoted-string unescaped, then one round of
    percent-decoding, which refuses byte sequences that are not UTF-8 (the binding's rule)."""
    value = raw.strip(" \t")
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        value = _QUOTED_PAIR.sub(r"\1", value[1:-1])
    if "%" not in value:
        return value
    try:
        return unquote(value, errors="strict")
    except UnicodeDecodeError:
        raise InvalidCloudEvent(f"{header!r} percent-encodes bytes that are not UTF-8") from None


def _timestamp(text: str) -> datetime:
    """`time` as RFC 3339 requires: a full date, time and offset; out-of-range fields refused."""
    if not _RFC3339.match(text):
        raise InvalidCloudEvent(f"time {text!r} is not an RFC 3339 timestamp")
    try:
        return datetime.fromisoformat(text.upper())
    except ValueError as error:
        raise InvalidCloudEvent(f"time {text!r} is not a valid timestamp: {error}") from None
