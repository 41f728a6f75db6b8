"""Settings of the in-pass UNet feature recording (``generator.features`` of a ``diffusion`` recipe), apart from
the recorder itself (unet_features.py, which loads torch) so that reading a recipe stays light."""

from __future__ import annotations

from pydantic import Field

from synth.core.config import Strict


class UNetFeatureSettings(Strict):
    """What the generation pass records for the ``datasetgan`` decoder (``decode.features.type: captured``).

    Everything here changes the bytes of the samples shards, which is why it lives under ``generator``: the
    samples shard key and DVC's synthesize stage cover it, while the decoder's own settings stay in ``decode``.
    """

    timesteps: list[int] = Field(
        default_factory=lambda: [50, 150, 250],
        min_length=1,
        description="Training timesteps (DDPM-Seg's 50/150/250); each is read at the denoising step nearest to it.",
    )
    blocks: list[int] | None = Field(
        default=None, min_length=1, description="Indices of unet.up_blocks to record; None = all."
    )
    dim: int = Field(default=64, ge=1, le=4096, description="Channels kept per pixel after the random projection.")
    resolution: int | None = Field(default=None, ge=1, description="Side of the stored map; default the latent side.")
    seed: int = Field(default=0, ge=0, description="Seed of the random projection matrix.")
