"""How TF Serving prints a proto as JSON (field names as declared, every field without presence
printed), spelled for the installed protobuf: 5.26+ calls the option
`always_print_fields_with_no_presence`, 3.20 (the Apache-2.0 stack's)
`including_default_value_fields`."""

from __future__ import annotations

import functools
import inspect
from typing import Any

from google.protobuf import json_format

_NEW_NAME = "always_print_fields_with_no_presence"
_OLD_NAME = "including_default_value_fields"


@functools.cache
def _every_field_option() -> str:
    parameters = inspect.signature(json_format.MessageToJson).parameters
    return _NEW_NAME if _NEW_NAME in parameters else _OLD_NAME


def tfserving_print_options() -> dict[str, Any]:
    """`json_format.MessageToJson` keywords for TF Serving's REST status and metadata bodies."""
    return {"preserving_proto_field_name": True, _every_field_option(): True}
