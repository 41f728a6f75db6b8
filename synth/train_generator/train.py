"""Train the fashion text-to-image latent diffusion model and save it as a ``StableDiffusionPipeline`` folder.

Two phases, seeded: the VAE on train-split compositions (reconstruction + a small KL term), then the UNet and
the text encoder jointly on the VAE's latents (epsilon prediction, DDPM noise schedule of SD 1.x, caption
dropout for classifier-free guidance, and the cross-attention grounding loss of ``grounding.py``). A pipeline
folder is written every ``checkpoint_every`` steps, so a run can be stopped at any point and its last
checkpoint kept.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from synth.core.atomic import publish_folder
from synth.core.quiet_loading import quiet_loading
from synth.realdata.fashion_mnist import DEFAULT_ROOT

LR_SCHEDULES = ("constant", "cosine")


@dataclass(frozen=True)
class TrainGeneratorConfig:
    out: str = "models/fashion-sd"
    checkpoints: str = "models/.fashion-sd-checkpoints"
    bpe: str = "models/clip-bpe/bpe_simple_vocab_16e6.txt.gz"
    fashion_root: str = str(DEFAULT_ROOT)
    seed: int = 0
    threads: int = 1
    compositions: int = 8000
    item_mix: tuple[float, ...] = (0.4, 0.35, 0.25)
    vae_steps: int = 300
    vae_batch: int = 16
    vae_lr: float = 1e-3
    vae_kl_weight: float = 1e-6
    unet_steps: int = 2000
    unet_batch: int = 48
    unet_lr: float = 5e-4
    grounding_weight: float = 0.1
    p_class_suffix: float = 0.35
    p_class_only: float = 0.2
    p_empty: float = 0.1
    checkpoint_every: int = 50
    # EMA of the UNet and text-encoder weights (diffusers' EMAModel); the averaged weights are the ones saved.
    # None: the raw weights are saved, as the committed model was trained.
    ema_decay: float | None = None
    # Min-SNR-gamma loss weighting of the epsilon loss over timesteps (loss_weighting.py); None: plain MSE.
    snr_gamma: float | None = None
    # "constant" (after the 100-step warm-up), as the committed model's first 3,697 steps were trained, or
    # "cosine": decays to zero at ``unet_steps``, the usual end of a diffusion run (the weights settle).
    lr_schedule: str = "constant"
    # A pipeline folder to continue from: its VAE (and scaling factor) is kept, phase 1 is skipped, and the UNet
    # and text encoder start from its weights (fresh optimizer state). None: both phases from scratch.
    init_from: str | None = None
    max_minutes: float | None = None
    size: dict = field(default_factory=dict)


def save_pipeline(folder: Path, vae, text_encoder, tokenizer, unet, scheduler, ema=None) -> None:
    """Write the modules as an fp16 ``StableDiffusionPipeline`` folder (to a temporary folder, then renamed).

    With ``ema`` (an EMAModel over the UNet's then the text encoder's parameters) the averaged weights are the
    ones written. Either way the modules keep their fp32 training weights: the fp16 cast happens on copies.
    """
    import copy

    import torch
    from diffusers import StableDiffusionPipeline

    params = list(unet.parameters()) + list(text_encoder.parameters())
    if ema is not None:
        ema.store(params)
        ema.copy_to(params)
    try:
        pipe = StableDiffusionPipeline(
            vae=copy.deepcopy(vae),
            text_encoder=copy.deepcopy(text_encoder),
            tokenizer=tokenizer,
            unet=copy.deepcopy(unet),
            scheduler=scheduler,
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )
    finally:
        if ema is not None:
            ema.restore(params)
    with publish_folder(folder) as staging:
        pipe.to(torch.float16).save_pretrained(staging, safe_serialization=True)


def learning_rate(cfg: TrainGeneratorConfig, step: int) -> float:
    """The UNet phase's rate at ``step`` (1-based): linear warm-up over 100 steps, then ``cfg.lr_schedule``."""
    warm = min(1.0, step / 100)
    if cfg.lr_schedule == "constant":
        return cfg.unet_lr * warm
    if cfg.lr_schedule == "cosine":
        return cfg.unet_lr * warm * 0.5 * (1.0 + math.cos(math.pi * min(step, cfg.unet_steps) / cfg.unet_steps))
    raise ValueError(f"train_generator: lr_schedule: unknown schedule {cfg.lr_schedule!r} (constant or cosine)")


def load_start(folder: Path):
    """The VAE, text encoder and UNet of a saved pipeline folder, in fp32 for training."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextModel

    with quiet_loading():
        vae = AutoencoderKL.from_pretrained(folder, subfolder="vae").float()
        text_encoder = CLIPTextModel.from_pretrained(folder, subfolder="text_encoder").float()
        unet = UNet2DConditionModel.from_pretrained(folder, subfolder="unet").float()
    return vae, text_encoder, unet


def train_generator(cfg: TrainGeneratorConfig, root: Path, log: Callable[[str], None] = print) -> dict:
    """Train both phases and write ``cfg.out``; returns the training summary that also goes to train_log.json."""
    import torch
    import torch.nn.functional as F
    from diffusers.training_utils import EMAModel
    from transformers import CLIPTokenizer

    from synth.train_generator.data import TokenSpans, caption_variant, make_train_set
    from synth.train_generator.grounding import (
        grounding_loss,
        install_grounding,
        remove_grounding,
    )
    from synth.train_generator.loss_weighting import epsilon_loss, min_snr_weights
    from synth.train_generator.models import (
        ModelSize,
        build_scheduler,
        build_text_encoder,
        build_unet,
        build_vae,
    )
    from synth.train_generator.tokenizer import write_clip_tokenizer

    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    started = time.monotonic()
    deadline = started + 60 * cfg.max_minutes if cfg.max_minutes else None
    checkpoints = root / cfg.checkpoints
    checkpoints.mkdir(parents=True, exist_ok=True)
    tokenizer_dir = write_clip_tokenizer(root / cfg.bpe, checkpoints / "tokenizer")
    tokenizer = CLIPTokenizer.from_pretrained(tokenizer_dir)
    overrides: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in cfg.size.items()}
    size = ModelSize(**overrides)

    data = make_train_set(cfg.compositions, cfg.seed, cfg.item_mix, cfg.fashion_root)
    images = torch.from_numpy(data.images).float().div(127.5).sub(1.0)[:, None].expand(-1, 3, -1, -1)
    log(f"train-generator: {len(images)} train-split compositions")
    history: dict = {"vae": [], "unet": []}

    # Phase 1: VAE (skipped when continuing from a saved pipeline)
    start = load_start(root / cfg.init_from) if cfg.init_from else None
    if start is None:
        vae = build_vae(size)
        opt = torch.optim.AdamW(vae.parameters(), lr=cfg.vae_lr)
        for step in range(cfg.vae_steps):
            batch = images[torch.from_numpy(rng.integers(0, len(images), cfg.vae_batch))]
            posterior = vae.encode(batch).latent_dist
            recon = vae.decode(posterior.sample()).sample
            loss = F.l1_loss(recon, batch) + cfg.vae_kl_weight * posterior.kl().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            if step % 25 == 0 or step == cfg.vae_steps - 1:
                history["vae"].append({"step": step, "loss": round(float(loss.detach()), 5)})
                log(f"vae step {step} l1+kl {float(loss):.4f} ({time.monotonic() - started:.0f} s)")
    else:
        vae = start[0]
        log(f"continuing from {cfg.init_from}")
    vae.eval().requires_grad_(False)
    with torch.no_grad():
        moments = [vae.encode(images[i : i + 256]).latent_dist for i in range(0, len(images), 256)]
        mean = torch.cat([m.mean for m in moments])
        std = torch.cat([m.std for m in moments])
    if start is None:
        scaling = float(1.0 / mean.std())
        vae.register_to_config(scaling_factor=scaling)
    else:
        scaling = float(vae.config.scaling_factor)  # the UNet being continued learned latents at this scale
    log(f"latents encoded; scaling_factor {scaling:.4f} ({time.monotonic() - started:.0f} s)")

    # Phase 2: UNet + text encoder
    if start is None:
        text_encoder = build_text_encoder(size, tokenizer)
        unet = build_unet(size)
    else:
        text_encoder, unet = start[1], start[2]
    scheduler = build_scheduler()
    spans_finder = TokenSpans(tokenizer)
    maps = install_grounding(unet)
    params = list(unet.parameters()) + list(text_encoder.parameters())
    opt = torch.optim.AdamW(params, lr=cfg.unet_lr, weight_decay=0.01)
    ema = EMAModel(params, decay=cfg.ema_decay) if cfg.ema_decay is not None else None
    masks = torch.from_numpy(data.masks)
    alphas = scheduler.alphas_cumprod
    step = 0
    for step in range(1, cfg.unet_steps + 1):
        idx = rng.integers(0, len(images), cfg.unet_batch)
        captions = [
            caption_variant(data.captions[i], data.labels[i], rng, cfg.p_class_suffix, cfg.p_class_only, cfg.p_empty)
            for i in idx
        ]
        ids = tokenizer(
            captions, padding="max_length", max_length=tokenizer.model_max_length, truncation=True, return_tensors="pt"
        ).input_ids
        spans = [
            [
                (pos, label + 1)
                for label in dict.fromkeys(data.labels[i])
                if (pos := spans_finder.find(row.tolist(), label))
            ]
            for i, row in zip(idx, ids)
        ]
        t_idx = torch.from_numpy(idx)
        latents = (mean[t_idx] + std[t_idx] * torch.randn_like(mean[t_idx])) * scaling
        noise = torch.randn_like(latents)
        timesteps = torch.randint(0, scheduler.config.num_train_timesteps, (len(idx),))
        a = alphas[timesteps].view(-1, 1, 1, 1)
        noisy = a.sqrt() * latents + (1 - a).sqrt() * noise
        maps.clear()
        lr = learning_rate(cfg, step)
        for group in opt.param_groups:
            group["lr"] = lr
        pred = unet(noisy, timesteps, text_encoder(ids)[0]).sample
        weights = min_snr_weights(scheduler, timesteps, cfg.snr_gamma) if cfg.snr_gamma is not None else None
        mse = epsilon_loss(pred, noise, weights)
        ground = grounding_loss(list(maps), masks[t_idx], spans)
        loss = mse + cfg.grounding_weight * ground
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if ema is not None:
            ema.step(params)
        if step % 10 == 0:
            history["unet"].append({"step": step, "mse": round(float(mse), 5), "grounding": round(float(ground), 5)})
            log(
                f"unet step {step} mse {float(mse):.4f} grounding {float(ground):.4f} "
                f"({time.monotonic() - started:.0f} s)"
            )
        out_of_time = deadline is not None and time.monotonic() > deadline
        if step % cfg.checkpoint_every == 0 or step == cfg.unet_steps or out_of_time:
            remove_grounding(unet)
            save_pipeline(checkpoints / f"step-{step:05d}", vae, text_encoder, tokenizer, unet, scheduler, ema)
            maps = install_grounding(unet)
            log(f"checkpoint step {step} ({time.monotonic() - started:.0f} s)")
        if out_of_time:
            break
    remove_grounding(unet)
    summary = {
        "unet_steps_done": step,
        "seconds": round(time.monotonic() - started),
        "scaling_factor": scaling,
        "ema_decay": cfg.ema_decay,
        "snr_gamma": cfg.snr_gamma,
        "lr_schedule": cfg.lr_schedule,
        "init_from": cfg.init_from,
        "history": history,
    }
    out = root / cfg.out
    save_pipeline(out, vae, text_encoder, tokenizer, unet, scheduler, ema)
    (out / "train_log.json").write_text(json.dumps(summary, indent=1))
    return summary
