"""`seldon-tfserving render operator-config`: the seldon-config change that makes Seldon's
operator run our wrapper for every `implementation: TENSORFLOW_SERVER` node.

The output is one ConfigMap document holding only `predictor_servers`, with a header saying
how to apply it (`kubectl apply` or `kubectl patch --type merge`: both keep the other keys),
what it costs (the change is cluster-wide), and how the CPU and GPU variants differ.
"""

from __future__ import annotations

import argparse
import sys
import textwrap

import yaml

from seldon_tfserving.deploy.predictor_servers import (
    CONFIG_MAP_NAME,
    OPERATOR_NAMESPACE,
    OUR_IMAGES,
    SELDON_IMAGES,
    ServerImage,
    TensorflowServerImages,
    operator_config_map,
)

OPERATOR_CONFIG = "operator-config"
GPU_SUFFIX = "-gpu"
HEADER_WIDTH = 92


def gpu_variant(image: ServerImage) -> ServerImage:
    """TF Serving's GPU build of a tag: `2.20.0` -> `2.20.0-gpu`."""
    if image.version.endswith(GPU_SUFFIX):
        return image
    return ServerImage(image.image, f"{image.version or 'latest'}{GPU_SUFFIX}")


def images_for(wrapper_image: str, tfserving_image: str, gpu: bool) -> TensorflowServerImages:
    """Our wrapper for protocol seldon, TF Serving (its GPU build with `gpu`) for tensorflow."""
    tfserving = ServerImage.parse(tfserving_image)
    return TensorflowServerImages(
        ServerImage.parse(wrapper_image),
        gpu_variant(tfserving) if gpu else tfserving,
        OUR_IMAGES.seldon_image_env,
        OUR_IMAGES.storage_initializer,
    )


def header(images: TensorflowServerImages, namespace: str) -> str:
    """What the change does and how to apply it, as YAML comments."""
    tfserving = images.tensorflow
    cpu = ServerImage(tfserving.image, tfserving.version.removesuffix(GPU_SUFFIX)).reference
    gpu = gpu_variant(tfserving).reference
    patch = f"kubectl patch configmap {CONFIG_MAP_NAME} -n {namespace} --type merge"
    paragraphs: list[str | tuple[str, ...]] = [
        f"{CONFIG_MAP_NAME}'s predictor_servers, written by `seldon-tfserving render "
        f"{OPERATOR_CONFIG}`. TENSORFLOW_SERVER nodes then run {images.seldon.reference} "
        f"(TfServingModel) in place of Seldon's {SELDON_IMAGES.seldon.reference} under "
        f"protocol seldon, beside TF Serving {tfserving.reference}; under protocol tensorflow "
        "the node is that TF Serving itself. Every other prepackaged server keeps Seldon Core "
        "1.18.2's images.",
        "Apply (the operator reads this key at every reconcile: no restart):",
        ("  kubectl apply -f FILE", f"  {patch} --patch-file FILE"),
        "Either keeps the ConfigMap's other keys (credentials, explainer, storageInitializer). "
        "Running SeldonDeployments get the new pods when next reconciled (apply them again). "
        "Installed with Helm? Set the same predictor_servers in your values, or the next "
        "`helm upgrade` writes Seldon's images back.",
        "Cluster-wide: every TENSORFLOW_SERVER node of every namespace changes. For one "
        "deployment only, leave this alone and write its pod in componentSpecs instead (no "
        "`implementation`: TfServingModel beside TF Serving, as graphs/single-cpu.yaml does); "
        "under protocol seldon the operator replaces the image of a TENSORFLOW_SERVER node's "
        "container, so only a pod written out chooses it.",
        "CPU or GPU: this one TF Serving image serves every TENSORFLOW_SERVER node.",
        (f"  CPU: {cpu} (the default)", f"  GPU (--gpu): {gpu}"),
        "The GPU image serves every node, also on machines without a GPU (on their CPU, from "
        "a much larger image). For a mix, keep the CPU image here and, for a node that needs "
        "a GPU, write TF Serving's container yourself (protocol seldon: named tfserving; "
        f"protocol tensorflow: named after the node) with image {gpu} and "
        "resources.limits nvidia.com/gpu: 1: the operator keeps a written image and "
        "resources, and fills in args and ports.",
    ]
    lines: list[str] = []
    for paragraph in paragraphs:
        if isinstance(paragraph, tuple):
            lines += paragraph
        else:
            if lines and not lines[-1].endswith(":"):
                lines.append("")
            lines += textwrap.wrap(paragraph, HEADER_WIDTH, break_on_hyphens=False)
    return "".join(f"# {line}".rstrip() + "\n" for line in lines)


def render_operator_config(
    images: TensorflowServerImages, namespace: str = OPERATOR_NAMESPACE
) -> str:
    """The header and the ConfigMap, ready for kubectl."""
    document = operator_config_map(images, namespace)
    return header(images, namespace) + yaml.dump(
        document, Dumper=_LiteralDumper, sort_keys=False, default_flow_style=False
    )


class _LiteralDumper(yaml.SafeDumper):
    """Writes the JSON value as a readable `|` block."""


def _literal(dumper: yaml.SafeDumper, text: str) -> yaml.Node:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_LiteralDumper.add_representer(str, _literal)


def run(args: argparse.Namespace) -> int:
    """`render operator-config`: print (or write with -o) the ConfigMap change."""
    images = images_for(args.image, args.tfserving_image, args.gpu)
    namespace = args.namespace or OPERATOR_NAMESPACE
    text = render_operator_config(images, namespace)
    if "/" not in images.seldon.image:
        print(
            f"render {OPERATOR_CONFIG}: image {images.seldon.reference!r} names no registry: "
            "the cluster's nodes must already have it; pass --image REGISTRY/seldon-tfserving:"
            "VERSION after pushing it",
            file=sys.stderr,
        )
    if args.output:
        args.output.write_text(text)
    else:
        sys.stdout.write(text)
    return 0
