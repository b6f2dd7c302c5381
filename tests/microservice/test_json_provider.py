"""Seldon's Flask app with our JSON provider reads request bodies as Flask's own would."""

from __future__ import annotations

import math
from typing import Any

from flask import Flask, request

from seldon_tfserving.microservice.json_provider import FastJsonProvider


def test_a_flask_app_with_the_provider_reads_bodies_as_before() -> None:
    app = Flask(__name__)
    app.json = FastJsonProvider(app)

    @app.post("/echo")
    def echo() -> Any:
        parsed = request.get_json(force=True)
        return {"nan": isinstance(parsed, float) and math.isnan(parsed), "value": repr(parsed)}

    client = app.test_client()
    assert client.post("/echo", data='{"x": [1, 2.5]}').json == {
        "nan": False,
        "value": "{'x': [1, 2.5]}",
    }
    assert client.post("/echo", data="NaN").json["nan"] is True
    assert client.post("/echo", data="{not json").status_code == 400
