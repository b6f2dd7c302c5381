"""TF Serving's `--batching_parameters_file`: a BatchingParameters text proto, read and checked.

The message is not in the tensorflow-serving-api wheel (it lives with the C++ servables), so its
descriptor is declared here, field for field, and the file goes through protobuf's own text
parser: the same syntax, and the same errors for a misspelt field, as tensorflow_model_server.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.protobuf import (
    descriptor_pb2,
    descriptor_pool,
    text_format,
    wrappers_pb2,
)

from seldon_tfserving.backend.dynamic_messages import message_class
from seldon_tfserving.errors import ConfigurationError

_INT64 = descriptor_pb2.FieldDescriptorProto.TYPE_INT64
_BOOL = descriptor_pb2.FieldDescriptorProto.TYPE_BOOL
_MESSAGE = descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE
_REPEATED = descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED
_OPTIONAL = descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL

#: session_bundle_config.proto's BatchingParameters: (name, number, type, wrapper or None).
_FIELDS: tuple[tuple[str, int, int, str | None], ...] = (
    ("max_batch_size", 1, _MESSAGE, "Int64Value"),
    ("batch_timeout_micros", 2, _MESSAGE, "Int64Value"),
    ("max_enqueued_batches", 3, _MESSAGE, "Int64Value"),
    ("num_batch_threads", 4, _MESSAGE, "Int64Value"),
    ("thread_pool_name", 5, _MESSAGE, "StringValue"),
    ("allowed_batch_sizes", 6, _INT64, None),
    ("pad_variable_length_inputs", 7, _BOOL, None),
    ("enable_large_batch_splitting", 8, _MESSAGE, "BoolValue"),
    ("max_execution_batch_size", 9, _MESSAGE, "Int64Value"),
)


def _message_class() -> Any:
    file = descriptor_pb2.FileDescriptorProto(
        name="seldon_tfserving/batching_parameters.proto",
        package="tensorflow.serving",
        dependency=["google/protobuf/wrappers.proto"],
        syntax="proto3",
    )
    message = file.message_type.add(name="BatchingParameters")
    for name, number, kind, wrapper in _FIELDS:
        field = message.field.add(name=name, number=number, type=kind)
        field.label = _REPEATED if name == "allowed_batch_sizes" else _OPTIONAL
        if wrapper is not None:
            field.type_name = f".google.protobuf.{wrapper}"
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(wrappers_pb2.DESCRIPTOR.serialized_pb)
    pool.Add(file)
    return message_class(pool.FindMessageTypeByName("tensorflow.serving.BatchingParameters"))


_BatchingParametersProto = _message_class()


@dataclass(frozen=True)
class BatchingParameters:
    """What the batch scheduler works with; unset fields take BasicBatchScheduler's defaults."""

    max_batch_size: int = 1000
    batch_timeout_micros: int = 0
    max_enqueued_batches: int = 10
    num_batch_threads: int = os.cpu_count() or 1
    allowed_batch_sizes: tuple[int, ...] = ()
    pad_variable_length_inputs: bool = False

    def __post_init__(self) -> None:
        for name in ("max_batch_size", "max_enqueued_batches", "num_batch_threads"):
            if getattr(self, name) < 1:
                raise ConfigurationError(name, f"must be at least 1, got {getattr(self, name)}")
        if self.batch_timeout_micros < 0:
            raise ConfigurationError("batch_timeout_micros", "must not be negative")
        sizes = self.allowed_batch_sizes
        if sizes:
            if any(b <= a for a, b in zip(sizes, sizes[1:], strict=False)) or sizes[0] < 1:
                raise ConfigurationError(
                    "allowed_batch_sizes", "entries must be positive and increasing"
                )
            if sizes[-1] != self.max_batch_size:
                raise ConfigurationError(
                    "allowed_batch_sizes",
                    "Last entry in allowed_batch_sizes must match max_batch_size; last entry "
                    f"was {sizes[-1]}; expected {self.max_batch_size}",
                )

    @classmethod
    def parse(cls, text: str) -> BatchingParameters:
        """Parameters from BatchingParameters text format (what the flag's file holds)."""
        proto = _BatchingParametersProto()
        try:
            text_format.Parse(text, proto)
        except text_format.ParseError as error:
            raise ConfigurationError("batching_parameters_file", str(error)) from error
        values: dict[str, Any] = {}
        for name in (
            "max_batch_size",
            "batch_timeout_micros",
            "max_enqueued_batches",
            "num_batch_threads",
        ):
            if proto.HasField(name):
                values[name] = getattr(proto, name).value
        values["allowed_batch_sizes"] = tuple(proto.allowed_batch_sizes)
        values["pad_variable_length_inputs"] = proto.pad_variable_length_inputs
        if proto.HasField("enable_large_batch_splitting") and (
            proto.enable_large_batch_splitting.value
        ):
            raise ConfigurationError(
                "enable_large_batch_splitting",
                "not supported here: a request larger than max_batch_size is refused",
            )
        return cls(**values)

    @classmethod
    def read(cls, path: Path) -> BatchingParameters:
        try:
            text = path.read_text()
        except OSError as error:
            raise ConfigurationError("batching_parameters_file", str(error)) from error
        return cls.parse(text)
