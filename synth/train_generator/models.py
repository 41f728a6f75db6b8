"""The tiny latent text-to-image model: the same component classes as Stable Diffusion 1.x, sized for a CPU.

64x64 RGB images <-> 16x16x4 latents (VAE factor 4), a 2-layer CLIP text encoder over CLIP's real BPE
vocabulary, and a UNet with cross-attention at latent sides 16 and 8 (image sides 64 and 32), the two
resolutions Dataset Diffusion reads its class maps from.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelSize:
    vae_channels: tuple[int, ...] = (32, 64, 64)
    text_hidden: int = 128
    text_layers: int = 2
    text_heads: int = 4
    unet_channels: tuple[int, int, int] = (64, 128, 128)
    unet_layers_per_block: int = 1
    unet_heads: int = 4


def build_vae(size: ModelSize):
    from diffusers import AutoencoderKL

    n = len(size.vae_channels)
    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * n,
        up_block_types=("UpDecoderBlock2D",) * n,
        block_out_channels=size.vae_channels,
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=8,
        sample_size=64,
    )


def build_text_encoder(size: ModelSize, tokenizer):
    from transformers import CLIPTextConfig, CLIPTextModel

    config = CLIPTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=size.text_hidden,
        intermediate_size=4 * size.text_hidden,
        num_hidden_layers=size.text_layers,
        num_attention_heads=size.text_heads,
        max_position_embeddings=tokenizer.model_max_length,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        projection_dim=size.text_hidden,
    )
    return CLIPTextModel(config)


def build_unet(size: ModelSize):
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        sample_size=16,
        in_channels=4,
        out_channels=4,
        block_out_channels=size.unet_channels,
        layers_per_block=size.unet_layers_per_block,
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=size.text_hidden,
        attention_head_dim=size.unet_heads,  # diffusers' legacy name: the number of heads
        norm_num_groups=32,
    )


def build_scheduler(train_steps: int = 1000):
    from diffusers import DDIMScheduler

    return DDIMScheduler(
        num_train_timesteps=train_steps,
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
        prediction_type="epsilon",
    )
