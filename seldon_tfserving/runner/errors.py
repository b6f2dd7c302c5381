"""The runner's own failures: a manifest it cannot place on this machine, a child that never
became ready. Both are reported to the user as one clear line, never as a traceback."""

from __future__ import annotations


class PlanError(ValueError):
    """The SeldonDeployment cannot be run locally as written (names what and how to fix it)."""


class StartupError(RuntimeError):
    """A backend or component did not become ready (names it and shows its log tail)."""
