"""Cost of Dataset Diffusion's attention capture, on the full-size SD 1.5 UNet at 512 px (random weights).

The same pipeline and seeds run with capture off (default processors everywhere) and on (capture processors on
the 16x16 cross- and 32x32 self-attention layers only), alternating in one process. The 64x64 layers, where most
of the UNet's attention time goes, keep the default processor in both, as in real use. A tiny VAE and a one-layer
768-wide text encoder stand in for SD's (they are the same in both modes and not what is measured).

Prints per-mode seconds per image, the capture state per image against storing every map at every step (the
reference implementation), peak RSS of each mode in its own process, and last ``capture_time_ratio=<on/off>``.

Usage: python bench/attention_capture.py [--steps 2] [--reps 2]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SD15_UNET = {
    "sample_size": 64,
    "in_channels": 4,
    "out_channels": 4,
    "layers_per_block": 2,
    "block_out_channels": (320, 640, 1280, 1280),
    "down_block_types": ("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    "up_block_types": ("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    "cross_attention_dim": 768,
    "attention_head_dim": 8,
}


def save_pipeline(folder: Path) -> None:
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    from tests.tinymodels import clip_tokenizer

    torch.manual_seed(0)
    tokenizer = clip_tokenizer()
    pipe = StableDiffusionPipeline(
        unet=UNet2DConditionModel(**SD15_UNET),
        vae=AutoencoderKL(
            block_out_channels=(8, 16, 16, 16),
            down_block_types=("DownEncoderBlock2D",) * 4,
            up_block_types=("UpDecoderBlock2D",) * 4,
            latent_channels=4,
            norm_num_groups=8,
        ),
        text_encoder=CLIPTextModel(
            CLIPTextConfig(
                vocab_size=len(tokenizer),
                hidden_size=768,
                intermediate_size=768,
                num_attention_heads=12,
                num_hidden_layers=1,
                max_position_embeddings=77,
                bos_token_id=0,
                eos_token_id=1,
                pad_token_id=1,
            )
        ),
        tokenizer=tokenizer,
        scheduler=DDIMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, steps_offset=1),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(folder)


def make_generator(model: Path, steps: int, capture: bool):
    import yaml

    from synth.recipe.load import parse_recipe
    from tests.tinymodels import diffusion_recipe

    data = diffusion_recipe(model, image_size=512)
    data["generator"].update(steps=steps, batch_size=1)
    recipe = parse_recipe(yaml.safe_load(yaml.safe_dump(data)), "recipes/tinysd.yaml")
    generator = recipe.generator.build(recipe.context())
    if not capture:
        from diffusers.models.attention_processor import AttnProcessor2_0

        unet = generator.pipe.unet
        unet.set_attn_processor({k: AttnProcessor2_0() for k in unet.attn_processors})
        generator.generate = _plain(generator, recipe)
    return generator, recipe


def _plain(generator, recipe):
    """Capture off: the same call into the pipeline, without the store and the refinement."""
    import torch

    def run(plans):
        latents = torch.cat(
            [torch.randn((1, 4, 64, 64), generator=torch.Generator().manual_seed(p.seed)) for p in plans]
        )
        return generator.pipe(
            prompt=[p.caption for p in plans],
            negative_prompt=[p.negative for p in plans],
            height=512,
            width=512,
            num_inference_steps=generator.config.steps,
            guidance_scale=generator.config.guidance_scale,
            latents=latents,
            output_type="np",
        ).images

    return run


def child(model: Path, steps: int, capture: bool) -> None:
    from synth.generate.prompts import plan_sample

    generator, recipe = make_generator(model, steps, capture)
    generator.generate([plan_sample(recipe.context(), 0)])
    print(json.dumps({"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def reference_bytes_per_image(steps: int) -> int:
    """Every attention map of every layer at every step, head-averaged, fp32 (as the reference's store keeps)."""
    sides = {"down": [64, 64, 32, 32, 16, 16], "up": [16, 16, 16, 32, 32, 32, 64, 64, 64], "mid": [8]}
    total = 0
    for side in [s for group in sides.values() for s in group]:
        pixels = side * side
        total += pixels * pixels + pixels * 77  # self (L x L) + cross (L x 77)
    return total * 4 * steps


def alternate(off, on, plans, reps: int) -> dict[str, list[float]]:
    """Seconds per generate call of each mode, off and on taking turns so that machine noise hits both."""
    times: dict[str, list[float]] = {"on": [], "off": []}
    for _ in range(reps):
        for mode, generator in (("off", off), ("on", on)):
            start = time.perf_counter()
            generator.generate(plans)
            times[mode].append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--child", choices=["on", "off"])
    parser.add_argument("--model")
    args = parser.parse_args()
    if args.child:
        child(Path(args.model), args.steps, args.child == "on")
        return

    from synth.generate.prompts import plan_sample

    with tempfile.TemporaryDirectory(prefix="synth-attn-bench-") as tmp:
        model = Path(tmp) / "sd15-random"
        save_pipeline(model)
        on, recipe = make_generator(model, args.steps, capture=True)
        off, _ = make_generator(model, args.steps, capture=False)
        plans = [plan_sample(recipe.context(), 0)]
        on.generate(plans), off.generate(plans)  # warm-up
        times = alternate(off, on, plans, args.reps)
        layers = on.captured_layers
        k = len(plans[0].class_ids)
        state = (32 * 32) ** 2 * 4 + 16 * 16 * k * 4
        peaks = {}
        for mode in ("off", "on"):
            out = subprocess.run(
                [sys.executable, __file__, "--child", mode, "--model", str(model), "--steps", str(args.steps)],
                capture_output=True,
                text=True,
                check=True,
            )
            peaks[mode] = json.loads(out.stdout.strip().splitlines()[-1])["peak_rss_mb"]
    best = {mode: min(values) for mode, values in times.items()}
    print(f"steps={args.steps} reps={args.reps} captured_layers cross={layers['cross']} self={layers['self']}")
    print(f"seconds_per_image off={best['off']:.2f} on={best['on']:.2f}")
    print(
        f"capture_state_mb_per_image={state / 2**20:.2f} reference_all_maps_all_steps_mb="
        f"{reference_bytes_per_image(args.steps) / 2**20:.0f} (at {args.steps} steps; x{100 // args.steps} for 100 steps)"
    )
    print(f"peak_rss_mb off={peaks['off']:.0f} on={peaks['on']:.0f}")
    print(f"capture_time_ratio={best['on'] / best['off']:.3f}")


if __name__ == "__main__":
    main()
