"""A tiny Stable Diffusion pipeline with random weights, built from configs and saved like a real one.

Same classes and folder layout as a Hub checkpoint, so the generator's real ``from_pretrained`` path loads it.
At 128 px the latent is 16x16; the UNet has attention at 16, 8 and 4, so the default capture sides for a
128 px image (cross 4 = 128/32, self 8 = 128/16) exist, as 16 and 32 do for 512 px in SD 1.5.
"""

from __future__ import annotations

import string
from pathlib import Path

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
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

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
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(tokenizer),
            hidden_size=32,
            intermediate_size=37,
            num_attention_heads=4,
            num_hidden_layers=2,
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
    }
    recipe.update(changes)
    return recipe
