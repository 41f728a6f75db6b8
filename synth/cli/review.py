"""``synth review``: Markdown for a pull request about what each changed recipe changes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from synth.cli.app import ROOT, app, echo


@app.command()
def review(
    base: Annotated[str, typer.Option(help="Git revision to compare against (e.g. origin/main).")],
    output: Annotated[Path | None, typer.Option(help="Write the Markdown here instead of stdout.")] = None,
    base_root: Annotated[
        Path | None,
        typer.Option(help="A checkout of BASE holding its data (data/NAME); default: read it through DVC at BASE."),
    ] = None,
    images: Annotated[bool, typer.Option(help="Write reports/NAME/review.png, the same seeds before | after.")] = True,
) -> None:
    """Markdown for a pull request: what each changed recipe changes, and what that does to the data."""
    from synth.errors import UserError
    from synth.publish.review import review_markdown

    if base_root is not None and not (base_root / "dvc.yaml").is_file():
        raise UserError(f"--base-root {base_root}: not a checkout of this project (no dvc.yaml)")
    text = review_markdown(ROOT, base, base_root=base_root, image=images)
    if output:
        output.write_text(text)
        echo(f"review: {output}")
    else:
        typer.echo(text)
