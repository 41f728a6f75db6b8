"""``synth check``: validate recipes, every problem as `file: field: what is wrong`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from synth.cli.app import ROOT, app
from synth.errors import RecipeError, UserError


@app.command()
def check(
    paths: Annotated[list[Path] | None, typer.Argument(help="Recipe files; default: every recipes/*.yaml.")] = None,
) -> None:
    """Validate recipes: every problem is printed as `file: field: what is wrong`; exit code 2 if any."""
    from synth.recipe import list_recipe_paths, load_recipe
    from synth.recipe.checks import recipe_notes

    targets = paths or list_recipe_paths(ROOT)
    if not targets:
        raise UserError("recipes/: no recipes found")
    problems: list[str] = []
    for path in targets:
        try:
            recipe = load_recipe(path if path.suffix in (".yaml", ".yml") else str(path), ROOT)
        except RecipeError as error:
            problems.append(str(error))
            continue
        except UserError as error:
            problems.append(str(error))
            continue
        from synth.publish.registry import unbumped_change

        if (problem := unbumped_change(ROOT, recipe)) is not None:
            problems.append(f"{path}: version: {problem}")
            continue
        for loc, note in recipe_notes(recipe):
            typer.echo(f"note {path}: {loc}: {note}", err=True)
        typer.echo(
            f"ok {path}: {recipe.name} {recipe.version}, {len(recipe.taxonomy.classes)} classes, {recipe.num_samples} samples"
        )
    if problems:
        raise UserError("\n".join(problems))
