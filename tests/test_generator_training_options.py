"""The generator training's EMA of the weights and its Min-SNR timestep weighting, on tiny models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from synth.realdata.fashion_mnist import DEFAULT_ROOT as FASHION_ROOT
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


def test_cosine_schedule_warms_up_then_decays_to_zero_and_constant_stays_flat():
    from synth.train_generator.train import TrainGeneratorConfig, learning_rate

    cosine = TrainGeneratorConfig(unet_lr=1e-3, unet_steps=1000, lr_schedule="cosine")
    constant = TrainGeneratorConfig(unet_lr=1e-3, unet_steps=1000)
    assert learning_rate(cosine, 50) == pytest.approx(learning_rate(constant, 50) * (0.5 + 0.5 * np.cos(np.pi / 20)))
    assert learning_rate(constant, 100) == learning_rate(constant, 1000) == pytest.approx(1e-3)
    assert learning_rate(cosine, 500) == pytest.approx(5e-4)
    assert learning_rate(cosine, 1000) == pytest.approx(0.0, abs=1e-12)
    rates = [learning_rate(cosine, s) for s in range(100, 1001, 100)]
    assert rates == sorted(rates, reverse=True)


def _write_params(root, **section):
    import yaml

    (root / "params.yaml").write_text(yaml.safe_dump({"train_generator": section}))


def test_params_name_the_field_when_the_schedule_or_the_start_folder_is_wrong(tmp_path):
    from synth.errors import UserError
    from synth.stages.train_generator import load_config

    _write_params(tmp_path, lr_schedule="linear")
    with pytest.raises(UserError, match=r"params.yaml: train_generator: lr_schedule: 'linear' is not one of"):
        load_config(tmp_path)
    _write_params(tmp_path, init_from="models/nowhere")
    with pytest.raises(UserError, match=r"train_generator: init_from: models/nowhere is not a saved pipeline"):
        load_config(tmp_path)
    _write_params(tmp_path, lr_schedule="cosine")
    assert load_config(tmp_path).lr_schedule == "cosine"


@pytest.mark.skipif(
    not (FASHION_ROOT / "train-images-idx3-ubyte.gz").exists(), reason="apt-get install dataset-fashion-mnist"
)
def test_a_run_continued_from_a_saved_pipeline_starts_from_its_weights_and_keeps_its_vae(tmp_path):
    """init_from: phase 1 is skipped, the VAE and its scaling factor are the start's, the UNet moves from there."""
    from diffusers import StableDiffusionPipeline
    from transformers import CLIPTokenizer

    from synth.train_generator.tokenizer import write_clip_tokenizer
    from synth.train_generator.train import TrainGeneratorConfig, save_pipeline, train_generator

    torch.manual_seed(0)
    bpe = Path(__file__).resolve().parents[1] / "models/clip-bpe/bpe_simple_vocab_16e6.txt.gz"
    tokenizer = CLIPTokenizer.from_pretrained(write_clip_tokenizer(bpe, tmp_path / "tokenizer"))  # training's ids
    vae, text_encoder, unet = build_vae(TINY), build_text_encoder(TINY, tokenizer), build_unet(TINY)
    vae.register_to_config(scaling_factor=0.77)
    save_pipeline(tmp_path / "start", vae, text_encoder, tokenizer, unet, build_scheduler())
    cfg = TrainGeneratorConfig(
        out="out",
        checkpoints="ck",
        bpe=str(bpe),
        compositions=16,
        unet_steps=2,
        unet_batch=2,
        checkpoint_every=10,
        init_from="start",
        lr_schedule="cosine",
        size={"vae_channels": [8, 8], "text_hidden": 32, "text_layers": 1, "text_heads": 2, "unet_channels": [32] * 3},
    )
    summary = train_generator(cfg, tmp_path, log=lambda m: None)
    assert summary["history"]["vae"] == [] and summary["init_from"] == "start"
    start = StableDiffusionPipeline.from_pretrained(tmp_path / "start", dtype=torch.float32)
    out = StableDiffusionPipeline.from_pretrained(tmp_path / "out", dtype=torch.float32)
    assert out.vae.config.scaling_factor == pytest.approx(0.77)
    for k, v in start.vae.state_dict().items():
        assert torch.equal(out.vae.state_dict()[k], v), k
    moved = [float((out.unet.state_dict()[k] - v).abs().max()) for k, v in start.unet.state_dict().items()]
    assert 0 < max(moved) < 0.1  # two small steps away from the start, not a fresh initialisation
