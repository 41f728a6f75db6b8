"""Tiny random-weight models for tests and the bench: real architectures, saved and loaded the real way.

No model weights can be downloaded here, so the honest stand-in for Stable Diffusion is its own architecture
(diffusers ``UNet2DConditionModel`` + ``AutoencoderKL`` + transformers CLIP text encoder) at a few thousand
parameters with random weights, written with ``save_pretrained`` and read back by the same ``from_pretrained``
path a hub id takes. Random-weight features are a lower bound on what trained ones carry; the bench says so.

Two tiny Stable Diffusion layouts, for two kinds of test:
- ``build_tiny_sd``: a character-level tokenizer and a 2x VAE (64 px -> 32x32 latent): UNet features for the
  DatasetGAN decoder, where no prompt word needs to be one token;
- ``save_tiny_sd``: SD's own layout (8x VAE, cross-attention at every level, DDIM with SD's betas) with a word-level
  BPE in which each test class word is one token: attention capture and decoding, where class tokens matter.
``diffusion_recipe`` is a recipe around the second.
"""

from __future__ import annotations

import json
import string
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


WORDS = ["a", "photo", "of", "car", "tree", "dog", "person", "big", "and", "on", "the", "street", "sky"]


def clip_tokenizer():
    from transformers import CLIPTokenizer

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for ch in string.ascii_lowercase + ",;.!'":
        vocab.setdefault(ch, len(vocab))
        vocab.setdefault(ch + "</w>", len(vocab))
    merges = []
    for word in WORDS:  # merge each known word into one token, left to right, as BPE would
        pieces = list(word[:-1]) + [word[-1] + "</w>"]
        while len(pieces) > 1:
            pair = (pieces[0], pieces[1])
            if pair not in merges:
                merges.append(pair)
            vocab.setdefault(pair[0] + pair[1], len(vocab))
            pieces = [pair[0] + pair[1], *pieces[2:]]
    return CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=77)


def save_tiny_sd(folder: Path, vae_factor: int = 8) -> Path:
    """``vae_factor`` 8 as SD (128 px images -> 16x16 latents); 4 gives the 64 px layout of models/fashion-sd."""
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel

    torch.manual_seed(0)
    tokenizer = clip_tokenizer()
    unet = UNet2DConditionModel(
        sample_size=16,
        block_out_channels=(32, 32, 64),
        layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=8,
        norm_num_groups=8,
    )
    blocks = vae_factor.bit_length()  # one DownEncoderBlock2D more than the number of 2x downsamplings
    vae = AutoencoderKL(
        block_out_channels=(8, 16, 16, 16)[:blocks],
        down_block_types=("DownEncoderBlock2D",) * blocks,
        up_block_types=("UpDecoderBlock2D",) * blocks,
        latent_channels=4,
        norm_num_groups=8,
        sample_size=16 * vae_factor,
    )
    return save_sd_pipeline(folder, tokenizer, unet, vae, hidden_size=32, intermediate_size=37, heads=4, layers=2)


def save_sd_pipeline(
    folder: Path, tokenizer, unet, vae, hidden_size: int, intermediate_size: int, heads: int, layers: int
):
    """A StableDiffusionPipeline folder around ``unet`` and ``vae``: a CLIP text encoder of the given size over
    ``tokenizer``, SD's DDIM schedule, no safety checker; saved the real way (``save_pretrained``)."""
    from diffusers import DDIMScheduler, StableDiffusionPipeline
    from transformers import CLIPTextConfig, CLIPTextModel

    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(tokenizer),
            hidden_size=hidden_size,
            intermediate_size=intermediate_size,
            num_attention_heads=heads,
            num_hidden_layers=layers,
            max_position_embeddings=77,
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
        )
    )
    scheduler = DDIMScheduler(
        beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, clip_sample=False, steps_offset=1
    )
    pipe = StableDiffusionPipeline(
        unet=unet,
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(folder)
    return folder


def diffusion_recipe(model: Path, **changes) -> dict:
    recipe = {
        "name": "tinysd",
        "version": "1.0.0",
        "description": "Tiny random-weight Stable Diffusion for tests.",
        "license": "cc-by-4.0",
        "hub_repo": None,
        "generator": {
            "type": "diffusion",
            "model": str(model),
            "revision": None,
            "steps": 3,
            "batch_size": 2,
            "tau": 1,
            "guidance_scale": 7.5,
        },
        "taxonomy": {
            "classes": [
                {"id": 1, "name": "car", "color": "#e6194b"},
                {"id": 2, "name": "tree", "color": "#4363d8", "prompt": "big tree"},
                {"id": 3, "name": "dog", "color": "#ffe119"},
            ]
        },
        "prompts": {
            "templates": ["a photo of {classes} on the street"],
            "negative": "sky",
            "classes_per_sample": {"min": 1, "max": 2},
        },
        "seeds": [{"start": 0, "stop": 6}],
        "image_size": 128,
        "samples_per_shard": 4,
        "image_format": "png",
        "splits": {"train": 0.5, "validation": 0.25, "test": 0.25},
        "decode": {"type": "attention"},
        "validation": {
            "min_class_presence": 0.0,
            "max_class_kl": 100.0,
            "max_ignore_fraction": 1.0,
            "max_components": 1000,
            "max_empty_fraction": 1.0,
            "max_duplicate_fraction": 1.0,
        },
        "evaluate": None,
    }
    recipe.update(changes)
    return recipe
