"""``synth evaluate``: the usefulness score (mIoU of a segmenter trained per variant)."""

from __future__ import annotations

from synth.cli.app import ROOT, app, echo, load
from synth.cli.options import NAME, QUIET_TRAINING


@app.command()
def evaluate(name: NAME, quiet: QUIET_TRAINING = False) -> None:
    """Train a small segmentation net per variant and write mIoU on the eval set to reports/NAME/evaluate.json ({}
    for a recipe with `evaluate: null`)."""
    from synth.stages.evaluate import evaluate as run

    metrics = run(load(name), ROOT, log=(lambda m: None) if quiet else echo)
    if not metrics:
        echo(f"evaluate: {name} is not scored (`evaluate: null`); reports/{name}/evaluate.json is {{}}")
        return
    echo("evaluate: " + ", ".join(f"{k} mIoU {v:.4f}" for k, v in metrics["miou"].items()))
