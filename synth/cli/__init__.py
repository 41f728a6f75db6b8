"""The ``synth`` command line: thin wrappers, one per library function (see ``synth.stages``)."""

from synth.cli import build, export, fewshot, mixing, publish, recipes, report, stages, validate  # noqa: F401 - importing registers the commands
from synth.cli.app import app, main
from synth.cli.help import organize

organize(app)

__all__ = ["app", "main"]
