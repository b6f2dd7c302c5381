"""The predictions lane answers exactly as Seldon's Flask app would, or leaves it to Flask.

Seldon's real app (`wrapper.get_rest_microservice`, as our hooks build it) hosts a scripted
class; every request is answered twice, once through the app (the lane in front) and once by
Flask's own `wsgi_app` behind it, and the two answers (status, headers, body), the calls the
class saw and the metrics Seldon recorded must be the same.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from seldon_core import wrapper
from seldon_core.flask_utils import SeldonMicroserviceException
from werkzeug.test import EnvironBuilder, run_wsgi_app
from werkzeug.wrappers import Request

from seldon_tfserving.errors import InvalidInput
from seldon_tfserving.microservice.component import SeldonComponent
from seldon_tfserving.microservice.metrics_buffer import buffered
from seldon_tfserving.microservice.seldon_predict_lane import (
    PREDICT_PATHS,
    SeldonPredictLane,
    predict_lane_of,
)

Environ = dict[str, Any]
#: status line, headers, body
Answer = tuple[str, list[tuple[str, str]], bytes]

COUNTER = {"type": "COUNTER", "key": "scripted_calls", "value": 1}


class ScriptedModel(SeldonComponent):
    """Answers what the request's `do` asks for, and remembers every request it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[Any] = []

    def predict_raw(self, message: Any) -> Any:
        self.requests.append(message)
        do = message.get("do") if isinstance(message, dict) else "list"
        answers: dict[str, Any] = {
            "answer": {"data": {"ndarray": [[0.214199692, 1]]}, "meta": {"tags": {"é": "ü"}}},
            "metrics": {"data": {"ndarray": [1]}, "meta": {"metrics": [COUNTER]}},
            "list": [1, "two", None],
            "status": {"status": {"code": 418, "info": "a teapot"}},
            "status text": {"status": {"code": "abc"}},
            "status not a dict": {"status": 5},
            "not JSON": {"data": {"ndarray": [[1]]}, "meta": {"tags": {"t": object()}}},
        }
        if do in answers:
            return answers[do]
        raising: dict[str, Exception] = {
            "serving error": InvalidInput("the input is wrong"),
            "value error": ValueError("a user class's word"),
            "runtime error": RuntimeError("a bug"),
            "seldon error": SeldonMicroserviceException("Seldon's own", status_code=422),
            "key error": KeyError("gone"),
        }
        raise raising[str(do)]


class Recorder:
    """Seldon's metrics object, as far as the buffering front uses it."""

    def __init__(self) -> None:
        self.updates: list[tuple[list[dict[str, Any]], str]] = []

    def update(self, custom_metrics: list[dict[str, Any]], method: str) -> None:
        self.updates.append((custom_metrics, method))


class Hosted:
    """Seldon's app hosting one scripted class, with its lane."""

    def __init__(self) -> None:
        self.model = ScriptedModel()
        self.recorder = Recorder()
        self.app = wrapper.get_rest_microservice(self.model, self.recorder)
        self.lane = lane_of(self.app)

    def by_lane(self, environ: Environ) -> Answer:
        assert self.lane.takes(environ)
        return answer_of(self.app, environ)

    def by_flask(self, environ: Environ) -> Answer:
        return answer_of(self.lane.flask, environ)

    def recorded(self) -> list[tuple[list[dict[str, Any]], str]]:
        buffered(self.recorder).flush()
        updates = list(self.recorder.updates)
        self.recorder.updates.clear()
        return updates


def lane_of(app: Any) -> SeldonPredictLane:
    lane = predict_lane_of(app)
    assert lane is not None
    return lane


def answer_of(app: Any, environ: Environ) -> Answer:
    app_iter, status, headers = run_wsgi_app(app, environ)
    return status, headers.to_wsgi_list(), b"".join(app_iter)


def environ_of(
    body: bytes = b"{}",
    path: str = "/api/v1.0/predictions",
    *,
    method: str = "POST",
    content_type: str | None = "application/json",
    headers: list[tuple[str, str]] | None = None,
    query: str = "",
) -> Environ:
    """A fresh WSGI environ (its body stream is read once) as the door hands the app one."""
    builder = EnvironBuilder(
        path=path,
        method=method,
        data=body,
        content_type=content_type,
        headers=headers,
        query_string=query,
    )
    environ = builder.get_environ()
    environ["CONTENT_LENGTH"] = str(len(body))  # the door gives every body its length
    return environ


@pytest.fixture
def hosted() -> Hosted:
    return Hosted()


@pytest.fixture
def debug_logging_off() -> Iterator[None]:
    level = wrapper.logger.level
    wrapper.logger.setLevel(logging.INFO)
    yield
    wrapper.logger.setLevel(level)


BODIES = {
    "an answer": b'{"do": "answer", "data": {"ndarray": [[1.5]]}}',
    "an answer with metrics": b'{"do": "metrics"}',
    "a list answer": b"[1, 2]",
    "a status in the answer": b'{"do": "status"}',
    "a status werkzeug refuses": b'{"do": "status text"}',
    "a status that is not an object": b'{"do": "status not a dict"}',
    "an answer JSON cannot hold": b'{"do": "not JSON"}',
    "our error": b'{"do": "serving error"}',
    "a ValueError": b'{"do": "value error"}',
    "a bug": b'{"do": "runtime error"}',
    "Seldon's exception": b'{"do": "seldon error"}',
    "a KeyError": b'{"do": "key error"}',
    "a body that is not JSON": b"{not json",
    "an empty body": b"",
    "null": b"null",
    "a number": b"7",
    "an integer past 64 bits": b'{"do": "answer", "n": 123456789012345678901234567890}',
    "NaN": b'{"do": "answer", "x": NaN}',
    "JSON nested past the recursion limit": b"[" * 100_000 + b"]" * 100_000,
    "not UTF-8": b'{"do": "answer", "s": "\xff"}',
}


@pytest.mark.parametrize("path", sorted(PREDICT_PATHS))
@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
@pytest.mark.usefixtures("debug_logging_off")
def test_the_lane_answers_as_seldons_app_does(hosted: Hosted, path: str, body: bytes) -> None:
    by_flask = hosted.by_flask(environ_of(body, path))
    flask_saw, flask_recorded = list(hosted.model.requests), hosted.recorded()
    hosted.model.requests.clear()

    assert hosted.by_lane(environ_of(body, path)) == by_flask
    assert hosted.model.requests == flask_saw  # the class called once, with the same message
    assert hosted.recorded() == flask_recorded


@pytest.mark.usefixtures("debug_logging_off")
def test_the_lane_keeps_seldons_status_rule_and_cors_header(hosted: Hosted) -> None:
    status, headers, body = hosted.by_lane(environ_of(BODIES["a status in the answer"]))
    assert status == "418 I'M A TEAPOT"
    assert dict(headers)["Access-Control-Allow-Origin"] == "*"
    assert json.loads(body) == {"status": {"code": 418, "info": "a teapot"}}


SAME_IN_THE_LANE = {
    "a charset": "application/json; charset=utf-8",
    "capitals": "Application/JSON",
}


@pytest.mark.parametrize("content_type", SAME_IN_THE_LANE.values(), ids=SAME_IN_THE_LANE.keys())
@pytest.mark.usefixtures("debug_logging_off")
def test_json_content_types_flask_takes_stay_in_the_lane(hosted: Hosted, content_type: str) -> None:
    body = BODIES["an answer"]
    by_flask = hosted.by_flask(environ_of(body, content_type=content_type))
    assert hosted.by_lane(environ_of(body, content_type=content_type)) == by_flask


def chunked() -> Environ:
    environ = environ_of(b'{"do": "answer"}', headers=[("Transfer-Encoding", "chunked")])
    del environ["CONTENT_LENGTH"]
    return environ


LEFT_TO_FLASK: dict[str, Callable[[], Environ]] = {
    "a GET": lambda: environ_of(path="/predict", method="GET"),
    "a query": lambda: environ_of(query="json=%7B%7D"),
    "a form": lambda: environ_of(content_type="application/x-www-form-urlencoded"),
    "multipart": lambda: environ_of(content_type="multipart/form-data; boundary=x"),
    "no content type": lambda: environ_of(content_type=None),
    "a +json type": lambda: environ_of(content_type="application/vnd.seldon+json"),
    "an Origin (CORS answers it by name)": lambda: environ_of(
        headers=[("Origin", "https://example.com")]
    ),
    "a chunked body": chunked,
    "feedback": lambda: environ_of(path="/api/v1.0/feedback"),
    "a TF face": lambda: environ_of(path="/v1/models/m:predict"),
}


@pytest.mark.parametrize("make", LEFT_TO_FLASK.values(), ids=LEFT_TO_FLASK.keys())
@pytest.mark.usefixtures("debug_logging_off")
def test_requests_the_lane_leaves_to_flask(hosted: Hosted, make: Callable[[], Environ]) -> None:
    assert not hosted.lane.takes(make())
    assert answer_of(hosted.app, make()) == hosted.by_flask(make())


@pytest.mark.usefixtures("debug_logging_off")
def test_a_content_type_is_read_as_werkzeug_reads_it_for_flask(hosted: Hosted) -> None:
    def make() -> Environ:  # werkzeug 3 reads no JSON here, werkzeug 2.2 the first type
        return environ_of(BODIES["an answer"], content_type="application/json,text/plain")

    assert hosted.lane.takes(make()) == Request(make()).is_json
    assert answer_of(hosted.app, make()) == hosted.by_flask(make())


def test_at_seldons_debug_logging_flask_answers(hosted: Hosted) -> None:
    level = wrapper.logger.level
    wrapper.logger.setLevel(logging.DEBUG)
    try:
        assert not hosted.lane.takes(environ_of())  # Seldon's view logs each request then
    finally:
        wrapper.logger.setLevel(level)


@pytest.mark.usefixtures("debug_logging_off")
def test_a_request_hook_the_lane_does_not_reproduce_closes_it(
    hosted: Hosted, caplog: pytest.LogCaptureFixture
) -> None:
    def tracing() -> None:  # as Seldon's tracing or an exporter would add
        pass

    hosted.app.before_request(tracing)
    with caplog.at_level(logging.INFO):
        assert not hosted.lane.takes(environ_of())
    assert "answered by Flask: before-request hooks" in caplog.text
    assert "tracing" in caplog.text


@pytest.mark.usefixtures("debug_logging_off")
def test_a_replaced_predict_view_closes_the_lane(hosted: Hosted) -> None:
    hosted.app.view_functions["Predict"] = lambda: {"replaced": True}
    assert not hosted.lane.takes(environ_of())


@pytest.mark.usefixtures("debug_logging_off")
def test_payload_passthrough_closes_the_lane(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wrapper, "PAYLOAD_PASSTHROUGH", True)
    assert not Hosted().lane.takes(environ_of())


class NotOurs:
    """A user class of someone else's, which may read Flask's request in its predict."""

    def predict_raw(self, message: Any) -> Any:
        return message


@pytest.mark.usefixtures("debug_logging_off")
def test_a_class_that_is_not_ours_is_answered_by_flask(
    hosted: Hosted, caplog: pytest.LogCaptureFixture
) -> None:
    lane = lane_of(wrapper.get_rest_microservice(NotOurs(), Recorder()))
    with caplog.at_level(logging.INFO):
        assert not lane.takes(environ_of())
    assert "does not declare reads_flask_request = False" in caplog.text


@pytest.mark.usefixtures("debug_logging_off")
def test_the_open_lane_says_so_once(hosted: Hosted, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        assert hosted.lane.takes(environ_of())
        assert hosted.lane.takes(environ_of(path="/predict"))
    assert caplog.text.count("answered past Flask") == 1
