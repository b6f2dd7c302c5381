"""The demo's traffic: requests and feedback through SeldonClient, and a probe that keeps
requests flowing while a model config is applied, to show how the gateway answers meanwhile.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import requests

from seldon_tfserving.deploy.model import SeldonDeployment
from seldon_tfserving.runner.demo_models import Dataset
from seldon_tfserving.runner.demo_report import Answer, summarise
from seldon_tfserving.runner.errors import StartupError
from seldon_tfserving.runner.local import LocalRunner

logger = logging.getLogger(__name__)

#: The meta.tags key in which TfServingModel says which model version answered.
VERSION_TAG = "tfserving_version"


class Traffic:
    """Sends test rows through SeldonClient and knows which arm and version answered."""

    def __init__(
        self,
        runner: LocalRunner,
        deployment: SeldonDeployment,
        data: Dataset,
        offline: Mapping[int, np.ndarray[Any, Any]],
    ) -> None:
        from seldon_core.seldon_client import SeldonClient

        self.client = SeldonClient(
            deployment_name=deployment.name,
            namespace=deployment.namespace,
            gateway="istio",
            gateway_endpoint=f"{runner.host}:{runner.http_port}",
            transport="rest",
            client_return_type="proto",
        )
        self.router = deployment.predictors[0].graph
        self.data = data
        self.offline = offline

    def send(self, rows: Sequence[int], feedback: bool) -> dict[str, Any]:
        from seldon_core.utils import get_data_from_proto

        answers = []
        failures = 0
        for row in rows:
            x = self.data.test_x[row : row + 1]
            began = time.perf_counter()
            result = self.client.predict(data=x)
            latency = time.perf_counter() - began
            if not result.success:
                failures += 1
                logger.warning("prediction failed: %s", result.msg)
                continue
            probabilities = np.asarray(get_data_from_proto(result.response), dtype=np.float64)
            correct = bool(np.argmax(probabilities[0]) == self.data.test_y[row])
            routed = dict(result.response.meta.routing)
            branch = routed.get(self.router.name, -1)
            arm = (
                self.router.children[branch].name
                if 0 <= branch < len(self.router.children)
                else "?"
            )
            version = self.version_of(result.response.meta.tags, probabilities[0], row)
            answers.append(Answer(arm, version, correct, latency))
            if feedback:
                self.client.feedback(
                    prediction_request=result.request,
                    prediction_response=result.response,
                    reward=1.0 if correct else 0.0,
                )
        summary = summarise(answers)
        summary["failed"] = failures
        return summary

    def version_of(
        self, tags: Mapping[str, Any], probabilities: np.ndarray[Any, Any], row: int
    ) -> int | None:
        """The version TfServingModel names in its tags; else the one whose offline answer for
        this row matches the served one."""
        tagged = tags.get(VERSION_TAG)
        text = getattr(tagged, "string_value", tagged)
        if text and str(text).isdigit():
            return int(str(text))
        for version, expected in self.offline.items():
            if np.allclose(probabilities, expected[row], atol=1e-4):
                return version
        return None


class Probe:
    """Keeps requests flowing during the promotion to show how the gateway answers meanwhile."""

    def __init__(self, runner: LocalRunner, deployment: SeldonDeployment) -> None:
        self.url = (
            f"{runner.http_url}/seldon/{deployment.namespace}/{deployment.name}"
            "/api/v1.0/predictions"
        )
        self.statuses: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._began = time.monotonic()
        self._thread = threading.Thread(target=self._loop, name="promotion-probe", daemon=True)

    def start(self) -> None:
        self._began = time.monotonic()
        self._thread.start()

    def _loop(self) -> None:
        payload = {"data": {"ndarray": [[0.1, 0.2, 0.3, 0.4]]}}
        with requests.Session() as session:
            while not self._stop.is_set():
                try:
                    status = session.post(self.url, json=payload, timeout=10).status_code
                except requests.RequestException:
                    status = 0
                self.statuses.append((time.monotonic() - self._began, status))
                self._stop.wait(0.05)

    def wait_for_success(self, timeout_s: float) -> float:
        """Seconds from the start until the first 200 after the last failure."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            statuses = list(self.statuses)
            if statuses and statuses[-1][1] == 200 and any(s != 200 for _, s in statuses):
                return next(t for t, s in reversed(statuses) if s != 200)
            if statuses and all(s == 200 for _, s in statuses) and len(statuses) > 20:
                return 0.0
            time.sleep(0.1)
        raise StartupError(f"the graph did not answer within {timeout_s:.0f} s of the restart")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=15)

    def counts(self) -> dict[str, int]:
        result: dict[str, int] = {}
        for _, status in self.statuses:
            key = "connection_error" if status == 0 else f"http_{status}"
            result[key] = result.get(key, 0) + 1
        return result

    def describe(self) -> str:
        return ", ".join(f"{n} x {k}" for k, n in sorted(self.counts().items())) or "no requests"
