"""Commands that turn decoded samples into something to look at or ship: build, preview, list."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from synth.cli.app import ROOT, app, echo, load

NAME = Annotated[str, typer.Argument(help="Recipe name (recipes/NAME.yaml).")]


@app.command()
def build(
    name: NAME,
    allow_invalid: Annotated[bool, typer.Option(help="Build even though validation failed; the card says so.")] = False,
) -> None:
    """Write build/NAME: Hub-ready Parquet shards per split, dataset card, id2label.json and lineage.json."""
    import os

    # Before pyarrow loads: its default mimalloc pool keeps the freed shard buffers a build streams through, so
    # peak memory grew with the dataset; the system allocator gives them back.
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    from synth.stages.build import build as run

    echo(run(load(name), ROOT, allow_invalid=allow_invalid).summary())


@app.command()
def preview(
    name: NAME,
    count: Annotated[int, typer.Option(min=1, max=64, help="Samples on the sheet.")] = 8,
) -> None:
    """Write reports/NAME/preview.png: samples, mask overlays and the class legend."""
    from synth.stages.preview import preview as run

    echo(f"preview: {run(load(name), ROOT, count)}")


@app.command("list")
def list_datasets() -> None:
    """Every recipe: version, samples, shards on disk, validation and build status."""
    from rich.console import Console
    from rich.table import Table

    from synth.catalog import all_statuses

    table = Table("recipe", "version", "generator", "samples", "samples shards", "masks shards", "validation", "build")
    for s in all_statuses(ROOT):
        if s.problem:
            table.add_row(s.name, "[red]invalid recipe[/red]", s.problem, "", "", "", "", "")
            continue
        table.add_row(
            s.name,
            s.version,
            s.generator,
            str(s.samples),
            f"{s.samples_shards}/{s.shards_expected}",
            f"{s.masks_shards}/{s.shards_expected}",
            s.validation,
            s.build,
        )
    Console(width=None if sys.stdout.isatty() else 160).print(table)
