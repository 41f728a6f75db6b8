"""Commands for versions: publish to the Hub, the registry of what was published, review of recipe changes."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from synth.cli.app import ROOT, app, echo, load

NAME = Annotated[str, typer.Argument(help="Recipe name (recipes/NAME.yaml).")]


@app.command()
def publish(
    name: NAME,
    force: Annotated[
        bool, typer.Option(help="Publish even though validation failed (the card says unvalidated).")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would be uploaded and the tag; upload nothing.")
    ] = False,
) -> None:
    """Upload build/NAME to the recipe's hub_repo as one commit, tag it v<version>, record it in registry/."""
    from synth.publish.hub import publish as run

    for line in run(load(name), ROOT, force=force, dry_run=dry_run).lines():
        typer.echo(line)


registry_app = typer.Typer(help="What was published: versions, Hub commits and lineage (registry/*.json).")
app.add_typer(registry_app, name="registry")


@registry_app.callback(invoke_without_command=True)
def registry_list(ctx: typer.Context) -> None:
    """Every dataset: recipe version, latest published version and commit, hub repo, samples, validation."""
    if ctx.invoked_subcommand is not None:
        return
    from rich.console import Console
    from rich.table import Table

    from synth.catalog import all_statuses
    from synth.publish.registry import latest, read_entry

    table = Table("dataset", "recipe version", "published", "hub commit", "hub repo", "samples per split", "validation")
    for status in all_statuses(ROOT):
        entry = read_entry(ROOT, status.name)
        last = latest(entry)
        splits = ", ".join(f"{k} {v}" for k, v in (last or {}).get("splits", {}).items()) or "-"
        table.add_row(
            status.name,
            status.version,
            last["tag"] if last else "-",
            (last["hub_commit"][:12] if last else "-"),
            entry.get("hub_repo", "-"),
            splits,
            status.validation,
        )

    Console(width=None if sys.stdout.isatty() else 160).print(table)


@registry_app.command("show")
def registry_show(name: NAME) -> None:
    """Version history of one dataset with its lineage."""
    from synth.errors import UserError
    from synth.publish.registry import read_entry, registry_file

    entry = read_entry(ROOT, name)
    if not entry["versions"]:
        raise UserError(f"{registry_file(ROOT, name)}: {name} has never been published")
    typer.echo(f"{name} on {entry.get('hub_repo')}")
    for v in reversed(entry["versions"]):
        generator = v.get("generator", {})
        typer.echo(
            f"  {v['tag']}  hub {v['hub_commit'][:12]}  git {v['git_commit'][:12]}  recipe {v['recipe_hash'][:12]}  "
            f"content {v['content_hash'][:12]}  {generator.get('generator')} {generator.get('model')}@{generator.get('revision')}  "
            f"{'validated' if v['validated'] else 'UNVALIDATED'}  {json.dumps(v['splits'])}"
        )


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
