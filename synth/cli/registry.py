"""``synth registry [show NAME]``: what was published (registry/*.json)."""

from __future__ import annotations

import json
import sys

import typer

from synth.cli.app import ROOT, app
from synth.cli.options import NAME

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
