"""The ``synth`` command line: thin wrappers, one per library function (see ``synth.stages``).

One module per command, named after the function that implements it (``synth train-decoder`` is
``train_decoder.py``; ``synth list`` is ``list_datasets.py``, ``list`` being a builtin), and one per command group
(``annotate``, ``registry``, ``real-data``): docs/extending.md, "Adding a command"; tests/test_cli_help.py checks it.
Arguments and options more than one command takes are in ``options.py``.
"""

from synth.cli import (  # noqa: F401 - importing registers the commands
    annotate,
    build,
    check,
    check_labels,
    decode,
    evaluate,
    export,
    export_photos,
    list_datasets,
    mix,
    preview,
    publish,
    real_data,
    registry,
    report,
    review,
    stylize,
    synthesize,
    target,
    train_decoder,
    train_generator,
    validate,
    validate_variants,
)
from synth.cli.app import app, main
from synth.cli.help import organize

organize(app)

__all__ = ["app", "main"]
