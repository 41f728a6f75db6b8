"""How this project's small training jobs use torch: thread count and device. torch is imported inside."""

from __future__ import annotations


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
