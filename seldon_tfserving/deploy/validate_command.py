"""`seldon-tfserving validate FILE...`: what the cluster would say, before applying.

Exit status 0 when every file passes, 1 when any document has a problem, 2 when the CRD given
with `--crd` cannot be used.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from jsonschema.protocols import Validator

from seldon_tfserving.deploy import schema
from seldon_tfserving.deploy.validate import validate_file


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Check SeldonDeployment manifests against the CRD schema (built in, or --crd) and the "
        "rules Seldon's operator and executor enforce. Errors name the file, the JSON path "
        "and the fix."
    )
    parser.add_argument(
        "files",
        nargs="+",
        type=Path,
        metavar="FILE",
        help="YAML manifests (- reads standard input)",
    )
    parser.add_argument(
        "--crd",
        type=Path,
        metavar="FILE",
        help="validate against this CRD instead of the built-in schema (the output of "
        "`kubectl get crd seldondeployments.machinelearning.seldon.io -o yaml`)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="print errors only")


def run(args: argparse.Namespace) -> int:
    try:
        validator: Validator = (
            schema.validator_for(schema.load_crd_schema(args.crd))
            if args.crd
            else schema.builtin_validator()
        )
    except schema.CrdError as error:
        print(f"{args.crd}: {error}", file=sys.stderr)
        return 2
    source = f"CRD {args.crd}" if args.crd else "built-in schema"
    failed = 0
    for path in args.files:
        reports = validate_file(path, validator)
        multi = len(reports) > 1
        problems = [line for report in reports for line in report.lines(multi)]
        for line in problems:
            print(line)
        if problems:
            failed += 1
        elif not args.quiet:
            names = ", ".join(f"{r.kind}/{r.name}" for r in reports if r.checked and r.kind != "-")
            print(f"{path}: valid ({names}; {source})")
    if failed:
        print(f"{failed} of {len(args.files)} file(s) refused", file=sys.stderr)
        return 1
    return 0
