"""The preview stage: a contact sheet of samples with their masks, for people and for ``dvc plots diff``.

It shows what the dataset ships: samples the decoder or the label checks leave out of the build (with
judge-checked labels most of a fashion recipe's decoded samples, mostly ignore) are the report's own section,
never the preview's, as on the card."""

from __future__ import annotations

from pathlib import Path

from synth.core.atomic import write_atomic
from synth.core.paths import DatasetPaths
from synth.recipe import Recipe
from synth.report.contact_sheet import contact_sheet
from synth.store.exclusions import read_build_exclusions


def preview(recipe: Recipe, root: Path = Path("."), count: int = 8) -> Path:
    paths = DatasetPaths(Path(root), recipe.name)
    sheet = contact_sheet(recipe, root, count, leave_out=set(read_build_exclusions(paths)))
    write_atomic(paths.preview, lambda tmp: sheet.save(tmp, format="PNG"))
    return paths.preview
