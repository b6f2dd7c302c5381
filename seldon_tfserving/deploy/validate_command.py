"""`seldon-tfserving validate FILE...`: what the cluster would say, before applying.

Each SeldonDeployment is checked against the schema of its apiVersion (v1, v1alpha2 or
v1alpha3 built in; the versions `--crd` serves otherwise). Exit status 0 when every file
passes, 1 when any document has an error, 2 when the CRD given with `--crd` cannot be used.
Warnings (`PATH: warning: ...`: it deploys, but part of it works only locally) are printed and
leave the status at 0.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from seldon_tfserving.deploy import schema
from seldon_tfserving.deploy.validate import validate_file


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Check SeldonDeployment manifests against the CRD schema (built in, or --crd) and the "
        "rules Seldon's operator and executor enforce. Errors and warnings name the file, the "
        "JSON path and the fix; only errors make the exit status 1."
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
        help="validate against the versions this CRD serves instead of the built-in schemas "
        "(the output of `kubectl get crd seldondeployments.machinelearning.seldon.io -o yaml`)",
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="print errors only (no warnings, no 'valid')"
    )


def run(args: argparse.Namespace) -> int:
    try:
        schemas = schema.load_crd_schemas(args.crd) if args.crd else schema.builtin_schemas()
    except schema.CrdError as error:
        print(f"{args.crd}: {error}", file=sys.stderr)
        return 2
    source = f"CRD {args.crd}" if args.crd else "built-in schema"
    failed = 0
    for path in args.files:
        reports = validate_file(path, schemas)
        multi = len(reports) > 1
        for line in (line for r in reports for line in r.lines(multi, warnings=not args.quiet)):
            print(line)
        warned = sum(len(report.warnings) for report in reports)
        if any(report.errors for report in reports):
            failed += 1
        elif not args.quiet:
            names = ", ".join(f"{r.kind}/{r.name}" for r in reports if r.checked and r.kind != "-")
            noted = f"; {warned} warning{'s' if warned != 1 else ''}" if warned else ""
            print(f"{path}: valid ({names}; {source}{noted})")
    if failed:
        print(f"{failed} of {len(args.files)} file(s) refused", file=sys.stderr)
        return 1
    return 0
