"""TensorFlow's generated protos without TensorFlow's Python runtime, for processes that only
carry tensors (our wrapper, routers and combiners).

tensorflow_serving.apis' messages import `tensorflow.core.framework.*_pb2`, and importing any
submodule of `tensorflow` first runs `tensorflow/__init__.py`: the whole runtime, most of a
wrapper's memory and seconds of its start-up. Registered before anything imports it,
`tensorflow` becomes a bare package over the installed directory: its generated `_pb2`
modules load as they are, its `__init__` never runs. seldon-core's `tftensor` path asks the
package for `make_ndarray` and `make_tensor_proto`; the bare package answers with our codec's.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    from tensorflow.core.framework.tensor_pb2 import TensorProto

TENSORFLOW = "tensorflow"
#: Set on the bare package, so that a second call (or a test) can tell it from the real one.
PROTOS_ONLY_MARK = "__seldon_tfserving_protos_only__"


def make_ndarray(tensor: TensorProto) -> np.ndarray[Any, Any]:
    """`tf.make_ndarray` for seldon-core's `tftensor` decoding, done by our codec."""
    from seldon_tfserving.codec.tensor_proto import tensor_proto_to_ndarray

    return tensor_proto_to_ndarray(tensor)


def make_tensor_proto(values: Any) -> TensorProto:
    """`tf.make_tensor_proto(array)` as seldon-core calls it (values only), by our codec."""
    import numpy as np

    from seldon_tfserving.codec.tensor_proto import ndarray_to_tensor_proto

    return ndarray_to_tensor_proto(np.asarray(values))


def is_protos_only(module: ModuleType) -> bool:
    return bool(getattr(module, PROTOS_ONLY_MARK, False))


def load_tensorflow_protos_only() -> bool:
    """Make `tensorflow` the bare package of its generated protos, unless it is imported
    already or not installed; returns whether `tensorflow` now is that bare package."""
    loaded = sys.modules.get(TENSORFLOW)
    if loaded is not None:
        return is_protos_only(loaded)
    installed = importlib.util.find_spec(TENSORFLOW)  # finds it without running its __init__
    if installed is None or not installed.submodule_search_locations:
        return False
    spec = importlib.machinery.ModuleSpec(TENSORFLOW, None, is_package=True)
    spec.submodule_search_locations = list(installed.submodule_search_locations)
    package = importlib.util.module_from_spec(spec)
    package.__dict__.update(
        {
            PROTOS_ONLY_MARK: True,
            "make_ndarray": make_ndarray,
            "make_tensor_proto": make_tensor_proto,
        }
    )
    sys.modules[TENSORFLOW] = package
    return True
