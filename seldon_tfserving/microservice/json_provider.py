"""Seldon's Flask app parses request bodies with `codec.fast_json`: py-spy put 75% of a REST
component's handler time in Flask's `json.loads` of a 3 MB body, before our class saw it."""

from __future__ import annotations

from typing import Any

from flask.json.provider import DefaultJSONProvider

from seldon_tfserving.codec import fast_json


class FastJsonProvider(DefaultJSONProvider):
    """Flask's default JSON (dumps unchanged), with request bodies parsed by `fast_json`."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        if kwargs:  # options only the standard library understands
            return super().loads(s, **kwargs)
        return fast_json.loads(s)
