"""``synth annotate ...``: hand samples to annotators and take their masks back (DatasetGAN)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from synth.cli.app import ROOT, app, echo, load
from synth.cli.options import NAME
from synth.core.paths import DatasetPaths

annotate = typer.Typer(help="Human annotations of generated samples (DatasetGAN).", no_args_is_help=True)
app.add_typer(annotate, name="annotate")


@annotate.command("export")
def annotate_export(
    name: NAME,
    count: Annotated[int, typer.Option("--count", "-n", min=1, help="How many samples to hand out.")] = 16,
    out: Annotated[Path | None, typer.Option(help="Folder to write; default reports/NAME/annotate.")] = None,
) -> None:
    """Pick COUNT not-yet-annotated samples covering the taxonomy; write their images and the annotation guide."""
    from synth.decode.datasetgan.annotations import export_for_annotation

    recipe = load(name)
    target = out or DatasetPaths(ROOT, recipe.name).annotation_export
    seeds = export_for_annotation(recipe.context(), recipe.version, ROOT, count, target)
    echo(f"annotate export {recipe.name}: {len(seeds)} images and GUIDE.md in {target}")


@annotate.command("import")
def annotate_import(
    name: NAME,
    folder: Annotated[
        Path, typer.Argument(help="PNG index masks, LabelMe JSON, or a CVAT 'Segmentation mask 1.1' export.")
    ],
) -> None:
    """Check every annotation file and store them all in annotations/NAME (or none, exit 2, one line per bad file)."""
    from synth.decode.datasetgan.annotations import import_annotations

    recipe = load(name)
    seeds = import_annotations(recipe.context(), set(recipe.all_seeds()), ROOT, folder)
    echo(f"annotate import {recipe.name}: {len(seeds)} annotations stored in annotations/{recipe.name}")
