"""The one training loop of every segmenter: AdamW, a cosine schedule over the run, one loss per step.

The usefulness score's supervised runs, CSA adaptation and the few-shot bench differ only in how a step's loss
is made (and CSA in what follows each step: its EMA teacher), so that is what they pass in; the optimiser,
schedule and step order live here once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

WEIGHT_DECAY = 1e-4


def fit(
    parameters: Iterable[torch.nn.Parameter],
    steps: int,
    lr: float,
    step_loss: Callable[[int], torch.Tensor],
    after_step: Callable[[int], None] | None = None,
) -> None:
    """Run ``steps`` optimiser steps on ``parameters``: ``step_loss(step)`` makes the loss of a step (drawing its
    batch), then backward, AdamW step, cosine learning-rate step, then ``after_step(step)`` if given."""
    import torch

    opt = torch.optim.AdamW(parameters, lr=lr, weight_decay=WEIGHT_DECAY)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    for step in range(steps):
        loss = step_loss(step)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if after_step is not None:
            after_step(step)
