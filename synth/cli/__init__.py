"""The ``synth`` command line: thin wrappers, one per library function (see ``synth.stages``)."""

from synth.cli import (  # noqa: F401 - importing registers the commands
    check_labels,
    datasetgan,
    export,
    generation,
    optional_stages,
    outputs,
    publish,
    realdata,
    recipes,
    report,
    train_generator,
    validate,
    validate_variants,
)
from synth.cli.app import app, main
from synth.cli.help import organize

organize(app)

__all__ = ["app", "main"]
