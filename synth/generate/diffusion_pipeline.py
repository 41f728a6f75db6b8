"""The ``diffusion`` generator: a real diffusers StableDiffusionPipeline with attention capture installed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import torch

from synth.core.hashing import settings_hash
from synth.core.quiet_loading import quiet_loading
from synth.generate.attention import AttentionStore, install_capture, refine
from synth.generate.base import Generator, GeneratorConfig, Sample
from synth.generate.tokens import class_token_positions

if TYPE_CHECKING:
    from synth.core.dataset import DatasetContext
    from synth.generate.unet_feature_settings import UNetFeatureSettings


def pick_device(setting: str) -> torch.device:
    if setting == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(setting)


def pick_dtype(setting: str, device: torch.device) -> torch.dtype:
    if setting == "auto":
        return torch.float16 if device.type == "cuda" else torch.float32
    return getattr(torch, setting)


def stored_evidence(refined: torch.Tensor) -> dict[str, np.ndarray]:
    """Refined maps (n, K + 1, s, s), the last the start-of-text token's -> what a samples shard keeps of them.

    ``scores``: each map min-max normalised, then cast to fp16 (near-uniform maps of weak or early models would
    otherwise round to constants); ``range``: each map's raw [min, max] in fp32 beside it, so a decoder can tell
    a class that is weak everywhere from one that stands out (``scores * (max - min) + min`` is the raw map).
    """
    low = refined.amin(dim=(2, 3), keepdim=True)
    high = refined.amax(dim=(2, 3), keepdim=True)
    scores = ((refined - low) / (high - low).clamp_min(1e-12)).numpy().astype(np.float16)
    ranges = torch.cat([low, high], dim=-1)[..., 0, :].numpy().astype(np.float32)  # (n, K + 1, 2)
    return {"scores": scores, "range": ranges}


class DiffusionSettings(Protocol):
    """What the pipeline reads of its ``DiffusionConfig``, named by shape: synth/generate/diffusion.py imports this
    module to build the generator, so importing it back would close a circle. ``DiffusionConfig.build`` passes
    itself as these settings, which is where the checker verifies that the config has all of it."""

    @property
    def device(self) -> str: ...
    @property
    def dtype(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def revision(self) -> str | None: ...
    @property
    def scheduler(self) -> str: ...
    @property
    def steps(self) -> int: ...
    @property
    def guidance_scale(self) -> float: ...
    @property
    def batch_size(self) -> int: ...
    @property
    def tau(self) -> int: ...
    @property
    def timestep_window(self) -> tuple[float, float]: ...
    @property
    def features(self) -> UNetFeatureSettings | None: ...
    def scheduler_class(self) -> str: ...
    def resolutions(self, image_size: int) -> tuple[int, int]: ...
    def provenance(self) -> dict[str, Any]: ...
    def load_tokenizer(self) -> Any: ...


class DiffusionGenerator(Generator):
    """Built by ``DiffusionConfig.build``, which passes itself twice: as the ``config`` every generator keeps and as
    the ``settings`` the pipeline reads."""

    def __init__(self, config: GeneratorConfig, settings: DiffusionSettings, context: DatasetContext):
        super().__init__(config, context)
        self.settings = settings
        self.device = pick_device(settings.device)
        self.dtype = pick_dtype(settings.dtype, self.device)
        # The tokenizer the recipe checks loaded from the same files, if any: its vocabulary is parsed once.
        tokenizer = settings.load_tokenizer()
        with quiet_loading():
            import diffusers
            from diffusers import StableDiffusionPipeline

            self.pipe = StableDiffusionPipeline.from_pretrained(
                settings.model,
                revision=settings.revision,
                dtype=self.dtype,
                safety_checker=None,
                requires_safety_checker=False,
                **({"tokenizer": tokenizer} if tokenizer is not None else {}),
            ).to(self.device)
        scheduler_cls = getattr(diffusers, settings.scheduler_class())
        self.pipe.scheduler = scheduler_cls.from_config(self.pipe.scheduler.config)
        self.pipe.set_progress_bar_config(disable=True)
        size = context.image_size
        self.cross_res, self.self_res = settings.resolutions(size)
        latent_side = size // self.pipe.vae_scale_factor
        self.slot, self.captured_layers = install_capture(self.pipe.unet, latent_side, self.cross_res, self.self_res)
        self.features = None
        if settings.features is not None:
            from synth.generate.unet_features import FeatureRecorder

            self.features = FeatureRecorder(
                self.pipe.unet,
                settings.features,
                self.pipe.scheduler,
                settings.steps,
                latent_side,
                guided=settings.guidance_scale > 1.0,
            )
        self.by_id = context.taxonomy.by_id()
        self.provenance = settings.provenance() | {
            "settings_hash": settings_hash(config),
            "scheduler": settings.scheduler,
            "steps": settings.steps,
            "guidance_scale": settings.guidance_scale,
            "dtype": str(self.dtype).removeprefix("torch."),
            "tau": settings.tau,
            "attention_resolutions": [self.cross_res, self.self_res],
        }
        if self.features is not None:
            self.provenance["features"] = self.features.describe()

    @property
    def batch_size(self) -> int:
        return self.settings.batch_size

    def _token_weights(self, phrase_lists: list[list[str]]) -> torch.Tensor:
        """(n, 77, K + 1): each class phrase's token positions (averaged), then the start-of-text token.

        The last column reads the attention the start-of-text token draws: where no class phrase holds the
        query's attention it goes there, which makes it the background evidence the decoder can use.
        """
        tokenizer = self.pipe.tokenizer
        k = max(len(p) for p in phrase_lists)
        weights = torch.zeros(len(phrase_lists), tokenizer.model_max_length, k + 1)
        for i, phrases in enumerate(phrase_lists):
            for j, positions in enumerate(class_token_positions(tokenizer, phrases)):
                weights[i, positions, j] = 1.0 / len(positions)
        weights[:, 0, k] = 1.0
        return weights

    @torch.no_grad()
    def _encode(self, texts: list[str]) -> torch.Tensor:
        tokenizer = self.pipe.tokenizer
        ids = tokenizer(
            texts, padding="max_length", max_length=tokenizer.model_max_length, truncation=True, return_tensors="pt"
        ).input_ids
        return self.pipe.text_encoder(ids.to(self.device))[0]

    @torch.no_grad()
    def generate(self, plans):
        cfg = self.settings
        phrase_lists = [[self.by_id[c].phrase for c in plan.class_ids] for plan in plans]
        prompts = [f"{plan.caption}; {' '.join(phrases)}" for plan, phrases in zip(plans, phrase_lists)]
        guided = cfg.guidance_scale > 1.0
        store = AttentionStore(
            token_weights=self._token_weights(phrase_lists).to(self.device, self.dtype),
            class_embeds=self._encode([" ".join(p) for p in phrase_lists]),
            guided=guided,
            window=cfg.timestep_window,
            steps=cfg.steps,
        )
        # One generator per sample, seeded by the sample's seed: a sample never depends on its batch.
        generators = [torch.Generator(device="cpu").manual_seed(plan.seed) for plan in plans]
        latent_shape = (
            1,
            self.pipe.unet.config.in_channels,
            *(2 * [self.context.image_size // self.pipe.vae_scale_factor]),
        )
        latents = torch.cat([torch.randn(latent_shape, generator=g, dtype=torch.float32) for g in generators])
        self.slot[0] = store
        if self.features is not None:
            self.features.start()
        try:
            result = self.pipe(
                prompt=prompts,
                negative_prompt=[plan.negative for plan in plans] if guided else None,
                height=self.context.image_size,
                width=self.context.image_size,
                num_inference_steps=cfg.steps,
                guidance_scale=cfg.guidance_scale,
                latents=latents.to(self.device, self.dtype),
                output_type="np",
                callback_on_step_end=store.on_step_end,
            )
        finally:
            self.slot[0] = None
        features = self.features.finish() if self.features is not None else None
        cross, self_attn = store.averages()
        evidence = stored_evidence(refine(cross, self_attn, cfg.tau).cpu())
        images = np.clip(np.rint(result.images * 255.0), 0, 255).astype(np.uint8)
        samples = []
        for i, plan in enumerate(plans):
            k = len(plan.class_ids)
            arrays = {
                "scores": evidence["scores"][i, :k],
                "score_range": evidence["range"][i, :k],
                "background": evidence["scores"][i, -1],
                "background_range": evidence["range"][i, -1],
                "class_ids": np.asarray(plan.class_ids, dtype=np.int16),
            }
            if features is not None:
                arrays["features"] = features[i]
            samples.append(
                Sample(
                    seed=plan.seed, image=images[i], prompt=prompts[i], arrays=arrays, provenance=dict(self.provenance)
                )
            )
        return samples

    def close(self) -> None:
        if self.features is not None:
            self.features.close()
        self.pipe = None
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
