"""Which web pages may call the gateway: CORS off unless origins are named.

A browser asks first (a preflight) before sending JSON from another origin, and that answer
names no origin unless it is allowed. But a page may send `text/plain`, form or multipart
bodies without asking (a CORS "simple request"): the browser only hides the answer, the graph
has run and a router has learnt from `/feedback`. So a state-changing request that carries
an `Origin` the policy does not allow must be JSON, which no page can send unasked.
Clients that are not browsers send no `Origin` and are not concerned.
"""

from __future__ import annotations

from collections.abc import Iterable

from seldon_tfserving.gateway.refusals import UnsupportedMediaType

#: Content types a page may send without a preflight (Fetch's CORS-safelisted ones).
SIMPLE_CONTENT_TYPES = frozenset(
    {"application/x-www-form-urlencoded", "multipart/form-data", "text/plain"}
)


def is_json(content_type: str | None) -> bool:
    """application/json or any `+json` type, parameters aside."""
    mimetype = (content_type or "").split(";", 1)[0].strip().lower()
    return mimetype == "application/json" or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    )


class CorsPolicy:
    """The allowed origins (`*` only when named) and the headers answered to them."""

    def __init__(self, origins: Iterable[str], allowed_headers: str) -> None:
        self._origins = frozenset(origins)
        self._any = "*" in self._origins
        self._allowed_headers = allowed_headers

    def allows(self, origin: str | None) -> bool:
        return origin is not None and (self._any or origin in self._origins)

    def headers(self, origin: str | None) -> dict[str, str]:
        """The CORS headers of an answer to a request from `origin` (none if not allowed)."""
        if not self.allows(origin):
            return {}
        assert origin is not None
        if self._any:
            return {
                "Access-Control-Allow-Origin": "*",
                "Access-Control-Allow-Headers": self._allowed_headers,
            }
        return {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Headers": self._allowed_headers,
            "Vary": "Origin",
        }

    def preflight_headers(self, origin: str | None, methods: Iterable[str]) -> dict[str, str]:
        """A preflight's answer: the methods of the route too, for an allowed origin."""
        headers = self.headers(origin)
        if headers:
            headers["Access-Control-Allow-Methods"] = ", ".join(sorted(methods))
        return headers

    def check_state_change(self, origin: str | None, content_type: str | None) -> None:
        """Refuse a body a web page of another origin could have sent without asking."""
        if origin is None or self.allows(origin):
            return
        if is_json(content_type):
            return
        mimetype = (content_type or "").split(";", 1)[0].strip().lower() or "no content type"
        raise UnsupportedMediaType(
            f"a request from origin {origin[:100]} must be application/json, not {mimetype}: "
            "CORS is not on for that origin (the gateway's --cors-origin names the origins "
            "whose pages may call it)"
        )
