"""`seldon-tfserving render JOURNEY ...`: a ready SeldonDeployment without hand-editing YAML.

Writes the YAML to stdout or `-o FILE`; the output passes `seldon-tfserving validate`, and
under `--protocol tensorflow` its header repeats validate's warnings. Exit status 2 when the
flags do not make a deployment (the message names the flag).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from seldon_tfserving.deploy import operator_config
from seldon_tfserving.deploy.findings import Finding
from seldon_tfserving.deploy.operator_config import OPERATOR_CONFIG
from seldon_tfserving.deploy.render import render
from seldon_tfserving.deploy.render_options import (
    COMBINERS,
    DEFAULT_TFSERVING_IMAGE,
    DEFAULT_WRAPPER_IMAGE,
    JOURNEYS,
    PROTOCOLS,
    ROUTER_POLICIES,
    TENSORFLOW_JOURNEYS,
    Autoscaling,
    RenderError,
    RenderOptions,
)
from seldon_tfserving.deploy.tensorflow_protocol import check_tensorflow_protocol

JOURNEY_HELP = f"""journeys:
  single    one model (use --gpu for the GPU image and a whole GPU)
  ab        one model, two or more --versions under --labels, split by --ratio-a or --weights
  canary    two predictors (--model current --model candidate), --traffic 90,10
  shadow    a live predictor and a shadow receiving a copy (--model live --model shadow)
  bandit    a learning router (--policy) over --versions of one model, with feedback
  ensemble  two or more --model under a combiner (--combiner mean|weighted-mean --weights)

operator-config: not a deployment but the change to Seldon's seldon-config ConfigMap that makes
every implementation: TENSORFLOW_SERVER node run --image (our wrapper) beside TF Serving
--tfserving-image (--gpu: its GPU build); --namespace is the operator's (seldon-system).

--protocol tensorflow: clients call TF Serving's own API through Seldon
(POST /v1/models/<m>:predict); journeys {", ".join(TENSORFLOW_JOURNEYS)}. What works only
with `seldon-tfserving up` is written as warnings in the file's header.
"""


def _numbers(kind: type, text: str) -> tuple[object, ...]:
    try:
        return tuple(kind(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers, got {text!r}"
        ) from None


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(str(v)) for v in _numbers(int, text))


def _floats(text: str) -> tuple[float, ...]:
    return tuple(float(str(v)) for v in _numbers(float, text))


def _words(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _autoscaling(text: str) -> Autoscaling:
    parts = text.split(":")
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        numbers = []
    if len(numbers) not in (2, 3):
        raise argparse.ArgumentTypeError(f"expected MIN:MAX or MIN:MAX:CPU_PERCENT, got {text!r}")
    return Autoscaling(*numbers)


class _BlockDumper(yaml.SafeDumper):
    """Writes multi-line strings (the TF Serving model config) as readable `|` blocks."""


def _represent_text(dumper: yaml.SafeDumper, text: str) -> yaml.Node:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_BlockDumper.add_representer(str, _represent_text)


def to_yaml(docs: list[dict[str, object]]) -> str:
    return yaml.dump_all(docs, Dumper=_BlockDumper, sort_keys=False, default_flow_style=False)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = "Write a ready SeldonDeployment (YAML) for a common journey."
    parser.epilog = JOURNEY_HELP
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("journey", choices=(*JOURNEYS, OPERATOR_CONFIG))
    parser.add_argument("--name", default="tfserving", help="the SeldonDeployment's name")
    parser.add_argument("--namespace", help="metadata.namespace (default: kubectl's)")
    parser.add_argument(
        "--model",
        dest="models",
        action="append",
        help="TF Serving model name; repeat for canary, shadow and ensemble",
    )
    storage = parser.add_mutually_exclusive_group()
    storage.add_argument(
        "--model-uri",
        help="copy models from this URI (gs://, s3://...) with Seldon's storage initializer; "
        "it holds one folder per model, named after the model",
    )
    storage.add_argument(
        "--volume-claim",
        default="tfserving-models",
        help="PersistentVolumeClaim holding one folder per model (default: %(default)s)",
    )
    parser.add_argument("--versions", type=_ints, default=(), help="model versions, e.g. 1,2")
    parser.add_argument(
        "--labels", type=_words, default=(), help="version labels, e.g. stable,canary"
    )
    parser.add_argument("--ratio-a", type=float, help="ab: share of traffic to the first version")
    parser.add_argument("--weights", type=_floats, default=(), help="ab/ensemble: one per branch")
    parser.add_argument("--traffic", type=_ints, default=(90, 10), help="canary: e.g. 90,10")
    parser.add_argument("--policy", choices=ROUTER_POLICIES, default="thompson", help="bandit")
    parser.add_argument("--combiner", choices=COMBINERS, default="mean", help="ensemble")
    parser.add_argument("--gpu", action="store_true", help="TF Serving's -gpu image and one GPU")
    parser.add_argument("--replicas", type=int, default=1, help="pods per predictor")
    parser.add_argument("--hpa", type=_autoscaling, help="autoscale: MIN:MAX[:CPU_PERCENT]")
    parser.add_argument("--logger-url", help="send every request and response to this URL")
    parser.add_argument("--logger-mode", choices=("all", "request", "response"), default="all")
    parser.add_argument(
        "--transport",
        choices=("grpc", "rest"),
        default="grpc",
        help="how TfServingModel calls TF Serving for Seldon-protocol requests",
    )
    parser.add_argument(
        "--protocol",
        choices=PROTOCOLS,
        default="seldon",
        help="the API clients call: Seldon's, or TF Serving's own (spec.protocol)",
    )
    parser.add_argument("--image", default=DEFAULT_WRAPPER_IMAGE, help="the wrapper image")
    parser.add_argument("--tfserving-image", default=DEFAULT_TFSERVING_IMAGE)
    parser.add_argument("-o", "--output", type=Path, help="write here instead of stdout")


def options_from(args: argparse.Namespace) -> RenderOptions:
    return RenderOptions(
        journey=args.journey,
        name=args.name,
        namespace=args.namespace,
        models=tuple(args.models or ("half_plus_two",)),
        model_uri=args.model_uri,
        volume_claim=args.volume_claim,
        versions=args.versions,
        labels=args.labels,
        ratio_a=args.ratio_a,
        weights=args.weights,
        traffic=args.traffic,
        policy=args.policy,
        combiner=args.combiner,
        gpu=args.gpu,
        replicas=args.replicas,
        autoscaling=args.hpa,
        logger_url=args.logger_url,
        logger_mode=args.logger_mode,
        transport=args.transport,
        protocol=args.protocol,
        wrapper_image=args.image,
        tfserving_image=args.tfserving_image,
    )


def protocol_warnings(docs: list[dict[str, object]]) -> list[Finding]:
    """What validate will warn about the rendered deployment (all works with `up`)."""
    deployment = next(doc for doc in docs if doc.get("kind") == "SeldonDeployment")
    return [f for f in check_tensorflow_protocol(deployment, list(docs)) if not f.is_error]


#: The options `render operator-config` takes; the journeys' others mean nothing to it.
OPERATOR_CONFIG_OPTIONS = frozenset({"journey", "image", "tfserving_image", "gpu", "namespace"})


def journey_options_given(args: argparse.Namespace) -> list[str]:
    """The journey options set on the command line (operator-config refuses them)."""
    parser = argparse.ArgumentParser()
    configure(parser)
    defaults = vars(parser.parse_args([OPERATOR_CONFIG]))
    given = [
        dest
        for dest, default in defaults.items()
        if dest not in OPERATOR_CONFIG_OPTIONS | {"output"} and getattr(args, dest) != default
    ]
    return ["--model" if dest == "models" else "--" + dest.replace("_", "-") for dest in given]


def run(args: argparse.Namespace) -> int:
    if args.journey == OPERATOR_CONFIG:
        unused = journey_options_given(args)
        if unused:
            print(
                f"render {OPERATOR_CONFIG}: {', '.join(unused)} shape a deployment, not the "
                "operator's config (it takes --image, --tfserving-image, --gpu, --namespace, -o)",
                file=sys.stderr,
            )
            return 2
        return operator_config.run(args)
    try:
        docs = render(options_from(args))
    except RenderError as error:
        print(f"render {args.journey}: {error}", file=sys.stderr)
        return 2
    header = (
        f"# {args.journey} journey, written by `seldon-tfserving render`.\n"
        "# Check before applying: seldon-tfserving validate FILE\n"
    )
    warnings = protocol_warnings(docs)
    if warnings:
        header += f"# Under protocol {args.protocol}, validate warns:\n" + "".join(
            f"#   {finding.path}: {finding.message}\n#     fix: {finding.fix}\n"
            for finding in warnings
        )
        print(
            f"render {args.journey}: {len(warnings)} warning(s) for a cluster with Seldon's "
            "executor, written in the file's header",
            file=sys.stderr,
        )
    text = header + to_yaml(docs)
    if args.output:
        args.output.write_text(text)
    else:
        sys.stdout.write(text)
    return 0
