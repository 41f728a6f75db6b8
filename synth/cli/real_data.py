"""``synth real-data ...``: write the committed real image sets (not a DVC stage: their files are committed)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from synth.cli.app import app, echo

real_data = typer.Typer(
    help="Write real labeled image sets (evaluation sets, real-data baselines).", no_args_is_help=True
)
app.add_typer(real_data, name="real-data")


@real_data.command("fashion-mnist")
def fashion_mnist(
    out: Annotated[Path, typer.Option(help="Folder for eval.parquet, train.parquet and README.md.")] = Path(
        "real/fashion-mnist"
    ),
    count: Annotated[int, typer.Option(help="Canvases per set.")] = 1000,
    root: Annotated[Path, typer.Option(help="Folder with the four Fashion-MNIST idx .gz files.")] = Path(
        "/usr/share/datasets/fashion-mnist"
    ),
) -> None:
    """Compose 64x64 Fashion-MNIST scenes: eval.parquet from the test split, train.parquet from the train split."""
    from synth.realdata.fashion_mnist import write_real_sets

    for path in write_real_sets(out, count=count, root=root):
        echo(f"real-data: wrote {path}")
