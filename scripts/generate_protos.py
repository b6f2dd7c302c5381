"""Regenerate seldon_tfserving/protos/*_pb2*.py from their .proto files (`make protos`).

TF Serving's wheel ships compiled modules, not its .proto files, so the imports our protos need
are handed to protoc as a descriptor set written from the installed modules. The code is made
by protoc 3.21 (grpcio-tools 1.49.1): that output runs on protobuf 3.20 through 5.x, which both
seldon-core lines we support need. Run with this project's venv python; PROTOC_PYTHON is a
python with grpcio-tools 1.49.1 installed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from google.protobuf import descriptor_pb2, struct_pb2
from google.protobuf.descriptor import FileDescriptor
from tensorflow_serving.apis import classification_pb2, inference_pb2, predict_pb2, regression_pb2

ROOT = Path(__file__).resolve().parent.parent
PROTOS = sorted((ROOT / "seldon_tfserving" / "protos").glob("*.proto"))
IMPORTED = (struct_pb2, classification_pb2, inference_pb2, predict_pb2, regression_pb2)


def descriptor_set() -> bytes:
    """Every file the protos import, dependencies first, as one FileDescriptorSet."""
    files = descriptor_pb2.FileDescriptorSet()
    seen: set[str] = set()

    def add(descriptor: FileDescriptor) -> None:
        if descriptor.name in seen:
            return
        for dependency in descriptor.dependencies:
            add(dependency)
        seen.add(descriptor.name)
        descriptor.CopyToProto(files.file.add())

    for module in IMPORTED:
        add(module.DESCRIPTOR)
    return files.SerializeToString()


def main() -> int:
    protoc_python = os.environ.get("PROTOC_PYTHON")
    if not protoc_python:
        print("set PROTOC_PYTHON to a python with grpcio-tools==1.49.1", file=sys.stderr)
        return 2
    with tempfile.NamedTemporaryFile(suffix=".pb") as deps:
        deps.write(descriptor_set())
        deps.flush()
        command = [
            protoc_python,
            "-m",
            "grpc_tools.protoc",
            f"--descriptor_set_in={deps.name}",
            f"-I{ROOT}",
            f"--python_out={ROOT}",
            f"--pyi_out={ROOT}",
            f"--grpc_python_out={ROOT}",
            *(str(p.relative_to(ROOT)) for p in PROTOS),
        ]
        return subprocess.run(command, cwd=ROOT, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
