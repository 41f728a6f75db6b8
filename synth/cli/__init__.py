"""The ``synth`` command line: thin wrappers, one per library function (see ``synth.stages``)."""

from synth.cli import (  # noqa: F401 - importing registers the commands
    datasetgan,
    generation,
    optional_stages,
    outputs,
    publish,
    recipes,
    validate,
)
from synth.cli.app import app, main

__all__ = ["app", "main"]
