"""What closed-loop clients see around a SIGTERM, for the graceful-stop specifications of the
gateway and of a component: each request's answer checked against its own input, a request
in flight at the signal told apart, a client refused at connect counted once."""

from __future__ import annotations

import http.client
import json
import threading
import time
from dataclasses import dataclass, field

from tests.reliability.load import distinct_input, is_half_plus_two_of

#: inputs per client: far more requests than one client sends in a test
_INPUTS_PER_CLIENT = 100_000


@dataclass
class StopOutcome:
    """The clients' tally: answers, wrong answers, requests lost, clients refused."""

    answered: int = 0
    #: requests sent before the signal and answered after it
    in_flight_answered: int = 0
    #: clients whose next connection was refused (the server gone: nothing sent)
    refused: int = 0
    wrong: list[tuple[float, object]] = field(default_factory=list)
    #: answers other than 200, "STATUS body"
    other_statuses: list[str] = field(default_factory=list)
    #: requests sent that got no answer, each with its error and when it was sent
    lost: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, x: float, y: object, sent_at: float, signalled: list[float]) -> None:
        with self.lock:
            self.answered += 1
            if not is_half_plus_two_of(y, x):
                self.wrong.append((x, y))
            if signalled and sent_at < signalled[0]:
                self.in_flight_answered += 1


def rest_client(
    port: int,
    path: str,
    thread: int,
    outcome: StopOutcome,
    signalled: list[float],
    done: threading.Event,
) -> None:
    """One keep-alive client posting Seldon ndarray predictions until `done`, its connection
    refused, or a request lost."""
    connection: http.client.HTTPConnection | None = None
    for index in range(_INPUTS_PER_CLIENT):
        if done.is_set():
            return
        if connection is None:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                connection.connect()
            except ConnectionRefusedError:
                with outcome.lock:
                    outcome.refused += 1
                return
        x = distinct_input(thread, index, _INPUTS_PER_CLIENT)
        sent_at = time.monotonic()
        try:
            connection.request(
                "POST",
                path,
                body=json.dumps({"data": {"ndarray": [[x]]}}),
                headers={"Content-Type": "application/json"},
            )
            reply = connection.getresponse()
            data = reply.read()
        except (OSError, http.client.HTTPException) as error:
            began = sent_at - signalled[0] if signalled else None
            with outcome.lock:
                outcome.lost.append(f"REST {type(error).__name__} (sent {began}): {error}")
            return
        if reply.status != 200:
            with outcome.lock:
                outcome.other_statuses.append(f"{reply.status} {data[:200]!r}")
        else:
            outcome.answer(x, json.loads(data)["data"]["ndarray"][0][0], sent_at, signalled)
        if reply.will_close:
            connection.close()
            connection = None
