"""``synth stylize``: the optional stage that moves images toward the target domain's look."""

from __future__ import annotations

from synth.cli.app import ROOT, app, echo, load
from synth.cli.options import NAME, QUIET_TRAINING


@app.command()
def stylize(name: NAME, quiet: QUIET_TRAINING = False) -> None:
    """Move images toward the target domain's look (masks unchanged; method cut trains its translator first) into
    data/NAME/stylized."""
    from synth.stages.stylize import stylize as run

    report = run(load(name), ROOT, show_progress=not quiet, log=(lambda m: None) if quiet else echo)
    d, edges = report.metrics["domain_distance"], report.metrics["edge_agreement"]
    echo(
        report.summary("stylize")
        + f"; domain distance {d['before']:.3f} -> {d['after']:.3f}; edge agreement {edges if edges is not None else 'n/a'}"
    )
