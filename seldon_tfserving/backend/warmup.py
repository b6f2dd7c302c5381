"""Model warm-up as TF Serving does it: a version's sample requests replayed before it serves.

TensorFlow sets parts of a graph up lazily, on its first runs, so a fresh version's first
requests are slow. TF Serving replays the PredictionLog records a SavedModel carries in
`assets.extra/tf_serving_warmup_requests` (a TFRecord file) at load, before the version is
AVAILABLE; a record that fails fails the load, so a model that cannot answer its own samples is
never served. The records run through the same core as real requests, on this version alone
(their model_spec's name and version are not consulted, as in TF Serving).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

from google.protobuf.message import DecodeError
from tensorflow_serving.apis import prediction_log_pb2

from seldon_tfserving.backend import example_methods
from seldon_tfserving.backend.core import ModelRef, ServingCore
from seldon_tfserving.backend.loader import LoadedVersion, serving_error_from_tf
from seldon_tfserving.backend.repository import ModelRepository
from seldon_tfserving.codec.tensor_proto import tensor_proto_to_ndarray
from seldon_tfserving.errors import InternalError, InvalidInput, Unimplemented

LOG = logging.getLogger(__name__)

WARMUP_FILE = Path("assets.extra") / "tf_serving_warmup_requests"
#: TF Serving refuses a warm-up file with more records than this.
MAX_RECORDS = 1000


def warm_up(version: LoadedVersion) -> int:
    """Replay the version's warm-up records once each (TF Serving's default
    num_request_iterations); the number of records.

    Raises the first record's failure (a ServingError), as TF Serving fails the load with it.
    """
    path = version.export_dir / WARMUP_FILE
    if not path.is_file():
        return 0
    core = ServingCore(ModelRepository.serving_only(version))
    ref = ModelRef(version.name, version.version)
    count = 0
    for record in _records(path):
        log = prediction_log_pb2.PredictionLog()
        try:
            log.ParseFromString(record)
        except DecodeError as error:
            raise InvalidInput(f"Failed to parse warmup record from {path}") from error
        _replay(core, ref, log)
        count += 1
        if count > MAX_RECORDS:
            raise InvalidInput(
                f"Number of warmup records exceeds the maximum ({MAX_RECORDS}) at {path}"
            )
    LOG.info("model %s version %d warmed up with %d records", version.name, version.version, count)
    return count


def _replay(core: ServingCore, ref: ModelRef, log: prediction_log_pb2.PredictionLog) -> None:
    kind = log.WhichOneof("log_type")
    if kind == "predict_log":
        request = log.predict_log.request
        inputs = {name: tensor_proto_to_ndarray(t) for name, t in request.inputs.items()}
        core.predict(ref, request.model_spec.signature_name, inputs, list(request.output_filter))
    elif kind == "classify_log":
        request = log.classify_log.request
        example_methods.classify(core, ref, request.model_spec.signature_name, request.input, None)
    elif kind == "regress_log":
        request = log.regress_log.request
        example_methods.regress(core, ref, request.model_spec.signature_name, request.input, None)
    elif kind == "multi_inference_log":
        example_methods.multi_inference(core, ref, log.multi_inference_log.request, None)
    elif kind is not None:
        raise Unimplemented(f"Unsupported log_type for warmup: {kind}")


def _records(path: Path) -> Iterator[bytes]:
    """The TFRecord file's records; a file TensorFlow cannot read (a bad checksum, a cut-off
    record) is an internal error (TF Serving says DATA_LOSS, both are HTTP 500), with the
    file and TensorFlow's reason."""
    import tensorflow as tf

    try:
        for record in tf.data.TFRecordDataset(str(path)).as_numpy_iterator():
            yield bytes(record)
    except tf.errors.OpError as error:
        reason = serving_error_from_tf(error).message
        raise InternalError(f"cannot read warmup file {path}: {reason}") from error
