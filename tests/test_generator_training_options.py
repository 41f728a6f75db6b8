"""The generator training's EMA of the weights and its Min-SNR timestep weighting, on tiny models."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from synth.train_generator.loss_weighting import epsilon_loss, min_snr_weights
from synth.train_generator.models import ModelSize, build_scheduler, build_text_encoder, build_unet, build_vae

TINY = ModelSize(vae_channels=(8, 8), text_hidden=32, text_layers=1, text_heads=2, unet_channels=(32, 32, 32))


def test_min_snr_weights_cap_the_clean_timesteps_at_gamma_over_snr():
    scheduler = build_scheduler()
    timesteps = torch.tensor([0, 20, 200, 999])
    alpha_bar = scheduler.alphas_cumprod[timesteps].double()
    snr = alpha_bar / (1 - alpha_bar)  # signal-to-noise ratio of x_t = sqrt(a) x_0 + sqrt(1 - a) eps
    weights = min_snr_weights(scheduler, timesteps, gamma=5.0).double()
    expected = torch.minimum(snr, torch.full_like(snr, 5.0)) / snr
    assert torch.allclose(weights, expected, rtol=1e-4)
    assert snr[0] > 5.0 and weights[0] < 0.01  # nearly clean: its loss counts far less
    assert snr[-1] < 5.0 and weights[-1] == pytest.approx(1.0)  # noisy end: unweighted


def test_weighted_epsilon_loss_is_each_samples_mean_error_times_its_weight():
    pred, noise = torch.randn(3, 4, 2, 2), torch.randn(3, 4, 2, 2)
    assert epsilon_loss(pred, noise, None) == pytest.approx(float(F.mse_loss(pred, noise)))
    weights = torch.tensor([1.0, 0.0, 2.0])
    per_sample = ((pred - noise) ** 2).mean(dim=(1, 2, 3))
    assert epsilon_loss(pred, noise, weights) == pytest.approx(float((per_sample * weights).mean()), rel=1e-6)


def test_the_saved_pipeline_holds_the_ema_weights_and_training_keeps_the_raw_ones(tmp_path):
    from diffusers import StableDiffusionPipeline
    from diffusers.training_utils import EMAModel

    from synth.train_generator.train import save_pipeline
    from tests.tinymodels import clip_tokenizer

    torch.manual_seed(0)
    tokenizer = clip_tokenizer()
    vae, text_encoder, unet = build_vae(TINY), build_text_encoder(TINY, tokenizer), build_unet(TINY)
    params = list(unet.parameters()) + list(text_encoder.parameters())
    ema = EMAModel(params, decay=0.9, min_decay=0.9, update_after_step=0, use_ema_warmup=False)
    with torch.no_grad():
        for _ in range(3):  # three "optimizer steps", each followed by the EMA update as in training
            for p in params:
                p.add_(torch.randn_like(p) * 0.05)
            ema.step(params)
    raw = {k: v.clone() for k, v in unet.state_dict().items()}
    save_pipeline(tmp_path / "out", vae, text_encoder, tokenizer, unet, build_scheduler(), ema)

    for k, v in unet.state_dict().items():  # training goes on from its own weights, in fp32
        assert v.dtype == torch.float32 and torch.equal(v, raw[k])
    saved = StableDiffusionPipeline.from_pretrained(tmp_path / "out", dtype=torch.float32)
    averaged = iter(ema.shadow_params)  # the UNet's parameters, then the text encoder's, in order
    for module, loaded in ((unet, saved.unet), (text_encoder, saved.text_encoder)):
        stored = dict(loaded.named_parameters())
        for name, _ in module.named_parameters():
            assert torch.equal(stored[name].detach(), next(averaged).half().float()), name
    moved = [float((saved.unet.state_dict()[k] - raw[k]).abs().mean()) for k in raw if k.endswith("weight")]
    assert np.mean(moved) > 0.01  # the EMA weights differ from the raw ones (three steps of 0.05 noise)
