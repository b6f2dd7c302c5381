"""`python -m seldon_tfserving.microservice CLASS ...`: the one entrypoint of every component
(the image's CMD, `up`, the bench): seldon-core-microservice's command line, served by
`serve.py` (the bounded REST port, the SIGTERM stop, `--host`).

A class of ours only carries tensors, so before seldon-core imports anything `tensorflow` is
made the bare package of its protos (`tensorflow_protos_only`): about 550 MB and most of the
start-up saved per process. Any other class (a user's, allowed by `up --allow-class`) may use
TensorFlow itself and gets the whole runtime.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

#: The package whose classes run without TensorFlow's runtime.
OUR_PACKAGE = "seldon_tfserving."


def serves_our_class(arguments: Sequence[str]) -> bool:
    """Whether seldon-core-microservice's ARGS name one of our classes first (the interface
    name, where the image, `up` and the bench put it; otherwise: the whole runtime)."""
    return bool(arguments) and arguments[0].startswith(OUR_PACKAGE)


def main() -> None:
    from seldon_tfserving.grpc_runtime import use_iomgr_io

    use_iomgr_io()  # before seldon-core imports grpc
    if serves_our_class(sys.argv[1:]):
        from seldon_tfserving.tensorflow_protos_only import load_tensorflow_protos_only

        load_tensorflow_protos_only()
    from seldon_tfserving.microservice.serve import main as serve

    serve()


if __name__ == "__main__":
    main()
