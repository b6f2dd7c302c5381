"""Every REST face of the components we ship, each on a real `seldon-core-microservice`
started as `up` and the image start it (our entrypoint), for the door's suites.

The wrapper is the reliability suite's TfServingModel (8 threads, LIMIT_BYTES). The router
keeps Seldon's default of one request thread, so a slow client that held a thread would block
it outright. The combiner has short header and body deadlines, for the tests that wait them out.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.conftest import LIMIT_BYTES
from tests.servers import Microservice, start_microservice
from tests.stacks import REST_DOOR_STANDS

#: The combiner's deadlines (SELDON_TFSERVING_REST_HEADER_TIMEOUT_S / ..._BODY_TIMEOUT_S).
SHORT_DEADLINE_S = 3.0
SELDON_MESSAGE = {"data": {"ndarray": [[1.0]]}}
_BODY_LIMIT = [{"name": "max_message_bytes", "type": "INT", "value": str(LIMIT_BYTES)}]


@dataclass(frozen=True)
class Face:
    """One REST route of one component, with a request it answers 200."""

    component: str
    path: str
    good_body: Any

    @property
    def tf(self) -> bool:
        return self.path.startswith("/v1/")

    @property
    def name(self) -> str:
        return f"{self.component}{self.path}"


FACES = [
    Face("wrapper", "/api/v1.0/predictions", SELDON_MESSAGE),
    Face("wrapper", "/v1/models/half_plus_two:predict", {"instances": [1.0]}),
    Face("router", "/route", SELDON_MESSAGE),
    Face("router", "/v1/models/half_plus_two:route", {"instances": [1.0]}),
    Face(
        "combiner",
        "/aggregate",
        {"seldonMessages": [SELDON_MESSAGE, {"data": {"ndarray": [[3.0]]}}]},
    ),
    Face(
        "combiner",
        "/v1/models/half_plus_two:aggregate",
        [{"predictions": [1.0]}, {"predictions": [3.0]}],
    ),
]


@pytest.fixture(scope="session")
def router(log_dir: Path) -> Iterator[Microservice]:
    service = start_microservice(log_dir, "seldon_tfserving.ABTestRouter", "ROUTER", _BODY_LIMIT)
    yield service
    service.server.stop()


@pytest.fixture(scope="session")
def combiner(log_dir: Path) -> Iterator[Microservice]:
    deadline = str(SHORT_DEADLINE_S)
    service = start_microservice(
        log_dir,
        "seldon_tfserving.MeanCombiner",
        "COMBINER",
        _BODY_LIMIT,
        # a stack without our door refuses deadlines it cannot keep (its tests need the door)
        env={
            "SELDON_TFSERVING_REST_HEADER_TIMEOUT_S": deadline,
            "SELDON_TFSERVING_REST_BODY_TIMEOUT_S": deadline,
        }
        if REST_DOOR_STANDS
        else {},
    )
    yield service
    service.server.stop()


@pytest.fixture(params=FACES, ids=[face.name for face in FACES])
def face(request: pytest.FixtureRequest) -> tuple[Face, Microservice]:
    """Each face in turn, with the running component that serves it."""
    chosen: Face = request.param
    service: Microservice = request.getfixturevalue(chosen.component)
    return chosen, service
