"""Build ready SeldonDeployments for the common journeys from a few choices.

Pure functions from `RenderOptions` to Kubernetes documents (plain dicts): the same shapes as
the commented files in graphs/, so what `render` writes validates and runs like them. The
command (`render_command.py`) only parses flags and writes YAML.
"""

from __future__ import annotations

import re
from typing import Any

from seldon_tfserving.deploy.render_options import (
    COMBINERS,
    CONFIG_MOUNT,
    GRPC_PORT,
    JOURNEYS,
    MODELS_MOUNT,
    PROTOCOLS,
    REST_PORT,
    ROUTER_POLICIES,
    STORAGE_INITIALIZER_IMAGE,
    TENSORFLOW_JOURNEYS,
    RenderError,
    RenderOptions,
)


def dns_label(text: str) -> str:
    """A Kubernetes-safe name (containers, nodes) for a model name such as half_plus_two."""
    label = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    return label[:63].rstrip("-") or "model"


def param(name: str, kind: str, value: object) -> dict[str, str]:
    text = str(value).lower() if isinstance(value, bool) else str(value)
    return {"name": name, "type": kind, "value": text}


def _wrapper(name: str, class_name: str, service_type: str, image: str) -> dict[str, Any]:
    return {
        "name": name,
        "image": image,
        "env": [
            {"name": "MODEL_NAME", "value": f"seldon_tfserving.{class_name}"},
            {"name": "SERVICE_TYPE", "value": service_type},
        ],
        "resources": {
            "requests": {"cpu": "250m", "memory": "256Mi"},
            "limits": {"memory": "512Mi"},
        },
    }


def _model_node(name: str, model: str, options: RenderOptions, **pin: object) -> dict[str, Any]:
    parameters = [
        param("model_name", "STRING", model),
        param("transport", "STRING", options.transport),
        param("grpc_endpoint", "STRING", f"localhost:{GRPC_PORT}"),
        param("rest_endpoint", "STRING", f"http://localhost:{REST_PORT}"),
    ]
    for key, value in pin.items():
        parameters.append(param(key, "INT" if isinstance(value, int) else "STRING", value))
    return {"name": name, "type": "MODEL", "parameters": parameters}


def _tfserving(options: RenderOptions, flags: list[str], ready_path: str) -> dict[str, Any]:
    image = options.tfserving_image + ("-gpu" if options.gpu else "")
    limits: dict[str, Any] = {"memory": "8Gi" if options.gpu else "2Gi"}
    if options.gpu:
        limits["nvidia.com/gpu"] = 1
    return {
        "name": "tfserving",
        "image": image,
        "args": [f"--port={GRPC_PORT}", f"--rest_api_port={REST_PORT}", *flags],
        "ports": [
            {"name": "tfs-grpc", "containerPort": GRPC_PORT, "protocol": "TCP"},
            {"name": "tfs-rest", "containerPort": REST_PORT, "protocol": "TCP"},
        ],
        "readinessProbe": {
            "httpGet": {"path": ready_path, "port": REST_PORT},
            "initialDelaySeconds": 5,
            "periodSeconds": 5,
        },
        "livenessProbe": {
            "tcpSocket": {"port": GRPC_PORT},
            "initialDelaySeconds": 15,
            "periodSeconds": 10,
        },
        "resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": limits},
        "volumeMounts": [{"name": "models", "mountPath": MODELS_MOUNT, "readOnly": True}],
    }


def _pod(
    options: RenderOptions, wrappers: list[dict[str, Any]], server: dict[str, Any], config: str
) -> dict[str, Any]:
    """A componentSpec: our wrappers and TF Serving in one pod, with the model volume."""
    pod: dict[str, Any] = {"containers": [*wrappers, server]}
    if options.model_uri:
        pod["initContainers"] = [
            {
                "name": "model-initializer",
                "image": STORAGE_INITIALIZER_IMAGE,
                "args": [options.model_uri, MODELS_MOUNT],
                "volumeMounts": [{"name": "models", "mountPath": MODELS_MOUNT}],
            }
        ]
        pod["volumes"] = [{"name": "models", "emptyDir": {}}]
    else:
        claim = {"claimName": options.volume_claim, "readOnly": True}
        pod["volumes"] = [{"name": "models", "persistentVolumeClaim": claim}]
    if config:
        server["volumeMounts"].append(
            {"name": "model-config", "mountPath": CONFIG_MOUNT, "readOnly": True}
        )
        pod["volumes"].append({"name": "model-config", "configMap": {"name": config}})
    if options.gpu:
        pod["nodeSelector"] = {"nvidia.com/gpu.present": "true"}
        pod["tolerations"] = [
            {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
        ]
    spec: dict[str, Any] = {"spec": pod}
    if options.autoscaling:
        scaling = options.autoscaling
        spec["hpaSpec"] = {
            "minReplicas": scaling.min_replicas,
            "maxReplicas": scaling.max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "targetAverageUtilization": scaling.cpu_utilization,
                    },
                }
            ],
        }
    return spec


def model_config(models: list[tuple[str, tuple[int, ...], tuple[str, ...]]]) -> str:
    """A ModelServerConfig (text format): models with their pinned versions and labels."""
    lines = ["model_config_list {"]
    for name, versions, labels in models:
        lines += [
            "  config {",
            f'    name: "{name}"',
            f'    base_path: "{MODELS_MOUNT}/{name}"',
            '    model_platform: "tensorflow"',
        ]
        if versions:
            pinned = " ".join(f"versions: {v}" for v in versions)
            lines.append(f"    model_version_policy {{ specific {{ {pinned} }} }}")
        for label, version in zip(labels, versions, strict=False):
            lines.append(f'    version_labels {{ key: "{label}" value: {version} }}')
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _configmap(options: RenderOptions, text: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": f"{options.name}-models-config"}
    if options.namespace:
        metadata["namespace"] = options.namespace
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata,
        "data": {"models.config": text},
    }


def _predictor(
    options: RenderOptions, name: str, graph: dict[str, Any], component_spec: dict[str, Any]
) -> dict[str, Any]:
    if options.logger_url:
        graph["logger"] = {"mode": options.logger_mode, "url": options.logger_url}
    predictor: dict[str, Any] = {"name": name, "graph": graph, "componentSpecs": [component_spec]}
    if not options.autoscaling:
        predictor["replicas"] = options.replicas
    return predictor


def _single_model_predictor(options: RenderOptions, name: str, model: str) -> dict[str, Any]:
    node = dns_label(model) if name != "default" else "classifier"
    server = _tfserving(
        options,
        [f"--model_name={model}", f"--model_base_path={MODELS_MOUNT}/{model}"],
        f"/v1/models/{model}",
    )
    wrapper = _wrapper(node, "TfServingModel", "MODEL", options.wrapper_image)
    pod = _pod(options, [wrapper], server, "")
    return _predictor(options, name, _model_node(node, model, options), pod)


def _branching_predictor(
    options: RenderOptions,
    head: dict[str, Any],
    head_class: str,
    children: list[dict[str, Any]],
    ready_path: str,
) -> dict[str, Any]:
    """One pod: a router or combiner over TfServingModel children and one TF Serving."""
    head["children"] = children
    service_type = head["type"]
    wrappers = [_wrapper(head["name"], head_class, service_type, options.wrapper_image)]
    wrappers += [
        _wrapper(child["name"], "TfServingModel", "MODEL", options.wrapper_image)
        for child in children
    ]
    config_name = f"{options.name}-models-config"
    server = _tfserving(options, [f"--model_config_file={CONFIG_MOUNT}/models.config"], ready_path)
    return _predictor(options, "default", head, _pod(options, wrappers, server, config_name))


def _need(condition: bool, message: str) -> None:
    if not condition:
        raise RenderError(message)


def _ab(options: RenderOptions) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    model = options.models[0]
    versions = options.versions or (1, 2)
    labels = options.labels or (("stable", "canary") if len(versions) == 2 else ())
    labels = labels or tuple(f"v{v}" for v in versions)
    _need(len(versions) >= 2, "ab needs at least two --versions")
    _need(len(labels) == len(versions), "give one --labels entry per version")
    router: dict[str, Any] = {"name": "ab-router", "type": "ROUTER", "parameters": []}
    if options.weights:
        _need(len(options.weights) == len(versions), "give one --weights entry per version")
        router["parameters"].append(
            param("weights", "STRING", ",".join(f"{w:g}" for w in options.weights))
        )
    else:
        _need(len(versions) == 2 or options.ratio_a is None, "--ratio-a splits two versions")
        ratio = 0.5 if options.ratio_a is None else options.ratio_a
        router["parameters"] += [param("ratio_a", "FLOAT", f"{ratio:g}")]
        if len(versions) > 2:
            router["parameters"].append(param("n_children", "INT", len(versions)))
    children = [
        _model_node(f"model-{dns_label(label)}", model, options, version_label=label)
        for label in labels
    ]
    config = model_config([(model, versions, labels)])
    predictor = _branching_predictor(
        options, router, "ABTestRouter", children, f"/v1/models/{model}/labels/{labels[-1]}"
    )
    return [_configmap(options, config)], [predictor]


def _bandit(options: RenderOptions) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    model = options.models[0]
    versions = options.versions or (1, 2, 3)
    _need(len(versions) >= 2, "bandit needs at least two --versions")
    _need(options.policy in ROUTER_POLICIES, "--policy is one of " + ", ".join(ROUTER_POLICIES))
    router = {
        "name": "bandit",
        "type": "ROUTER",
        "parameters": [param("n_branches", "INT", len(versions))],
    }
    children = [_model_node(f"version-{v}", model, options, model_version=v) for v in versions]
    config = model_config([(model, versions, ())])
    predictor = _branching_predictor(
        options,
        router,
        ROUTER_POLICIES[options.policy],
        children,
        f"/v1/models/{model}/versions/{versions[-1]}",
    )
    return [_configmap(options, config)], [predictor]


def _ensemble(options: RenderOptions) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    _need(len(options.models) >= 2, "ensemble needs two or more --model")
    _need(options.combiner in COMBINERS, "--combiner is one of " + ", ".join(COMBINERS))
    combiner: dict[str, Any] = {"name": "ensemble", "type": "COMBINER"}
    if options.combiner == "weighted-mean":
        _need(len(options.weights) == len(options.models), "give one --weights entry per model")
        weights = ",".join(f"{w:g}" for w in options.weights)
        combiner["parameters"] = [param("weights", "STRING", weights)]
    children = [
        _model_node(f"model-{dns_label(model)}", model, options) for model in options.models
    ]
    config = model_config([(model, (), ()) for model in options.models])
    predictor = _branching_predictor(
        options,
        combiner,
        COMBINERS[options.combiner],
        children,
        f"/v1/models/{options.models[-1]}",
    )
    return [_configmap(options, config)], [predictor]


def _check_tensorflow_journey(options: RenderOptions) -> None:
    """A canary splits two models at the ingress, where TF Serving's API names just one."""
    if options.journey not in TENSORFLOW_JOURNEYS:
        current, candidate = (*options.models, "the candidate")[:2]
        raise RenderError(
            f"{options.journey} makes no sense under --protocol tensorflow: the client names "
            f"the model it calls (/v1/models/<m>:predict), and the ingress would answer a share "
            f"of the requests for {current!r} with {candidate!r}; to compare versions of one "
            "model use `render ab --protocol tensorflow --versions 1,2 --labels stable,canary`"
        )


def _two_predictors(options: RenderOptions) -> list[dict[str, Any]]:
    _need(len(options.models) == 2, f"{options.journey} needs two --model: current, candidate")
    main = _single_model_predictor(options, "main", options.models[0])
    second_name = "canary" if options.journey == "canary" else "shadow"
    second = _single_model_predictor(options, second_name, options.models[1])
    if options.journey == "canary":
        _need(
            len(options.traffic) == 2 and sum(options.traffic) == 100,
            "--traffic takes two shares that sum to 100, e.g. 90,10",
        )
        main["traffic"], second["traffic"] = options.traffic
    else:
        main["traffic"] = 100
        second["shadow"] = True
    return [main, second]


def render(options: RenderOptions) -> list[dict[str, Any]]:
    """The documents for one journey: ConfigMaps first, then the SeldonDeployment."""
    _need(options.journey in JOURNEYS, "journey is one of " + ", ".join(JOURNEYS))
    _need(bool(options.models), "name at least one --model")
    _need(options.transport in ("grpc", "rest"), "--transport is grpc or rest")
    _need(options.protocol in PROTOCOLS, "--protocol is one of " + ", ".join(PROTOCOLS))
    if options.protocol == "tensorflow":
        _check_tensorflow_journey(options)
    _need(options.replicas >= 0, "--replicas must be 0 or more")
    if options.autoscaling:
        scaling = options.autoscaling
        _need(
            1 <= scaling.min_replicas <= scaling.max_replicas,
            "--hpa MIN:MAX needs 1 <= MIN <= MAX",
        )
    extra: list[dict[str, Any]] = []
    if options.journey == "single":
        _need(len(options.models) == 1, "single serves one --model")
        predictors = [_single_model_predictor(options, "default", options.models[0])]
    elif options.journey in ("canary", "shadow"):
        predictors = _two_predictors(options)
    else:
        build = {"ab": _ab, "bandit": _bandit, "ensemble": _ensemble}[options.journey]
        extra, predictors = build(options)
    metadata: dict[str, Any] = {"name": options.name}
    if options.namespace:
        metadata["namespace"] = options.namespace
    deployment = {
        "apiVersion": "machinelearning.seldon.io/v1",
        "kind": "SeldonDeployment",
        "metadata": metadata,
        "spec": {"protocol": options.protocol, "predictors": predictors},
    }
    return [*extra, deployment]
