"""``synth list``: every recipe and the state of its data (the function is named so: ``list`` is a builtin)."""

from __future__ import annotations

import sys

from synth.cli.app import ROOT, app


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
