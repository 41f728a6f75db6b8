"""The ``synth`` command line: thin wrappers, one per library function (see ``synth.stages``)."""

from synth.cli import build, fewshot, mixing, publish, realdata, recipes, stages, validate  # noqa: F401 - importing registers the commands
from synth.cli.app import app, main

__all__ = ["app", "main"]
