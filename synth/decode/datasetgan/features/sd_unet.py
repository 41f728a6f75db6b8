"""Stable Diffusion UNet decoder-block activations as pixel features (DDPM-Seg / DatasetDM style).

One sample: encode its image with the VAE, add the scheduler's noise for timestep t (seeded by the sample's
seed, so features are reproducible), run the UNet once conditioned on the sample's prompt, and keep the
output of every chosen ``up_blocks[i]`` (forward hooks; nothing of the UNet is re-implemented). Repeated for
each timestep in ``timesteps``; all maps go to the shared bilinear-upsample-and-concatenate reader.

This is feature-only over any image, so it labels the samples of any generator (``scenes`` for measurement).
Images the ``diffusion`` generator makes need no second pass: with ``generator.features`` the generation pass
records the same activations itself and ``captured`` (``synth/decode/datasetgan/features/captured.py``) reads them. Models load with ``from_pretrained`` on a hub id or a local folder laid
out like a diffusers pipeline (unet/, vae/, text_encoder/, tokenizer/, scheduler/).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from synth.core.quiet_loading import quiet_loading
from synth.decode.datasetgan.features.base import FeatureSource, FeatureSourceConfig, as_numpy_image

if TYPE_CHECKING:
    import torch

    from synth.core.dataset import DatasetContext
    from synth.store.records import SampleRecord


class SDUnetFeaturesConfig(FeatureSourceConfig):
    type: Literal["sd_unet"] = "sd_unet"
    model: str = Field(description="Hub id or local folder of a diffusers Stable Diffusion pipeline.")
    revision: str | None = Field(default=None, description="Hub revision (commit) to pin; None for local folders.")
    timesteps: list[int] = Field(default_factory=lambda: [50, 150, 250], min_length=1)
    blocks: list[int] | None = Field(default=None, description="Indices of unet.up_blocks to hook; None = all.")
    use_prompt: bool = Field(default=True, description="Condition on the sample's prompt; else on the empty prompt.")
    device: str = "cpu"
    dtype: Literal["float32", "float16", "bfloat16"] = "float32"

    def build(self, context: DatasetContext | None = None) -> FeatureSource:
        return SDUnetFeatures(self)


class SDUnetFeatures(FeatureSource):
    def __init__(self, config: SDUnetFeaturesConfig):
        import torch
        from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
        from transformers import CLIPTextModel, CLIPTokenizer

        self.config = config
        dtype = getattr(torch, config.dtype)
        kw: dict[str, Any] = {"revision": config.revision} if config.revision else {}
        try:
            with quiet_loading():
                self.unet = UNet2DConditionModel.from_pretrained(config.model, subfolder="unet", dtype=dtype, **kw)
                self.vae = AutoencoderKL.from_pretrained(config.model, subfolder="vae", dtype=dtype, **kw)
                self.text_encoder = CLIPTextModel.from_pretrained(
                    config.model, subfolder="text_encoder", dtype=dtype, **kw
                )
            self.tokenizer = CLIPTokenizer.from_pretrained(config.model, subfolder="tokenizer", **kw)
            self.scheduler = DDPMScheduler.from_pretrained(config.model, subfolder="scheduler", **kw)
        except (OSError, ValueError) as error:
            from synth.errors import UserError

            raise UserError(
                f"decode.features.model: cannot load {config.model!r}: {str(error).splitlines()[0]}"
            ) from None
        modules: tuple[torch.nn.Module, ...] = (self.unet, self.vae, self.text_encoder)
        for module in modules:
            module.to(config.device).eval().requires_grad_(False)
        self.dtype = dtype
        n_blocks = len(self.unet.up_blocks)
        self.blocks = list(range(n_blocks)) if config.blocks is None else list(config.blocks)
        bad = [b for b in self.blocks if not 0 <= b < n_blocks]
        if bad:
            from synth.errors import UserError

            raise UserError(
                f"decode.features.blocks: {bad} not in 0..{n_blocks - 1} (the UNet has {n_blocks} up blocks)"
            )
        limit = self.scheduler.config.num_train_timesteps
        if any(not 0 <= t < limit for t in config.timesteps):
            from synth.errors import UserError

            raise UserError(f"decode.features.timesteps: {config.timesteps} must lie in 0..{limit - 1}")
        channels = self._block_channels()
        self._dim = sum(channels[b] for b in self.blocks) * len(config.timesteps)
        self._captured: dict[int, torch.Tensor] = {}
        self._hooks = [self.unet.up_blocks[b].register_forward_hook(self._hook(b)) for b in self.blocks]
        self._text_cache: dict[str, torch.Tensor] = {}

    def _block_channels(self) -> list[int]:
        """Output channels of each up block: the reversed ``block_out_channels``, as diffusers builds them."""
        return list(reversed(self.unet.config.block_out_channels))

    def _hook(self, index: int):
        def capture(module, inputs, output):
            tensor = output[0] if isinstance(output, tuple) else output
            self._captured[index] = tensor.detach().float().cpu()

        return capture

    @property
    def dim(self) -> int:
        return self._dim

    def identity(self) -> dict[str, Any]:
        from pathlib import Path

        from synth.generate.diffusion import folder_digest

        local = Path(self.config.model)
        digest = {"digest": folder_digest(local)} if local.is_dir() else {}  # local weights: what is in the path
        return self.config.model_dump(mode="json", exclude={"device"}) | digest

    def _text(self, prompt: str):
        import torch

        if prompt not in self._text_cache:
            length = min(self.tokenizer.model_max_length, self.text_encoder.config.max_position_embeddings)
            ids = self.tokenizer(
                prompt, padding="max_length", max_length=length, truncation=True, return_tensors="pt"
            ).input_ids.to(self.config.device)
            with torch.no_grad():
                self._text_cache[prompt] = self.text_encoder(ids)[0]
            if len(self._text_cache) > 256:
                self._text_cache.pop(next(iter(self._text_cache)))
        return self._text_cache[prompt]

    def maps(self, record: SampleRecord) -> list[torch.Tensor]:
        import torch

        image = torch.from_numpy(as_numpy_image(record).copy()).permute(2, 0, 1).float() / 127.5 - 1.0
        image = image[None].to(self.config.device, self.dtype)
        generator = torch.Generator(device="cpu").manual_seed(int(record.seed))
        text = self._text(record.prompt if self.config.use_prompt else "")
        out: list[torch.Tensor] = []
        with torch.no_grad():
            posterior = self.vae.encode(image).latent_dist
            latents = posterior.mean * self.vae.config.scaling_factor
            for t in self.config.timesteps:
                noise = torch.randn(latents.shape, generator=generator).to(latents.device, latents.dtype)
                timestep = torch.tensor([t], device=latents.device)
                noisy = self.scheduler.add_noise(latents, noise, timestep)
                self._captured.clear()
                self.unet(noisy, timestep, encoder_hidden_states=text)
                out.extend(self._captured[b][0] for b in self.blocks)
        return out

    def close(self) -> None:
        for hook in self._hooks:
            hook.remove()
        self._hooks = []
