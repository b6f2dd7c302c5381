"""What `up` lets a manifest run on this machine: our classes, and what the user names.

On a cluster a graph node runs in a pod, from the image its manifest names. `up` instead
imports the node's MODEL_NAME on this machine and calls it with the node's parameters, as the
user, with the container's env: a YAML naming `subprocess.Popen`, or setting LD_PRELOAD or
PYTHONPATH, would run whatever it likes. So by default `up` runs only seldon_tfserving's graph
classes, refuses env that chooses which code runs (deploy/code_loading_env), and runs anything
else only when the user names it on the command line:

- `--allow-class NAME`: a class (`my_models.iris.IrisModel`, or s2i's bare `IrisModel`), or
  every class under a module or package (`my_models.iris`, `my_models`); the name is matched
  whole, dot by dot, so `my` allows `my.Model` and `my.sub.Model` but not `my_other.Model`;
- `--allow-env NAME`: a variable of that list, passed on from every container that sets it.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from seldon_tfserving.classes import PACKAGE
from seldon_tfserving.deploy.code_loading_env import code_loading_reason
from seldon_tfserving.deploy.components import COMPONENTS
from seldon_tfserving.runner.errors import PlanError

#: Every spelling of our classes' MODEL_NAME that imports them from this package.
OUR_CLASSES = frozenset(
    name
    for seldon_class in COMPONENTS.values()
    for name in (seldon_class.interface, f"{seldon_class.module}.{seldon_class.name}")
)
_DOTTED_NAME = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")
_ENV_NAME = re.compile(r"[A-Za-z_]\w*")


def class_name(text: str) -> str:
    """An `--allow-class` value: a dotted Python name (ValueError otherwise)."""
    if not _DOTTED_NAME.fullmatch(text):
        raise ValueError(f"{text!r} is not a class or module name such as my_models.IrisModel")
    return text


def env_name(text: str) -> str:
    """An `--allow-env` value: an environment variable's name (ValueError otherwise)."""
    if not _ENV_NAME.fullmatch(text):
        raise ValueError(f"{text!r} is not an environment variable's name such as LD_PRELOAD")
    return text


@dataclass(frozen=True)
class TrustedCode:
    """The classes and code-loading env `up` runs beyond its own classes (none by default)."""

    classes: frozenset[str] = frozenset()
    env: frozenset[str] = frozenset()

    @classmethod
    def allowing(cls, classes: Collection[str] = (), env: Collection[str] = ()) -> TrustedCode:
        return cls(frozenset(classes), frozenset(env))

    def allows_class(self, model_name: str) -> bool:
        """Ours, or named by `--allow-class` (itself or a module or package above it)."""
        if model_name in OUR_CLASSES:
            return True
        return any(model_name == n or model_name.startswith(f"{n}.") for n in self.classes)

    def check_container(self, node: str, model_name: str, env: Mapping[str, str]) -> None:
        """PlanError when the container of `node` (how a message names the graph node) would
        run a class or an env that was not allowed, naming it and the flag that allows it."""
        if not self.allows_class(model_name):
            raise PlanError(f"{node} runs {model_name!r}, {self._class_refusal(model_name)}")
        for name, value in env.items():
            reason = code_loading_reason(name, value)
            if reason is not None and name not in self.env:
                raise PlanError(
                    f"{node}: its container sets {name}, which {reason}; `up` runs containers "
                    f"on this machine as you, so it passes {name} on only when you name it: "
                    f"--allow-env {name}"
                )

    @staticmethod
    def _class_refusal(model_name: str) -> str:
        module, dot, _ = model_name.rpartition(".")
        which = f"--allow-class {model_name}" + (
            f" (or its module: --allow-class {module})" if dot else ""
        )
        ours = COMPONENTS.get(model_name)
        hint = (
            f"; for ours write {ours.interface} (a bare name is imported from the working "
            f"directory)"
            if ours is not None and not dot
            else ""
        )
        return (
            f"which is not one of {PACKAGE}'s graph classes: `up` imports a node's MODEL_NAME "
            f"and runs it on this machine as you, so it runs another class only when you name "
            f"it: {which}{hint}"
        )


#: The default: seldon_tfserving's graph classes, and no code-loading env.
ONLY_OURS = TrustedCode()
