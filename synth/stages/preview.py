"""The preview stage: a contact sheet of samples with their masks, for people and for ``dvc plots diff``."""

from __future__ import annotations

from pathlib import Path

from synth.core.atomic import write_atomic
from synth.core.paths import DatasetPaths
from synth.recipe import Recipe
from synth.report.contact_sheet import contact_sheet


def preview(recipe: Recipe, root: Path = Path("."), count: int = 8) -> Path:
    paths = DatasetPaths(Path(root), recipe.name)
    sheet = contact_sheet(recipe, root, count)
    write_atomic(paths.preview, lambda tmp: sheet.save(tmp, format="PNG"))
    return paths.preview
