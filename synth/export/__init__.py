"""``synth export``: a built dataset (``build/NAME``) in the layouts other tools read: COCO, Pascal VOC, Cityscapes.

The build is the source, never the shards: an export holds exactly the samples a user loads from the Hub, in the
same splits. Each format is a module with ``write(dataset, folder)``, registered by name in ``formats.py``;
``export`` writes into a staging folder and swaps it in, so a failed export leaves nothing half-written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from synth.core.atomic import publish_folder
from synth.core.paths import DatasetPaths
from synth.errors import UserError
from synth.export.formats import EXPORT_FORMATS
from synth.recipe import Recipe

if TYPE_CHECKING:  # the source imports pyarrow.dataset (and so pandas): only `synth export` itself pays for it
    from synth.export.source import BuiltDataset

FORMATS = tuple(EXPORT_FORMATS)
MARKER = ".synth-export.json"  # tells a later export that this folder is ours to replace


@dataclass
class ExportReport:
    folder: Path
    format: str
    counts: dict[str, int]
    notes: list[str]

    def summary(self) -> str:
        splits = ", ".join(f"{s} {n}" for s, n in self.counts.items())
        notes = "".join(f"; {n}" for n in self.notes)
        return f"export {self.format}: {self.folder} ({splits}){notes}"


def _check_target(folder: Path) -> None:
    if folder.exists() and (not folder.is_dir() or (any(folder.iterdir()) and not (folder / MARKER).is_file())):
        raise UserError(f"{folder}: exists and is not an earlier synth export; choose another --out or remove it")


def export(
    recipe: Recipe, root: Path = Path("."), fmt: str = "coco", out: Path | None = None, config: str = "default"
) -> ExportReport:
    """``config``: which dataset config of the build (``default``, or a variant such as ``mixed``)."""
    from synth.export.source import open_build

    if fmt not in FORMATS:
        raise UserError(f"--format {fmt}: unknown format; choose one of {', '.join(FORMATS)}")
    root = Path(root)
    dataset: BuiltDataset = open_build(recipe, DatasetPaths(root, recipe.name).build, config)
    default_folder = root / "exports" / recipe.name / (fmt if config == "default" else f"{config}/{fmt}")
    folder = Path(out) if out is not None else default_folder
    _check_target(folder)
    # ".NAME.exporting-PID": the staging folder's name before synth/core/atomic.py named every one alike
    with publish_folder(folder, legacy=("exporting",)) as staging:
        counts, notes = EXPORT_FORMATS[fmt].writer()(dataset, staging)
        (staging / MARKER).write_text(
            json.dumps({"format": fmt, "dataset": recipe.name, "config": config, "version": recipe.version}) + "\n"
        )
    return ExportReport(folder, fmt if config == "default" else f"{fmt} ({config})", counts, notes)
