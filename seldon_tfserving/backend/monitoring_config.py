"""TF Serving's `--monitoring_config_file`: a MonitoringConfig text proto, read and checked.

The message is not in the tensorflow-serving-api wheel, so its descriptor is declared here
(monitoring_config.proto: `prometheus_config { enable, path }`) and the file goes through
protobuf's own text parser: the same syntax, and the same errors, as tensorflow_model_server.
Free of TensorFlow, so the runner can read where a backend serves its metrics.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, text_format

from seldon_tfserving.backend.dynamic_messages import message_class
from seldon_tfserving.errors import ConfigurationError

#: PrometheusExporter::kPrometheusPath, used when `path` is not set.
DEFAULT_PROMETHEUS_PATH = "/monitoring/prometheus/metrics"
FLAG = "monitoring_config_file"

_BOOL = descriptor_pb2.FieldDescriptorProto.TYPE_BOOL
_STRING = descriptor_pb2.FieldDescriptorProto.TYPE_STRING
_MESSAGE = descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE
_OPTIONAL = descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL


def _message_class() -> Any:
    file = descriptor_pb2.FileDescriptorProto(
        name="seldon_tfserving/monitoring_config.proto",
        package="tensorflow.serving",
        syntax="proto3",
    )
    prometheus = file.message_type.add(name="PrometheusConfig")
    prometheus.field.add(name="enable", number=1, type=_BOOL, label=_OPTIONAL)
    prometheus.field.add(name="path", number=2, type=_STRING, label=_OPTIONAL)
    monitoring = file.message_type.add(name="MonitoringConfig")
    monitoring.field.add(
        name="prometheus_config",
        number=1,
        type=_MESSAGE,
        label=_OPTIONAL,
        type_name=".tensorflow.serving.PrometheusConfig",
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_class(pool.FindMessageTypeByName("tensorflow.serving.MonitoringConfig"))


_MonitoringConfigProto = _message_class()


@dataclass(frozen=True)
class PrometheusEndpoint:
    """Where the REST port serves TF Serving's metrics page (prometheus_config enabled)."""

    path: str = DEFAULT_PROMETHEUS_PATH


def parse_monitoring_config(text: str) -> PrometheusEndpoint | None:
    """The endpoint a MonitoringConfig text asks for; None when Prometheus is not enabled.
    ConfigurationError naming the flag for text protobuf's parser refuses."""
    message = _MonitoringConfigProto()
    try:
        text_format.Parse(text, message)
    except text_format.ParseError as exc:
        raise ConfigurationError(FLAG, f"not a MonitoringConfig: {exc}") from None
    prometheus = message.prometheus_config
    if not prometheus.enable:
        return None
    return PrometheusEndpoint(prometheus.path or DEFAULT_PROMETHEUS_PATH)


def read_monitoring_config(path: Path) -> PrometheusEndpoint | None:
    """`parse_monitoring_config` of the file; ConfigurationError when it cannot be read."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigurationError(FLAG, f"cannot read {path}: {exc.strerror or exc}") from None
    return parse_monitoring_config(text)
