"""Arguments and options that several commands share, so each is spelled (and its help worded) once."""

from __future__ import annotations

from typing import Annotated

import typer

NAME = Annotated[str, typer.Argument(help="Recipe name (recipes/NAME.yaml).")]


# --quiet of the sharded stages (a progress bar) and of the stages that train (a progress bar and a log)
QUIET = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]
QUIET_TRAINING = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or training log.")]


# The execution settings of the sharded stages (synthesize, decode): how, never what.
BACKEND = Annotated[
    str, typer.Option(envvar="SYNTH_BACKEND", help="local, or ray (needs the `ray` extra). Never changes a byte.")
]
ADDRESS = Annotated[
    str | None, typer.Option(envvar="SYNTH_RAY_ADDRESS", help="Ray cluster: HOST:PORT, ray://HOST:PORT or auto.")
]
WORKERS = Annotated[
    int | None,
    typer.Option(
        envvar="SYNTH_WORKERS",
        min=1,
        help="Parallel workers, each loading the model once: Ray actors (default 2), or local one-thread "
        "processes (default one per CPU core, at most one per shard). Never changes a byte.",
    ),
]
GPUS = Annotated[float, typer.Option(envvar="SYNTH_GPUS_PER_WORKER", min=0, help="GPUs each Ray actor reserves.")]
STORE = Annotated[
    str | None,
    typer.Option(
        envvar="SYNTH_STORE",
        help="Ray workers put shards here (s3://bucket/prefix, file:// or a path); "
        "the driver copies them into data/NAME. Never changes a byte; never cleaned up by synth.",
    ),
]


def backend_options(backend: str, address: str | None, workers: int | None, gpus: float, store: str | None) -> dict:
    """Check the execution settings; the options the backend takes (local: its worker processes, None is one per
    core)."""
    from synth.backends import BACKENDS
    from synth.errors import UserError

    if backend not in BACKENDS:
        raise UserError(f"--backend {backend}: unknown backend; choose one of {', '.join(BACKENDS)}")
    for option, value in (("--address", address), ("--store", store)):
        if backend == "local" and value is not None:
            raise UserError(f"{option}: only meaningful with --backend ray")
    if backend == "ray":
        return {"address": address, "workers": workers or 2, "gpus_per_worker": gpus, "store": store}
    return {"workers": workers}
