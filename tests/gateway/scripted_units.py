"""In-process twins of the test components (tests/gateway/components.py), answering each call
as `seldon-core-microservice` hosting the real class answers it.

What the microservice adds around a class is written out here once, from what the real one
does: the answer keeps the request's data kind with `t:<column>` names, and the request's
`meta.tags` and `meta.puid`; `meta.requestPath` gains the node's own image; a combiner merges
its children's tags and paths; a route comes back as `[[route]]` with the puid and the node's
own path only; feedback hands a router the route its node took. Each twin is held against
its real component in `test_scripted_units_answer_as_the_real_ones.py`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from seldon_tfserving.errors import InvalidInput
from seldon_tfserving.gateway.component_client import ComponentMethod

Document = dict[str, Any]


def _array_of(request: Document) -> tuple[str, np.ndarray[Any, Any]]:
    """The request's data as the microservice hands it to the class, and its data kind."""
    data = request.get("data") or {}
    if "tensor" in data:
        tensor = data["tensor"]
        return "tensor", np.asarray(tensor.get("values", []), dtype=np.float64).reshape(
            tensor.get("shape", [])
        )
    if "ndarray" in data:
        return "ndarray", np.asarray(data["ndarray"], dtype=np.float64)
    raise InvalidInput("the test components take tensor or ndarray data")


def _message(kind: str, array: np.ndarray[Any, Any], meta: Document) -> Document:
    names = [f"t:{column}" for column in range(array.shape[-1])] if array.ndim else []
    if kind == "tensor":
        data: Document = {
            "names": names,
            "tensor": {"shape": list(array.shape), "values": array.ravel().tolist()},
        }
    else:
        data = {"names": names, "ndarray": array.tolist()}
    return {"data": data, "meta": meta}


class ScriptedUnit:
    """One graph node's component in process: the answer to every call it implements."""

    def __init__(self, node: str, image: str) -> None:
        self.node = node
        self.image = image

    def answer(self, method: ComponentMethod, request: Any) -> Document:
        """The microservice's answer to `method` (a request document, or the children's
        answers for `aggregate`)."""
        if method == "route":
            kind, _ = _array_of(request)
            route = np.array([[self.route(request)]])
            return _message(kind, route, self._meta([request], carried=False))
        if method == "aggregate":
            arrays = [_array_of(child) for child in request]
            return _message(
                arrays[0][0], self.aggregate([a for _, a in arrays]), self._meta(request)
            )
        if method == "send-feedback":
            routing = ((request.get("response") or {}).get("meta") or {}).get("routing") or {}
            self.send_feedback(float(request.get("reward", 0.0)), routing.get(self.node))
            return {"data": {"ndarray": []}, "meta": {"requestPath": {self.node: self.image}}}
        steps = {
            "predict": self.predict,
            "transform-input": self.transform_input,
            "transform-output": self.transform_output,
        }
        kind, array = _array_of(request)
        return _message(
            kind, steps[method](array, request.get("meta") or {}), self._meta([request])
        )

    def metadata(self) -> Document:
        """The component's `/metadata`: the tests' classes name their ends after their node."""
        name, _, version = self.image.partition(":")
        return {
            "custom": {"node": self.node},
            "inputs": [{"messagetype": "ndarray", "schema": {"names": [f"{self.node}-in"]}}],
            "name": name,
            "outputs": [{"messagetype": "ndarray", "schema": {"names": [f"{self.node}-out"]}}],
            "platform": "tests",
            "versions": [version],
        }

    def _meta(self, requests: Sequence[Document], carried: bool = True) -> Document:
        """The answer's meta: the puid, and unless not `carried` (a route), the requests' tags
        and request path."""
        tags: Document = {}
        path: dict[str, str] = {}
        for request in requests if carried else ():
            meta = request.get("meta") or {}
            tags.update(meta.get("tags") or {})
            path.update(meta.get("requestPath") or {})
        answer: Document = {}
        if tags:
            answer["tags"] = tags
        puid = (requests[0].get("meta") or {}).get("puid") if requests else None
        if puid:
            answer["puid"] = puid
        answer["requestPath"] = {self.node: self.image, **path}
        return answer

    # -- what the hosted class implements (each twin overrides its own) ------------------------

    def predict(self, array: np.ndarray[Any, Any], meta: Document) -> np.ndarray[Any, Any]:
        raise AssertionError(f"{self.node} has no predict, yet the walk called it")

    def transform_input(self, array: np.ndarray[Any, Any], meta: Document) -> np.ndarray[Any, Any]:
        raise AssertionError(f"{self.node} has no transform_input, yet the walk called it")

    def transform_output(self, array: np.ndarray[Any, Any], meta: Document) -> np.ndarray[Any, Any]:
        raise AssertionError(f"{self.node} has no transform_output, yet the walk called it")

    def route(self, request: Document) -> int:
        raise AssertionError(f"{self.node} has no route, yet the walk called it")

    def aggregate(self, arrays: list[np.ndarray[Any, Any]]) -> np.ndarray[Any, Any]:
        raise AssertionError(f"{self.node} has no aggregate, yet the walk called it")

    def send_feedback(self, reward: float, routing: int | None) -> None:
        """A class without `send_feedback`: the microservice answers feedback all the same."""


class ScaleModel(ScriptedUnit):
    """Multiplies by `factor`; refuses negative input as the real one does (400)."""

    def __init__(self, node: str, image: str, factor: str = "1") -> None:
        super().__init__(node, image)
        self.factor = float(factor)

    def predict(self, array: np.ndarray[Any, Any], meta: Document) -> np.ndarray[Any, Any]:
        if (array < 0).any():
            raise InvalidInput("ScaleModel takes non-negative input only")
        return array * self.factor


class AddTransformer(ScriptedUnit):
    def __init__(self, node: str, image: str, offset: str = "0") -> None:
        super().__init__(node, image)
        self.offset = float(offset)

    def transform_input(self, array: np.ndarray[Any, Any], meta: Document) -> np.ndarray[Any, Any]:
        return array + self.offset


class NegateOutputTransformer(ScriptedUnit):
    def transform_output(self, array: np.ndarray[Any, Any], meta: Document) -> np.ndarray[Any, Any]:
        return -array


class MeanCombiner(ScriptedUnit):
    def aggregate(self, arrays: list[np.ndarray[Any, Any]]) -> np.ndarray[Any, Any]:
        return np.asarray(np.mean(arrays, axis=0))


class GreedyRouter(ScriptedUnit):
    """Routes to the branch with the highest total reward (ties: the lowest index)."""

    def __init__(self, node: str, image: str, n_branches: str = "2") -> None:
        super().__init__(node, image)
        self.totals = [0.0] * int(n_branches)

    def route(self, request: Document) -> int:
        return int(np.argmax(self.totals))

    def send_feedback(self, reward: float, routing: int | None) -> None:
        if routing is not None and 0 <= int(routing) < len(self.totals):
            self.totals[int(routing)] += reward


class TagRouter(ScriptedUnit):
    """Routes where `meta.tags.route` says (-1 all, -2 none, any index)."""

    def route(self, request: Document) -> int:
        return int(((request.get("meta") or {}).get("tags") or {}).get("route", 0))


TWINS: Mapping[str, type[ScriptedUnit]] = {
    twin.__name__: twin
    for twin in (
        ScaleModel,
        AddTransformer,
        NegateOutputTransformer,
        MeanCombiner,
        GreedyRouter,
        TagRouter,
    )
}
