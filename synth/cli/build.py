"""``synth build``: the Hub-ready dataset in build/NAME."""

from __future__ import annotations

from typing import Annotated

import typer

from synth.cli.app import ROOT, app, echo, load
from synth.cli.options import NAME


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
