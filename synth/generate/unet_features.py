"""In-pass UNet features: decoder-block activations recorded while the image is being generated.

DDPM-Seg and DatasetDM read a diffusion UNet's up-block outputs at a few timesteps as per-pixel features. When
the image comes from that same UNet, the denoising pass that makes it already computes those activations at the
steps whose timesteps were chosen; forward hooks keep them, so the features cost no second UNet pass and no
VAE re-encode of the finished image.

Storing them raw is out of the question (SD 1.5 at 512 px: 3,520 up-block channels at 64x64 in fp16 is
~29 MB per timestep per image), so they are reduced as they arrive: each (timestep, block) activation,
conditional half only, is scaled to unit RMS (so a block's share does not depend on its activation scale),
multiplied by its slice of a seeded Gaussian projection (Johnson-Lindenstrauss: distances between pixel
features survive up to a small distortion), resized to the stored grid and added into one running sum of
``dim x r x r`` per image. Projection and resizing are both linear and act on different axes, so the sum equals
projecting the concatenation of every upsampled activation, which is never built.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from synth.errors import UserError

if TYPE_CHECKING:
    from synth.generate.unet_feature_settings import UNetFeatureSettings


def denoising_timesteps(scheduler, steps: int) -> list[float]:
    """The timesteps the pipeline will run for ``steps`` steps, from a fresh copy of its scheduler."""
    fresh = type(scheduler).from_config(scheduler.config)
    fresh.set_timesteps(steps)
    return [float(t) for t in fresh.timesteps]


def select_steps(requested: list[int], schedule: list[float]) -> list[float]:
    """For each requested training timestep, the schedule's timestep nearest to it (first on ties).

    A 50-step DDIM schedule has no t = 50 (it runs ..., 61, 41, 21, 1); the nearest step is what DDPM-Seg's
    choice means for a pipeline that never visits t exactly. Two requests on one step would store the same
    activations twice, so that is refused.
    """
    chosen: list[float] = []
    for t in requested:
        value = min(schedule, key=lambda s: abs(s - t))
        if value in chosen:
            other = requested[chosen.index(value)]
            raise UserError(
                f"generator.features.timesteps: {other} and {t} both fall on the denoising step at "
                f"t={value:g} of this {len(schedule)}-step schedule; pick timesteps further apart"
            )
        chosen.append(value)
    return chosen


def projection_matrices(seed: int, dim: int, channels: list[int], timesteps: int) -> list[torch.Tensor]:
    """One ``dim x C`` Gaussian matrix per (timestep, block) group, in timestep-major order, from one seed.

    Scaled by 1/sqrt(C * groups) so that unit-RMS inputs give outputs of about unit variance (safe in fp16).
    """
    generator = torch.Generator().manual_seed(seed)
    groups = len(channels) * timesteps
    return [
        torch.randn(dim, c, generator=generator) / math.sqrt(c * groups) for _ in range(timesteps) for c in channels
    ]


def unit_rms(activation: torch.Tensor) -> torch.Tensor:
    """Per sample: divide (n, C, h, w) by its RMS over channels and pixels."""
    return activation / activation.pow(2).mean(dim=(1, 2, 3), keepdim=True).sqrt().clamp_min(1e-6)


def resize(maps: torch.Tensor, side: int) -> torch.Tensor:
    if maps.shape[-1] == side and maps.shape[-2] == side:
        return maps
    return F.interpolate(maps, size=(side, side), mode="bilinear", align_corners=False, antialias=True)


def reduce_group(activation: torch.Tensor, matrix: torch.Tensor, side: int) -> torch.Tensor:
    """One (timestep, block) group's share of the stored map: (n, C, h, w) -> (n, dim, side, side), float32.

    Projecting before resizing touches ``dim`` channels instead of C at the block's own resolution (cheaper
    whenever dim < C) and gives the same result, both maps being linear.
    """
    with torch.no_grad():
        projected = torch.einsum("dc,nchw->ndhw", matrix.to(activation.device), unit_rms(activation.float()))
        return resize(projected, side)


class FeatureRecorder:
    """Forward hooks on the UNet that add each chosen step's up-block outputs into the per-image running sum.

    A pre-hook on the UNet reads the timestep of every call (the pipeline makes one call per step, both
    guidance branches in one batch); the up-block hooks record only when that timestep is a chosen one, and
    only its first occurrence (PNDM repeats a timestep).
    """

    def __init__(self, unet, settings: UNetFeatureSettings, scheduler, steps: int, latent_side: int, guided: bool):
        limit = scheduler.config.num_train_timesteps
        bad = [t for t in settings.timesteps if not 0 <= t < limit]
        if bad:
            raise UserError(f"generator.features.timesteps: {bad} outside 0..{limit - 1}")
        n_blocks = len(unet.up_blocks)
        self.blocks = list(range(n_blocks)) if settings.blocks is None else list(settings.blocks)
        wrong = [b for b in self.blocks if not 0 <= b < n_blocks]
        if wrong or len(set(self.blocks)) != len(self.blocks):
            raise UserError(
                f"generator.features.blocks: {self.blocks} must be distinct indices in 0..{n_blocks - 1} "
                f"(the UNet has {n_blocks} up blocks)"
            )
        channels = list(reversed(unet.config.block_out_channels))  # up block i outputs these, as diffusers builds it
        self.channels = [channels[b] for b in self.blocks]
        self.settings = settings
        self.timesteps = select_steps(settings.timesteps, denoising_timesteps(scheduler, steps))
        self.matrices = projection_matrices(settings.seed, settings.dim, self.channels, len(self.timesteps))
        self.side = settings.resolution or latent_side
        self.guided = guided
        self.recording = False
        self.current: int | None = None  # index into self.timesteps while a chosen step runs
        self.done: set[int] = set()
        self.total: torch.Tensor | None = None
        self.groups_added = 0
        self._hooks = [unet.register_forward_pre_hook(self._on_unet_call, with_kwargs=True)]
        self._hooks += [unet.up_blocks[b].register_forward_hook(self._on_block(i)) for i, b in enumerate(self.blocks)]

    @property
    def raw_channels(self) -> int:
        """Channels per pixel before the projection: every chosen block at every chosen timestep."""
        return sum(self.channels) * len(self.timesteps)

    def describe(self) -> dict:
        return {
            "timesteps": list(self.settings.timesteps),
            "steps_at": self.timesteps,
            "blocks": self.blocks,
            "raw_channels": self.raw_channels,
            "dim": self.settings.dim,
            "resolution": self.side,
            "projection": "gaussian",
            "seed": self.settings.seed,
        }

    def start(self) -> None:
        self.recording, self.current, self.done, self.total, self.groups_added = True, None, set(), None, 0

    def _on_unet_call(self, module, args, kwargs):
        if not self.recording:
            return None
        timestep = kwargs["timestep"] if "timestep" in kwargs else args[1]
        value = float(torch.as_tensor(timestep).flatten()[0])
        self.current = None
        for index, t in enumerate(self.timesteps):
            if abs(value - t) < 1e-3 and index not in self.done:
                self.current = index
                self.done.add(index)
        return None

    def _on_block(self, position: int):
        def record(module, inputs, output):
            if not self.recording or self.current is None:
                return
            hidden = output[0] if isinstance(output, tuple) else output
            if self.guided:
                hidden = hidden.chunk(2)[1]  # [unconditional, conditional]: keep what the prompt steers
            projected = reduce_group(hidden, self.matrices[self.current * len(self.blocks) + position], self.side)
            self.total = projected if self.total is None else self.total + projected
            self.groups_added += 1

        return record

    def finish(self) -> np.ndarray:
        """(n, dim, r, r) float16 of the batch just generated; every chosen step must have been seen."""
        self.recording = False
        expected = len(self.timesteps) * len(self.blocks)
        if self.total is None or self.groups_added != expected:
            raise RuntimeError(
                f"feature capture saw {self.groups_added} of {expected} (timestep, block) outputs; "
                f"steps at {self.timesteps} were expected in the pipeline's schedule"
            )
        return self.total.cpu().numpy().astype(np.float16)

    def close(self) -> None:
        for hook in self._hooks:
            hook.remove()
        self._hooks = []
