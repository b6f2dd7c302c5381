"""The generated test models are real SavedModels in `<base>/<name>/<version>/`."""

from __future__ import annotations

from pathlib import Path

from tests.savedmodels import GENERATED_MODELS, GENERATED_VERSION


def test_every_generated_model_is_a_saved_model_in_a_version_directory(
    generated_models: Path,
) -> None:
    for name in GENERATED_MODELS:
        version_dir = generated_models / name / str(GENERATED_VERSION)
        assert (version_dir / "saved_model.pb").stat().st_size > 0, name
        assert (version_dir / "variables").is_dir(), name
