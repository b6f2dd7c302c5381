"""HTTP/1.1 request framing as RFC 9112 has it, strictly: bytes in, a request head and its
body out, no I/O (the gateway's front does the reading).

Where two parsers could read one message differently (both Content-Length and
Transfer-Encoding, two different Content-Lengths, `+30`, `3_0`, whitespace before a colon,
a bare CR or LF, obs-fold, a chunk size that is not plain hex) the request is refused and its
connection is to be closed, so that nothing after it is taken for another request. Identical
repeated Content-Lengths are one length, as Go's net/http (the executor's server) takes them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from seldon_tfserving.errors import InvalidInput, PayloadTooLarge, Unimplemented
from seldon_tfserving.gateway.refusals import HeaderFieldsTooLarge

HEAD_END = b"\r\n\r\n"
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
#: field-value: visible ASCII, obs-text, SP and HTAB (no CR, LF, NUL or other controls)
_FIELD_VALUE = re.compile(rb"[\t\x20-\x7e\x80-\xff]*")
_TARGET = re.compile(rb"[\x21-\x7e]+")
_VERSION = re.compile(rb"HTTP/([0-9])\.([0-9])")
_DIGITS = re.compile(r"[0-9]+")
_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}")
#: chunk-ext after the size: `;name[=value]` pairs, bounded by the size line's limit
_CHUNK_EXT = re.compile(
    rb"(?:[ \t]*;[ \t]*[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
    rb"(?:[ \t]*=[ \t]*(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+|\"[^\"\r\n]*\"))?)*"
)
MAX_FIELDS = 100
_MAX_SIZE_LINE = 1024


@dataclass(frozen=True)
class RequestHead:
    """A request line and its header fields, as sent (names keep their case)."""

    method: str
    target: str
    path: str
    query: str
    version: tuple[int, int]
    fields: tuple[tuple[str, str], ...]

    def values(self, name: str) -> list[str]:
        """Every value of field `name` (case-insensitive), in order."""
        lowered = name.lower()
        return [value for key, value in self.fields if key.lower() == lowered]

    def tokens(self, name: str) -> list[str]:
        """The comma-separated members of every `name` field, lowercased."""
        return [
            part.strip().lower()
            for value in self.values(name)
            for part in value.split(",")
            if part.strip()
        ]

    @property
    def keep_alive(self) -> bool:
        """HTTP/1.1 keeps the connection unless told to close; HTTP/1.0 closes it."""
        return self.version >= (1, 1) and "close" not in self.tokens("connection")

    @property
    def expects_continue(self) -> bool:
        return self.version >= (1, 1) and "100-continue" in self.tokens("expect")


@dataclass(frozen=True)
class BodyFraming:
    """How the body that follows a head is delimited: a length, chunks, or nothing."""

    content_length: int | None
    chunked: bool

    @property
    def has_body(self) -> bool:
        return self.chunked or bool(self.content_length)


def head_end(buffer: bytes | bytearray, max_head_bytes: int) -> int:
    """Where the head in `buffer` ends (past its empty line), -1 while incomplete.

    Raises when the head is over `max_head_bytes`, or when it ends with a bare LF (a head
    only a lenient parser would see the end of).
    """
    found = buffer.find(HEAD_END)
    if found < 0:
        if b"\n\n" in buffer:
            raise InvalidInput("a bare LF ends a line of the request head")
        if len(buffer) > max_head_bytes:
            raise HeaderFieldsTooLarge(f"request head is over {max_head_bytes} bytes")
        return -1
    if found + len(HEAD_END) > max_head_bytes:
        raise HeaderFieldsTooLarge(f"request head is over {max_head_bytes} bytes")
    return found + len(HEAD_END)


def skip_empty_lines(buffer: bytearray) -> None:
    """Drop CRLFs before a request line (RFC 9112 2.2: a client may send one after a body)."""
    while buffer.startswith(b"\r\n"):
        del buffer[:2]


def parse_head(raw: bytes) -> RequestHead:
    """The head in `raw` (which ends with its empty line), or the reason it is malformed."""
    lines = raw[: -len(HEAD_END)].split(b"\r\n")
    for line in lines:
        if b"\r" in line or b"\n" in line:
            raise InvalidInput("a bare CR or LF in the request head")
    method, target, version = _request_line(lines[0])
    fields: list[tuple[str, str]] = []
    for line in lines[1:]:
        if len(fields) >= MAX_FIELDS:
            raise HeaderFieldsTooLarge(f"more than {MAX_FIELDS} header fields")
        fields.append(_field_line(line))
    path, query = _split_target(method, target)
    head = RequestHead(method, target, path, query, version, tuple(fields))
    hosts = head.values("host")
    if version >= (1, 1) and len(hosts) != 1:
        raise InvalidInput(f"an HTTP/1.1 request has exactly one Host field, not {len(hosts)}")
    return head


def _request_line(line: bytes) -> tuple[str, str, tuple[int, int]]:
    parts = line.split(b" ")
    if len(parts) != 3 or not _TOKEN.fullmatch(parts[0]) or not _TARGET.fullmatch(parts[1]):
        raise InvalidInput(f"malformed request line: {line[:200]!r}")
    version = _VERSION.fullmatch(parts[2])
    if version is None:
        raise InvalidInput(f"malformed HTTP version: {parts[2][:20]!r}")
    major, minor = int(version.group(1)), int(version.group(2))
    if (major, minor) not in ((1, 0), (1, 1)):
        raise InvalidInput(f"HTTP/{major}.{minor} is not served here: HTTP/1.1 or HTTP/1.0")
    return parts[0].decode("ascii"), parts[1].decode("ascii"), (major, minor)


def _field_line(line: bytes) -> tuple[str, str]:
    if line[:1] in (b" ", b"\t"):
        raise InvalidInput("obs-fold (a header line that starts with whitespace) is refused")
    name, colon, value = line.partition(b":")
    if not colon or not _TOKEN.fullmatch(name):
        raise InvalidInput(f"malformed header field: {line[:100]!r}")
    value = value.strip(b" \t")
    if not _FIELD_VALUE.fullmatch(value):
        raise InvalidInput(f"a control character in header field {name.decode('ascii')}")
    return name.decode("ascii"), value.decode("latin-1")


def _split_target(method: str, target: str) -> tuple[str, str]:
    if target == "*":
        if method != "OPTIONS":
            raise InvalidInput("the asterisk target is for OPTIONS only")
        return "*", ""
    if not target.startswith("/"):
        parts = urlsplit(target)
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            raise InvalidInput(f"malformed request target: {target[:200]!r}")
        return parts.path or "/", parts.query
    path, _, query = target.partition("?")
    return path, query


def body_framing(head: RequestHead) -> BodyFraming:
    """The body's framing, refusing every ambiguous combination (RFC 9112 6.1-6.3)."""
    codings = head.tokens("transfer-encoding")
    lengths = head.values("content-length")
    if head.values("transfer-encoding"):
        if lengths:
            raise InvalidInput("both Content-Length and Transfer-Encoding: refused (RFC 9112 6.3)")
        if head.version < (1, 1):
            raise InvalidInput("Transfer-Encoding in an HTTP/1.0 request")
        if not codings or codings[-1] != "chunked" or codings.count("chunked") > 1:
            raise InvalidInput("Transfer-Encoding whose final coding is not chunked, once")
        if codings != ["chunked"]:
            raise Unimplemented(f"transfer coding {', '.join(codings)}: only chunked is taken")
        return BodyFraming(None, True)
    if not lengths:
        return BodyFraming(None, False)
    members = {member.strip() for value in lengths for member in value.split(",")}
    if len(members) != 1:
        raise InvalidInput(f"different Content-Lengths: {', '.join(sorted(members))}")
    (length,) = members
    if not _DIGITS.fullmatch(length):
        raise InvalidInput(f"Content-Length {length[:40]!r} is not a number of bytes")
    return BodyFraming(int(length), False)


class ChunkedBody:
    """Decodes a chunked body as it arrives; counts it against the body limit as it streams."""

    def __init__(self, max_body_bytes: int, max_trailer_bytes: int) -> None:
        self._max_body = max_body_bytes
        self._max_trailer = max_trailer_bytes
        self._pending = bytearray()
        self._parts: list[bytes] = []
        self._size = 0
        self._remaining = 0  # data bytes of the current chunk still to come
        self._state = "size"  # size | data | data-end | trailer | done
        self._trailer_bytes = 0

    @property
    def done(self) -> bool:
        return self._state == "done"

    def body(self) -> bytes:
        return b"".join(self._parts)

    def feed(self, data: bytes) -> bytes:
        """Take `data`; returns what follows the body once it is complete (else b"")."""
        self._pending += data
        while self._state != "done":
            if not self._step():
                return b""
        rest = bytes(self._pending)
        self._pending.clear()
        return rest

    def _step(self) -> bool:
        """One state transition; False when more bytes are needed."""
        if self._state == "data":
            if not self._pending:
                return False
            taken = bytes(self._pending[: self._remaining])
            del self._pending[: len(taken)]
            self._parts.append(taken)
            self._remaining -= len(taken)
            if self._remaining == 0:
                self._state = "data-end"
            return True
        line = self._line()
        if line is None:
            return False
        if self._state == "size":
            self._size_line(line)
        elif self._state == "data-end":
            if line:
                raise InvalidInput("chunk data is not followed by CRLF")
            self._state = "size"
        else:
            self._trailer_line(line)
        return True

    def _line(self) -> bytes | None:
        end = self._pending.find(b"\r\n")
        limit = _MAX_SIZE_LINE if self._state != "trailer" else self._max_trailer
        if end < 0:
            if b"\n" in self._pending or b"\r" in self._pending[:-1]:
                raise InvalidInput("a bare CR or LF in the chunked framing")
            if len(self._pending) > limit:
                raise InvalidInput("a chunk size line (or trailer) is too long")
            return None
        line = bytes(self._pending[:end])
        del self._pending[: end + 2]
        if b"\r" in line or b"\n" in line:
            raise InvalidInput("a bare CR or LF in the chunked framing")
        return line

    def _size_line(self, line: bytes) -> None:
        size = _HEX.match(line)
        if size is None or not _CHUNK_EXT.fullmatch(line[size.end() :]):
            raise InvalidInput(f"malformed chunk size line: {line[:60]!r}")
        length = int(size.group(0), 16)
        if length == 0:
            self._state = "trailer"
            return
        self._size += length
        if self._size > self._max_body:
            raise PayloadTooLarge(f"chunked request body is over {self._max_body} bytes")
        self._remaining = length
        self._state = "data"

    def _trailer_line(self, line: bytes) -> None:
        if not line:
            self._state = "done"
            return
        self._trailer_bytes += len(line) + 2
        if self._trailer_bytes > self._max_trailer:
            raise HeaderFieldsTooLarge(f"trailer fields are over {self._max_trailer} bytes")
        _field_line(line)  # validated, then dropped: no trailer is used
