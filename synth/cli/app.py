"""The typer application and the one place where user errors become a single line and exit code 2."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from typer._click.exceptions import ClickException, UsageError

from synth.errors import UserError

app = typer.Typer(
    name="synth",
    help="Manufacture versioned, pixel-labeled segmentation datasets from generative models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

ROOT = Path(".")  # commands run in the project root, next to dvc.yaml, as DVC runs them


def load(name: str, model_files: bool = True):
    """Every command validates its recipe first, the same way ``synth check`` does (``model_files=False``: all
    but the checks that read the generator's files; the command runs ``check_model_files`` before it makes
    anything)."""
    from synth.recipe import load_recipe

    return load_recipe(name, ROOT, model_files=model_files)


def echo(message: str) -> None:
    typer.echo(message, err=True)


def main(argv: list[str] | None = None) -> None:
    try:
        code = app(args=argv, prog_name="synth", standalone_mode=False)
    except UserError as error:
        for line in str(error).splitlines() or ["error"]:
            print(line if ": " in line else f"synth: {line}", file=sys.stderr)
        sys.exit(error.exit_code)
    except typer.Abort:
        print("synth: aborted", file=sys.stderr)
        sys.exit(130)
    except UsageError as error:
        if not error.format_message():  # no arguments: the help was already shown
            sys.exit(2)
        where = error.ctx.command_path if error.ctx is not None else "synth"
        print(f"{where}: {error.format_message()} (see --help)", file=sys.stderr)
        sys.exit(2)
    except ClickException as error:
        print(f"synth: {error.format_message()}", file=sys.stderr)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        print("synth: interrupted; finished shards are kept, rerun to resume", file=sys.stderr)
        sys.exit(130)
    if isinstance(code, int) and code:
        sys.exit(code)
