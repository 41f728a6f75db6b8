"""How this project's small training jobs use torch: thread count and device. torch is imported inside."""

from __future__ import annotations

from contextlib import contextmanager

NUMERICS_THREADS = 1
"""torch threads that generation and decoding compute on, in every executor. A float's bytes depend on it:
oneDNN picks its convolution blocking, and ATen splits large reductions, by thread count (measured: the tiny
SD's shards and fashion-datasetgan's last partial batch differ between 1 and 2 threads). One is what a Ray
worker gets anyway, and what many parallel workers want; docs/reproducibility.md."""


def torch_threads() -> None:
    """Training here is small: one thread by default keeps a shared machine usable and was faster than two
    under contention (SYNTH_TORCH_THREADS overrides). Results are reproducible for a given thread count."""
    import os

    import torch

    torch.set_num_threads(int(os.environ.get("SYNTH_TORCH_THREADS", "1")))


def resolve_device(name: str):
    """``auto``: the GPU when torch sees one, else the CPU."""
    import torch

    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        from synth.errors import UserError

        raise UserError("device: 'cuda' was asked for but torch sees no GPU (use 'auto' or 'cpu')")
    return torch.device(name)


@contextmanager
def fixed_threads(count: int | None):
    """Run the block on ``count`` torch threads (None: as the process is), then restore the caller's setting.

    Set on the thread that computes: executors call it inside the thread that runs a shard's work.
    """
    if count is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)
