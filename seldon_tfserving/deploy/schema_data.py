"""Writes the built-in CRD schemas (package data) from Seldon Core's CRD, one file per schema.

The product reads only what this writes into `deploy/data/`, never the CRD itself:
`python -m seldon_tfserving.deploy.schema_data CRD.yaml` after Seldon's CRD changes. Each
served version gets its schema; versions whose schemas are identical share one file, named
after the first of them, and `seldondeployment-versions.json` says which file is whose.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from seldon_tfserving.deploy.schema import (
    BUILTIN_VERSIONS_FILE,
    CrdError,
    load_crd_documents,
    openapi_schemas_from_crd,
    strip_descriptions,
)

DATA_DIR = Path(__file__).parent / "data"


def schema_file_name(version: str) -> str:
    return f"seldondeployment-{version}.openapi.json"


def schema_text(schema: Any) -> str:
    """The stored form: one-space indents, keys in the CRD's order, a final newline."""
    return json.dumps(schema, indent=1) + "\n"


def builtin_files(docs: list[Any]) -> dict[str, str]:
    """file name -> text of every data file the CRD's served versions make, v1 first."""
    schemas = {
        version: strip_descriptions(schema)
        for version, schema in openapi_schemas_from_crd(docs).items()
    }
    if "v1" not in schemas:
        raise CrdError("the CRD serves no v1, the version the operator stores")
    order = ["v1", *(version for version in schemas if version != "v1")]
    files: dict[str, str] = {}
    owner: dict[str, str] = {}
    index: dict[str, str] = {}
    for version in order:
        text = schema_text(schemas[version])
        if text not in owner:
            owner[text] = schema_file_name(version)
            files[owner[text]] = text
        index[version] = owner[text]
    files[BUILTIN_VERSIONS_FILE] = json.dumps(index, indent=1) + "\n"
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("crd", type=Path, help="Seldon Core's SeldonDeployment CRD (YAML)")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    args = parser.parse_args(argv)
    try:
        files = builtin_files(load_crd_documents(args.crd))
    except CrdError as error:
        print(f"{args.crd}: {error}", file=sys.stderr)
        return 2
    for name, text in files.items():
        (args.data_dir / name).write_text(text)
        print(f"wrote {args.data_dir / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
