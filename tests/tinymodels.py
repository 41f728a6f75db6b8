"""Tiny random-weight models for tests and the bench: real architectures, saved and loaded the real way.

No model weights can be downloaded here, so the honest stand-in for Stable Diffusion is its own architecture
(diffusers ``UNet2DConditionModel`` + ``AutoencoderKL`` + transformers CLIP text encoder) at a few thousand
parameters with random weights, written with ``save_pretrained`` and read back by the same ``from_pretrained``
path a hub id takes. Random-weight features are a lower bound on what trained ones carry; the bench says so.
"""

from __future__ import annotations

import json
from pathlib import Path


def _tiny_tokenizer(folder: Path) -> None:
    """A character-level CLIP BPE vocabulary: every printable ASCII character, alone and word-final."""
    chars = [chr(c) for c in range(33, 127)]
    tokens = ["<|startoftext|>", "<|endoftext|>", *chars, *(c + "</w>" for c in chars)]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}))
    (folder / "merges.txt").write_text("#version: 0.2\n")


def build_tiny_sd(path: str | Path, seed: int = 0) -> Path:
    """A diffusers pipeline folder (unet/ vae/ text_encoder/ tokenizer/ scheduler/) of tiny random models.

    The VAE downsamples 2x (not SD's 8x) so a 64 px image still has a 32x32 latent.
    """
    import torch
    from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    path = Path(path)
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        sample_size=32,
        in_channels=4,
        out_channels=4,
        layers_per_block=1,
        block_out_channels=(32, 64),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=4,
        norm_num_groups=16,
    )
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        block_out_channels=(16, 32),
        layers_per_block=1,
        down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2,
        norm_num_groups=16,
    )
    # SD's scaling_factor is 1 / std of its VAE's latents, so that noising at t means what the scheduler says;
    # calibrate the random VAE the same way, on smooth random images.
    with torch.no_grad():
        images = torch.nn.functional.interpolate(torch.rand(8, 3, 8, 8) * 2 - 1, size=64, mode="bilinear")
        latents = vae.encode(images).latent_dist.mean
    vae.register_to_config(scaling_factor=float(1.0 / latents.std()))
    text = CLIPTextModel(
        CLIPTextConfig(
            hidden_size=32,
            intermediate_size=37,
            num_attention_heads=4,
            num_hidden_layers=2,
            vocab_size=200,
            max_position_embeddings=77,
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
        )
    )
    _tiny_tokenizer(path / "tokenizer")
    tokenizer = CLIPTokenizer(
        str(path / "tokenizer" / "vocab.json"), str(path / "tokenizer" / "merges.txt"), model_max_length=77
    )
    unet.save_pretrained(path / "unet")
    vae.save_pretrained(path / "vae")
    text.save_pretrained(path / "text_encoder")
    tokenizer.save_pretrained(path / "tokenizer")
    DDPMScheduler(num_train_timesteps=1000).save_pretrained(path / "scheduler")
    return path


def build_tiny_stylegan2(path: str | Path, resolution: int = 64, seed: int = 0) -> Path:
    import torch

    from synth.generate.stylegan2_network import StyleGAN2Generator, save_stylegan2

    torch.manual_seed(seed)
    model = StyleGAN2Generator(
        resolution=resolution, z_dim=32, w_dim=32, mapping_layers=2, channel_base=512, channel_max=32
    )
    save_stylegan2(model, path)
    return Path(path)
