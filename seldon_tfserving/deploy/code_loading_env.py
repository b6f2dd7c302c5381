"""Container env that chooses which code a process runs: the manifest's say over the image's.

Each variable here makes the dynamic loader, Python, OpenSSL or a shell load or run code from
where the value points, so whoever writes the manifest decides what the container executes,
whatever its image holds. On a cluster that is the image owner's call, so `validate` warns;
`up` runs containers on the user's own machine as the user, and refuses them unless the user
names them (`--allow-env`). Variables that only tune a process (PYTHONUNBUFFERED, TF_CPP_*,
GUNICORN_THREADS) are left alone; GUNICORN_CMD_ARGS is not listed because seldon-core's
gunicorn application class never reads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from seldon_tfserving.deploy.findings import Finding, warning

#: Variable -> what it makes a process load or run (the reason it is listed).
CODE_LOADING_ENV: Mapping[str, str] = {
    "LD_PRELOAD": "makes the dynamic loader load these libraries into every program first",
    "LD_LIBRARY_PATH": "makes the dynamic loader take shared libraries from here first",
    "LD_AUDIT": "makes the dynamic loader load these auditing libraries into every program",
    "GCONV_PATH": "makes glibc load character-set converter modules (shared libraries) from here",
    "PYTHONPATH": "makes Python import modules from here before the installed ones",
    "PYTHONHOME": "makes Python take its standard library from here",
    "PYTHONPLATLIBDIR": "changes where Python finds its standard library's modules",
    "PYTHONUSERBASE": "makes Python read .pth files from here, which run code at start-up",
    "PYTHONSTARTUP": "makes an interactive Python run this file",
    "PYTHONPYCACHEPREFIX": "makes Python load compiled modules from here",
    "PYTHONBREAKPOINT": "makes breakpoint() import and call what it names",
    "TF_PLUGGABLE_DEVICE_LIBRARY_PATH": "makes TensorFlow load device plug-ins "
    "(shared libraries) from here when it is imported",
    "OPENSSL_CONF": "makes OpenSSL read this config, which can load engines and providers "
    "(shared libraries)",
    "OPENSSL_ENGINES": "makes OpenSSL load engines (shared libraries) from here",
    "OPENSSL_MODULES": "makes OpenSSL load providers (shared libraries) from here",
    "BASH_ENV": "makes every non-interactive bash run this file first",
    "FLASK_DEBUG": "turns on Werkzeug's debugger (a Python console for whoever reaches the "
    "port) when seldon-core serves with Flask's development server (SELDON_DEBUG)",
}

#: Python's warning filters import the module a dotted category names (`::pkg.mod.Warning`).
PYTHONWARNINGS = "PYTHONWARNINGS"
_WARNINGS_REASON = "makes Python import the module its category names"


def code_loading_reason(name: str, value: str) -> str | None:
    """Why the variable `name=value` chooses code the process runs; None when it does not."""
    if name in CODE_LOADING_ENV:
        return CODE_LOADING_ENV[name]
    if name == PYTHONWARNINGS and _names_a_module(value):
        return _WARNINGS_REASON
    return None


def _names_a_module(filters: str) -> bool:
    """Whether a filter (`action:message:category:module:lineno`) has a dotted category."""
    for text in filters.split(","):
        fields = text.split(":")
        if len(fields) > 2 and "." in fields[2].strip():
            return True
    return False


def check_code_loading_env(doc: Mapping[str, Any]) -> list[Finding]:
    """A warning for each literal env entry of each pod's containers that chooses code."""
    findings: list[Finding] = []
    for p, predictor in enumerate((doc.get("spec") or {}).get("predictors") or ()):
        for s, component_spec in enumerate(predictor.get("componentSpecs") or ()):
            pod = component_spec.get("spec") or {}
            path = f"spec.predictors[{p}].componentSpecs[{s}].spec"
            for group in ("initContainers", "containers"):
                for c, container in enumerate(pod.get(group) or ()):
                    findings += _container_findings(container, f"{path}.{group}[{c}]")
    return findings


def _container_findings(container: Mapping[str, Any], path: str) -> list[Finding]:
    findings = []
    for index, entry in enumerate(container.get("env") or ()):
        if not isinstance(entry, Mapping) or "value" not in entry:
            continue  # valueFrom: known only when the pod starts
        name, value = str(entry.get("name")), str(entry["value"])
        reason = code_loading_reason(name, value)
        if reason is None:
            continue
        findings.append(
            warning(
                f"{path}.env[{index}]",
                f"container {container.get('name')!r} sets {name}, which {reason}: the "
                f"manifest, not the image, chooses code that runs there",
                f"leave {name} to the image (its ENV) unless its owner means the manifest to "
                f"set it; `up` runs it only with --allow-env {name}",
            )
        )
    return findings
