"""TensorFlow Serving behind Seldon Core.

`seldon-core-microservice seldon_tfserving.TfServingModel` (or a router or combiner class)
imports this package; classes load lazily, so that a router never imports TensorFlow.
"""

from __future__ import annotations

import importlib
from typing import Any

from seldon_tfserving.classes import SELDON_CLASSES

#: Class name -> the module defining it, from the one list of our classes.
_EXPORTS: dict[str, str] = {
    seldon_class.name: seldon_class.module for seldon_class in SELDON_CLASSES
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'seldon_tfserving' has no attribute {name!r}")
