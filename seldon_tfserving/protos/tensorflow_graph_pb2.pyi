from google.protobuf import struct_pb2 as _struct_pb2
from tensorflow_serving.apis import classification_pb2 as _classification_pb2
from tensorflow_serving.apis import inference_pb2 as _inference_pb2
from tensorflow_serving.apis import predict_pb2 as _predict_pb2
from tensorflow_serving.apis import regression_pb2 as _regression_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AggregateRequest(_message.Message):
    __slots__ = ["responses"]
    RESPONSES_FIELD_NUMBER: _ClassVar[int]
    responses: _containers.RepeatedCompositeFieldContainer[_predict_pb2.PredictResponse]
    def __init__(self, responses: _Optional[_Iterable[_Union[_predict_pb2.PredictResponse, _Mapping]]] = ...) -> None: ...

class RouteRequest(_message.Message):
    __slots__ = ["classify", "multi_inference", "predict", "regress"]
    CLASSIFY_FIELD_NUMBER: _ClassVar[int]
    MULTI_INFERENCE_FIELD_NUMBER: _ClassVar[int]
    PREDICT_FIELD_NUMBER: _ClassVar[int]
    REGRESS_FIELD_NUMBER: _ClassVar[int]
    classify: _classification_pb2.ClassificationRequest
    multi_inference: _inference_pb2.MultiInferenceRequest
    predict: _predict_pb2.PredictRequest
    regress: _regression_pb2.RegressionRequest
    def __init__(self, predict: _Optional[_Union[_predict_pb2.PredictRequest, _Mapping]] = ..., classify: _Optional[_Union[_classification_pb2.ClassificationRequest, _Mapping]] = ..., regress: _Optional[_Union[_regression_pb2.RegressionRequest, _Mapping]] = ..., multi_inference: _Optional[_Union[_inference_pb2.MultiInferenceRequest, _Mapping]] = ...) -> None: ...

class RouteResponse(_message.Message):
    __slots__ = ["route", "tags"]
    ROUTE_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    route: int
    tags: _struct_pb2.Struct
    def __init__(self, route: _Optional[int] = ..., tags: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...
