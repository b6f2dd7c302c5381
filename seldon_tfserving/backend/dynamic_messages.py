"""The class of a protobuf message whose descriptor is built at run time, on either stack:
protobuf 4.21+ has `GetMessageClass`; 3.20 (the Apache-2.0 image's) only `MessageFactory`."""

from __future__ import annotations

from typing import Any

from google.protobuf import message_factory


def message_class(descriptor: Any) -> Any:
    """The generated class for `descriptor` (a Descriptor from a pool of its own)."""
    get_message_class = getattr(message_factory, "GetMessageClass", None)
    if get_message_class is not None:
        return get_message_class(descriptor)
    factory: Any = message_factory.MessageFactory(descriptor.file.pool)
    return factory.GetPrototype(descriptor)
