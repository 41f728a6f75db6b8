"""``synth export NAME --format coco|voc|cityscapes``: a built dataset in another tool's layout."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from synth.cli.app import ROOT, app, echo, load


@app.command()
def export(
    name: Annotated[str, typer.Argument(help="Recipe name (recipes/NAME.yaml); reads build/NAME.")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="coco, voc or cityscapes.")] = "coco",
    out: Annotated[
        Path | None, typer.Option(help="Folder to write; default exports/NAME/FORMAT (exports/NAME/CONFIG/FORMAT).")
    ] = None,
    config: Annotated[str, typer.Option(help="Dataset config: default, or a variant the build holds (mixed, ...).")] = (
        "default"
    ),
) -> None:
    """Write build/NAME as COCO (RLE per class), Pascal VOC (palette PNGs) or Cityscapes (*_labelIds.png)."""
    from synth.export import export as run

    echo(run(load(name), ROOT, fmt, out, config).summary())
