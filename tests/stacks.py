"""Which of the two stacks this venv is, for the tests whose promise differs between them.

On the Apache-2.0 stack (seldon-core 1.17.1, gunicorn 20.1) our REST door cannot stand in
front of a component: the body limit moves into the app (`wsgi_body_limit.py`) and keeps its
413, but gunicorn 20.1 keeps the connection open after it, has no header or body deadlines
and no linger on stop. Those costs are the README's "Two images" table.
"""

from __future__ import annotations

from seldon_tfserving.microservice.seldon_version import bounded_rest_port_missing

#: our door (deadlines, connection cap, close after a refusal, linger on stop) serves REST
REST_DOOR_STANDS = bounded_rest_port_missing() is None
