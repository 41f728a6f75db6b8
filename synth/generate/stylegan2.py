"""``stylegan2``: an unconditional StyleGAN2 generator from a safetensors checkpoint.

Each seed draws its own z (and noise), so a sample depends on its seed only. The image and DatasetGAN's pixel
features come out of the same synthesis pass; the features are not stored (about 3,000 floats per pixel),
only z, from which the ``stylegan2`` feature source recomputes them exactly when the decoder needs them.
Prompts are recorded for provenance but do not steer an unconditional GAN.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field

from synth.generate.base import Capability, Generator, GeneratorConfig, Sample

if TYPE_CHECKING:
    from synth.core.dataset import DatasetContext
    from synth.generate.prompts import SamplePlan
    from synth.generate.stylegan2_network import StyleGAN2Generator


class StyleGAN2Config(GeneratorConfig):
    type: Literal["stylegan2"] = "stylegan2"
    checkpoint: str = Field(description="Path of a .safetensors StyleGAN2 checkpoint (relative to the project root).")
    truncation_psi: float = Field(default=0.7, gt=0, le=1)
    allow_pickle: bool = Field(default=False, description="Allow .pkl/.pt checkpoints; a pickle runs arbitrary code.")
    device: str = "cpu"
    batch: int = Field(default=8, ge=1)

    def build(self, context: DatasetContext) -> Generator:
        return StyleGAN2(self, context)

    def capabilities(self) -> frozenset[Capability]:
        return frozenset({Capability.LATENTS})

    def problems(self, context: DatasetContext) -> list[tuple[str, str]]:
        if Path(self.checkpoint).suffix != ".safetensors" and not self.allow_pickle:
            return [
                (
                    "generator.checkpoint",
                    f"{self.checkpoint!r} is not .safetensors; pickled checkpoints run "
                    "arbitrary code and need allow_pickle: true",
                )
            ]
        return []

    def weights_digest(self) -> str | None:
        return checkpoint_digest(self.checkpoint)

    def provenance(self) -> dict[str, Any]:
        return {"generator": "stylegan2", "model": self.checkpoint, "revision": checkpoint_digest(self.checkpoint)}


def checkpoint_digest(path: str) -> str | None:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
    except OSError:
        return None


def to_uint8(images) -> np.ndarray:
    return (
        ((images.clamp(-1, 1) + 1) * 127.5)
        .round()
        .to(dtype=__import__("torch").uint8)
        .permute(0, 2, 3, 1)
        .cpu()
        .numpy()
    )


class StyleGAN2(Generator):
    config: StyleGAN2Config

    def __init__(self, config: StyleGAN2Config, context: DatasetContext):
        super().__init__(config, context)
        from synth.generate.stylegan2_network import load_stylegan2

        model = load_stylegan2(config.checkpoint, config.allow_pickle).to(config.device)
        self.model: StyleGAN2Generator | None = model  # None once closed
        resolution = model.config["resolution"]
        if resolution != context.image_size:
            from synth.errors import UserError

            raise UserError(f"image_size: {context.image_size} but {config.checkpoint} makes {resolution} px images")
        self.identity = config.provenance()

    @property
    def batch_size(self) -> int:
        return self.config.batch

    def generate(self, plans: list[SamplePlan]) -> list[Sample]:
        import torch

        from synth.generate.stylegan2_network import latent_for_seed

        if self.model is None:
            raise RuntimeError("StyleGAN2.generate called after close()")
        model = self.model
        out = []
        with torch.no_grad():
            for plan in plans:  # one at a time: noise is drawn per seed, so batching would not change the result
                z = latent_for_seed(plan.seed, model.z_dim).to(self.config.device)
                image, _features = model(z, self.config.truncation_psi, noise_seed=plan.seed)
                out.append(
                    Sample(
                        seed=plan.seed,
                        image=to_uint8(image)[0],
                        prompt=plan.caption,
                        arrays={"z": z[0].cpu().numpy().astype(np.float32)},
                        provenance={**self.identity, "truncation_psi": self.config.truncation_psi},
                    )
                )
        return out

    def close(self) -> None:
        self.model = None
