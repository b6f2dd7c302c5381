"""Our binary-mode reader against a real writer: events the CNCF SDK writes read back as the SDK
meant them, and every rule of CloudEvents 1.0 and its HTTP binding the SDK's validation held
(and those of the spec it skipped) refused with the rule named."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from cloudevents.core.bindings.http import HTTPMessage, from_binary, to_binary
from cloudevents.core.exceptions import BaseCloudEventException
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from seldon_tfserving.logs.cloudevent_http import (
    InvalidCloudEvent,
    NoCloudEventHeaders,
    read_binary_event,
)
from seldon_tfserving.logs.events import read_event
from tests.logs.events import executor_headers


def sdk_message(**attributes: Any) -> tuple[dict[str, str], bytes]:
    """The headers and body the SDK writes for an event with `attributes` (and a JSON body)."""
    event = CloudEvent(
        {"type": "io.seldon.serving.inference.request", "source": "http://:8000/", **attributes},
        {"data": {"ndarray": [[1.0, 2.0]]}},
    )
    message = to_binary(event, JSONFormat())
    return dict(message.headers), message.body


@pytest.mark.parametrize(
    "attributes",
    [
        {},
        {"datacontenttype": "application/json; charset=utf-8", "subject": "dense4"},
        {"time": datetime(2026, 12, 1, 10, 30, 5, 123456, tzinfo=UTC)},
        {"time": datetime(2026, 12, 1, 10, 30, tzinfo=timezone(timedelta(hours=-5)))},
        {"requestid": 'r 1 "é" 100%', "modelid": "model-€", "dataschema": "https://x/y"},
    ],
)
def test_what_the_sdk_writes_reads_back_as_the_sdk_reads_it(attributes: dict[str, Any]) -> None:
    headers, body = sdk_message(**attributes)
    ours = read_binary_event(headers, body)
    theirs = sdk_reads(headers, body)
    assert ours.time == theirs.pop("time")
    assert ours.attributes == {name: str(value) for name, value in theirs.items()}
    assert ours.data == body


class _RawBody(JSONFormat):
    """The SDK's binary mode with the body left as sent, as the sink keeps it."""

    def read_data(self, body: bytes, datacontenttype: str | None) -> bytes:
        return body


def sdk_reads(headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """The attributes the SDK's own binary-mode reader (with its validation) finds."""
    return dict(from_binary(HTTPMessage(dict(headers), body), _RawBody()).get_attributes())


def test_a_quoted_header_value_is_unquoted_before_percent_decoding() -> None:
    headers = {**executor_headers("request", "r1"), "Ce-Modelid": '"a \\"b\\"%20c"'}
    assert read_binary_event(headers, b"{}").attributes["modelid"] == 'a "b" c'


def test_times_of_rfc_3339_in_the_forms_senders_write() -> None:
    expected = datetime(2026, 12, 1, 10, 0, 0, 123456, tzinfo=UTC)
    for text in (
        "2026-12-01T10:00:00.123456Z",  # our gateway (isoformat, Z)
        "2026-12-01T10:00:00.123456789Z",  # Go's RFC3339Nano: nanoseconds
        "2026-12-01t11:00:00.123456+01:00",
        "2026-12-01 10:00:00.123456z",
    ):
        headers = {**executor_headers("request", "r1"), "Ce-Time": text}
        assert read_binary_event(headers, b"{}").time == expected, text


def without(headers: dict[str, str], name: str) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() != name.lower()}


_SDK_HEADERS, _SDK_BODY = sdk_message(subject="s")
REFUSED: list[tuple[str, dict[str, str], str]] = [
    *[
        (f"no {name}", without(_SDK_HEADERS, f"ce-{name}"), f"'{name}' is missing or empty")
        for name in ("specversion", "id", "source", "type")
    ],
    *[
        (f"empty {name}", {**without(_SDK_HEADERS, f"ce-{name}"), f"ce-{name}": ""}, name)
        for name in ("specversion", "id", "source", "type", "subject")
    ],
    ("specversion 0.3", {**_SDK_HEADERS, "ce-specversion": "0.3"}, "not '1.0'"),
    ("specversion 2.0", {**_SDK_HEADERS, "ce-specversion": "2.0"}, "not '1.0'"),
    ("time in words", {**_SDK_HEADERS, "ce-time": "yesterday"}, "RFC 3339"),
    ("a date, no time", {**_SDK_HEADERS, "ce-time": "2026-12-01"}, "RFC 3339"),
    ("no offset", {**_SDK_HEADERS, "ce-time": "2026-12-01T10:00:00"}, "RFC 3339"),
    ("month 13", {**_SDK_HEADERS, "ce-time": "2026-13-01T10:00:00Z"}, "not a valid"),
    ("empty time", {**_SDK_HEADERS, "ce-time": ""}, "RFC 3339"),
    ("empty Content-Type", {**_SDK_HEADERS, "content-type": ""}, "Content-Type"),
    ("Ce-Datacontenttype", {**_SDK_HEADERS, "ce-datacontenttype": "a/b"}, "Ce-Datacontenttype"),
    ("a dash in a name", {**_SDK_HEADERS, "Ce-Request-Id": "r1"}, "Ce-Request-Id"),
    ("a bare Ce- header", {**_SDK_HEADERS, "Ce-": "x"}, "'Ce-'"),
    ("the reserved data", {**_SDK_HEADERS, "ce-data": "x"}, "reserved"),
    ("an overlong UTF-8", {**_SDK_HEADERS, "ce-subject": "%C0%A0"}, "not UTF-8"),
    ("id twice", {**_SDK_HEADERS, "Ce-Id": "other"}, "more than once"),
]


@pytest.mark.parametrize(
    ("headers", "reason"), [(h, r) for _, h, r in REFUSED], ids=[i for i, _, _ in REFUSED]
)
def test_a_broken_rule_is_refused_and_named(headers: dict[str, str], reason: str) -> None:
    with pytest.raises(InvalidCloudEvent) as refused:
        read_binary_event(headers, _SDK_BODY)
    assert reason in str(refused.value)


#: the refusals the SDK's own validation makes too (the rest are rules of the spec it skips)
SDK_REFUSES = ("empty", "specversion 2", "time", "a date", "no offset")


@pytest.mark.parametrize("headers", [h for i, h, _ in REFUSED if i.startswith(SDK_REFUSES)])
def test_what_the_sdk_refused_is_refused_by_both(headers: dict[str, str]) -> None:
    with pytest.raises((BaseCloudEventException, ValueError)):
        sdk_reads(headers, _SDK_BODY)
    with pytest.raises(InvalidCloudEvent):
        read_binary_event(headers, _SDK_BODY)


def test_no_ce_header_is_no_binary_mode_event() -> None:
    with pytest.raises(NoCloudEventHeaders):
        read_binary_event({"Content-Type": "application/json"}, b"{}")


def test_the_executors_event_becomes_seldons_fields() -> None:
    headers = executor_headers("response", "r9", node="m", deployment="d", predictor="p")
    event = read_event({**headers, "Ce-Time": "2026-12-01T11:00:00+01:00"}, b'{"data": {}}')
    assert (event.kind, event.request_id, event.node) == ("response", "r9", "m")
    assert (event.deployment, event.predictor, event.namespace) == ("d", "p", "seldon")
    assert (event.protocol, event.content_type) == ("seldon", "application/json")
    assert event.time == datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    assert event.event_id == headers["Ce-Id"] and event.body == b'{"data": {}}'
