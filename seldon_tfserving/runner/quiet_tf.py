"""Import TensorFlow without its start-up chatter (CPU features, no CUDA) on the user's console.

TensorFlow reads TF_CPP_MIN_LOG_LEVEL once, at its first log line, during import: so the level
is raised only around the import and put back, and child processes keep their warnings and
errors in their own logs.
"""

from __future__ import annotations

import os

_LEVEL = "TF_CPP_MIN_LOG_LEVEL"


def import_tensorflow_quietly() -> None:
    """Import TensorFlow in this process with C++ logging off, unless the user chose a level."""
    if _LEVEL in os.environ:
        import tensorflow  # noqa: F401

        return
    os.environ[_LEVEL] = "3"
    try:
        import tensorflow  # noqa: F401
    finally:
        del os.environ[_LEVEL]
