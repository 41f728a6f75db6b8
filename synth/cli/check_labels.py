"""``synth check-labels PATH --out FILE``: audit the masks of any Hub-layout dataset folder without ground truth."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from synth.cli.app import app, echo, load
from synth.errors import UserError


def settings_from_options(
    recipe: str | None,
    plain_background: bool | None,
    judge: str | None,
    judge_model: str | None,
    judge_revision: str | None,
    rank: bool,
    rank_steps: int | None,
):
    """The label-check settings: a recipe's ``validation:`` (as its gate uses them) or the defaults, then the
    options given on top."""
    from pydantic import ValidationError

    from synth.labelcheck.config import JUDGES, LabelCheckSettings, RankingSettings

    base = LabelCheckSettings() if recipe is None else load(recipe).validation
    values = {k: getattr(base, k) for k in LabelCheckSettings.model_fields}
    if plain_background is not None:
        values["plain_background"] = plain_background
    if judge is not None:
        if judge not in JUDGES:
            raise UserError(f"--judge {judge}: unknown judge; one of {', '.join(sorted(JUDGES))}")
        fields = {"type": judge}
        if judge_model is not None:
            fields["model" if judge == "clip" else "path"] = judge_model
        if judge_revision is not None:
            fields["revision"] = judge_revision
        try:
            values["judge"] = JUDGES[judge](**fields)
        except ValidationError as error:
            problem = error.errors()[0]
            where = ".".join(str(p) for p in problem["loc"])
            raise UserError(f"--judge {judge}: {where}: {problem['msg']} (give --judge-model)") from None
    if not rank:
        values["ranking"] = None
    elif values["ranking"] is None or rank_steps is not None:
        current = values["ranking"] or RankingSettings()
        values["ranking"] = current.model_copy(update={} if rank_steps is None else {"steps": rank_steps})
    return LabelCheckSettings(**values)


@app.command("check-labels")
def check_labels(
    path: Annotated[Path, typer.Argument(help="Dataset folder in the Hub layout (Parquet + id2label.json).")],
    out: Annotated[Path, typer.Option(help="File to write: .parquet or .csv, one row per sample.")],
    recipe: Annotated[
        str | None, typer.Option(help="Use this recipe's validation: thresholds and judge (as its gate does).")
    ] = None,
    plain_background: Annotated[
        bool | None, typer.Option("--plain-background/--no-plain-background", help="Check labels on blank ground.")
    ] = None,
    judge: Annotated[str | None, typer.Option(help="clip or fashion-classifier; none: no judge.")] = None,
    judge_model: Annotated[str | None, typer.Option(help="CLIP folder or Hub id; the classifier's file.")] = None,
    judge_revision: Annotated[str | None, typer.Option(help="Hub revision of the CLIP model.")] = None,
    rank: Annotated[bool, typer.Option("--rank/--no-rank", help="cleanlab ranking with K-fold cross-fitting.")] = True,
    rank_steps: Annotated[int | None, typer.Option(min=1, help="Training steps per fold of the ranking.")] = None,
) -> None:
    """Score every sample's mask against its image (boundaries, plain background, judge, cleanlab): lower = more
    likely wrong; flagged samples are those the build's gate would exclude."""
    from synth.stages.check_labels import check_labels as run

    settings = settings_from_options(recipe, plain_background, judge, judge_model, judge_revision, rank, rank_steps)
    echo(run(path, out, settings).summary())
