"""``synth decode``: samples' label evidence to masks (locally or on Ray, see synth/backends)."""

from __future__ import annotations

from synth.cli.app import ROOT, app, echo, load
from synth.cli.options import ADDRESS, BACKEND, GPUS, NAME, QUIET, STORE, WORKERS, backend_options


@app.command()
def decode(
    name: NAME,
    quiet: QUIET = False,
    backend: BACKEND = "local",
    address: ADDRESS = None,
    workers: WORKERS = None,
    gpus_per_worker: GPUS = 0.0,
    store: STORE = None,
) -> None:
    """Turn raw label evidence into masks, confidences and per-sample statistics in data/NAME/masks."""
    from synth.stages.decode import decode as run

    options = backend_options(backend, address, workers, gpus_per_worker, store)
    echo(run(load(name), ROOT, show_progress=not quiet, backend=backend, backend_options=options).summary("decode"))
