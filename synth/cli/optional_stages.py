"""Commands of the optional stages: mix (HydraMix), target, stylize and evaluate (CSA and the usefulness score)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from synth.cli.app import ROOT, app, echo, load

NAME = Annotated[str, typer.Argument(help="Recipe name (recipes/NAME.yaml).")]
QUIET = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or training log.")]


@app.command()
def mix(name: NAME, quiet: QUIET = False) -> None:
    """Make composites of N source samples (recipe `mix:`) into data/NAME/mixed, masks exact."""
    from synth.stages.mix import mix as run

    echo(run(load(name), ROOT, show_progress=not quiet, log=(lambda m: None) if quiet else echo).summary("mix"))


@app.command()
def target(name: NAME) -> None:
    """Bring the recipe's target-domain images (and labeled eval set) into data/NAME/target."""
    from synth.stages.target import target as run

    echo(run(load(name), ROOT).summary("target"))


@app.command()
def stylize(name: NAME, quiet: QUIET = False) -> None:
    """Move images toward the target domain's look (masks unchanged; method cut trains its translator first) into
    data/NAME/stylized."""
    from synth.stages.stylize import stylize as run

    report = run(load(name), ROOT, show_progress=not quiet, log=(lambda m: None) if quiet else echo)
    d, edges = report.metrics["domain_distance"], report.metrics["edge_agreement"]
    echo(
        report.summary("stylize")
        + f"; domain distance {d['before']:.3f} -> {d['after']:.3f}; edge agreement {edges if edges is not None else 'n/a'}"
    )


@app.command()
def evaluate(name: NAME, quiet: QUIET = False) -> None:
    """Train a small segmentation net per variant and write mIoU on the eval set to reports/NAME/evaluate.json ({}
    for a recipe with `evaluate: null`)."""
    from synth.stages.evaluate import evaluate as run

    metrics = run(load(name), ROOT, log=(lambda m: None) if quiet else echo)
    if not metrics:
        echo(f"evaluate: {name} is not scored (`evaluate: null`); reports/{name}/evaluate.json is {{}}")
        return
    echo("evaluate: " + ", ".join(f"{k} mIoU {v:.4f}" for k, v in metrics["miou"].items()))


@app.command("export-photos")
def export_photos(
    folder: Annotated[Path, typer.Argument(help="Where to write the PNGs.")] = Path("targets/photos"),
) -> None:
    """Write scikit-image's bundled photographs (astronaut, chelsea, coffee, rocket) as unlabeled target images."""
    from synth.adapt.target import export_photos as run

    for path in run(folder):
        typer.echo(str(path))
