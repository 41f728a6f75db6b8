"""Cost of recording DatasetGAN features during generation, on the full-size SD 1.5 UNet at 512 px (random weights).

The same ``diffusion`` generator and seeds run without ``generator.features`` (off) and with it (on: hooks on
all four up blocks, the chosen timesteps placed so that EVERY denoising step is recorded, the worst case),
alternating in one process. Both keep the generator's attention capture, so the ratio isolates the feature
capture. A tiny VAE and a one-layer 768-wide text encoder stand in for SD's (as in bench/attention_capture.py).

Also prints the stored bytes per image against the unreduced activations, the recorder's state per image, peak
RSS of each mode in its own process (whole run, and generation alone), and the time the re-encode path
(``sd_unet``: VAE encode + one UNet pass per timestep over the finished image) spends per image at train and
decode time, which the in-pass path does not spend. Last line: ``inpass_capture_time_ratio=<on/off>``.

Usage: python bench/inpass_features.py [--steps 2] [--reps 2] [--dim 64]
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
sys.path.insert(0, str(REPO / "bench"))


def timesteps_for(steps: int) -> list[int]:
    """One requested timestep per denoising step of the DDIM schedule (steps_offset=1): all steps recorded."""
    from diffusers import DDIMScheduler

    from synth.generate.unet_features import denoising_timesteps

    return [int(t) for t in denoising_timesteps(DDIMScheduler(steps_offset=1), steps)]


def make_generator(model: Path, steps: int, features: dict | None):
    import yaml

    from synth.recipe.load import parse_recipe
    from tests.tinymodels import diffusion_recipe

    data = diffusion_recipe(model, image_size=512)
    data["generator"].update(steps=steps, batch_size=1)
    if features is not None:
        data["generator"]["features"] = features
        data["decode"] = {"type": "datasetgan", "features": {"type": "captured"}}
    recipe = parse_recipe(yaml.safe_load(yaml.safe_dump(data)), "recipes/tinysd.yaml")
    return recipe.generator.build(recipe.context()), recipe


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


def child(model: Path, steps: int, features: dict | None) -> None:
    """Peak RSS of the whole process, and of generation alone: the high-water mark is reset (Linux
    ``clear_refs`` 5) after the model is loaded, whose own peak would otherwise hide everything after it."""
    from synth.generate.prompts import plan_sample

    generator, recipe = make_generator(model, steps, features)
    plans = [plan_sample(recipe.context(), 0)]
    generator.generate(plans)  # warm-up: allocator pools, lazy kernels
    before = _status_mb("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")
    generator.generate(plans)
    print(
        json.dumps(
            {
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "generation_peak_above_start_mb": _status_mb("VmHWM") - before,
            }
        )
    )


def reencode_seconds(model: Path, timesteps: list[int], record) -> float:
    from synth.decode.datasetgan.features.sd_unet import SDUnetFeaturesConfig

    source = SDUnetFeaturesConfig(model=str(model), timesteps=timesteps).build()
    source.maps(record)  # warm-up
    start = time.perf_counter()
    source.maps(record)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--child", choices=["on", "off"])
    parser.add_argument("--model")
    args = parser.parse_args()
    features = {"timesteps": timesteps_for(args.steps), "dim": args.dim}
    if args.child:
        child(Path(args.model), args.steps, features if args.child == "on" else None)
        return

    from attention_capture import alternate, save_pipeline

    from synth.generate.prompts import plan_sample
    from synth.store.codec import encode_array, encode_png
    from synth.store.records import SampleRecord

    with tempfile.TemporaryDirectory(prefix="synth-inpass-bench-") as tmp:
        model = Path(tmp) / "sd15-random"
        save_pipeline(model)
        on, recipe = make_generator(model, args.steps, features)
        off, _ = make_generator(model, args.steps, None)
        plans = [plan_sample(recipe.context(), 0)]
        sample = on.generate(plans)[0]
        off.generate(plans)  # warm-up
        times = alternate(off, on, plans, args.reps)
        recorder = on.features
        on.close(), off.close()
        del on, off
        record = SampleRecord(0, sample.prompt, encode_png(sample.image), None, {}, {})
        reencode = reencode_seconds(model, features["timesteps"], record)
        peaks = {}
        for mode in ("off", "on"):
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    mode,
                    "--model",
                    str(model),
                    "--steps",
                    str(args.steps),
                    "--dim",
                    str(args.dim),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            peaks[mode] = json.loads(out.stdout.strip().splitlines()[-1])
    best = {mode: min(values) for mode, values in times.items()}
    side, dim, raw = recorder.side, recorder.settings.dim, recorder.raw_channels
    stored = len(encode_array(sample.arrays["features"]))
    per_step_raw = sum(recorder.channels) * 64 * 64 * 2  # every up block upsampled to the 64x64 latent grid, fp16
    print(
        f"steps={args.steps} reps={args.reps} recorded steps at t={recorder.timesteps} blocks={recorder.blocks} "
        f"channels={recorder.channels} raw_dims={raw} -> dim={dim} at {side}x{side}"
    )
    print(
        f"seconds_per_image off={best['off']:.2f} on={best['on']:.2f} (all runs: off={times['off']} on={times['on']})"
    )
    print(
        f"stored_bytes_per_image={stored} (fp16 {dim}x{side}x{side} + npy header); unreduced fp16 at 64x64: "
        f"{per_step_raw / 1e6:.1f} MB per recorded timestep, {per_step_raw * len(recorder.timesteps) / 1e6:.1f} MB here"
    )
    print(f"recorder_state_mb_per_image={dim * side * side * 4 / 2**20:.2f} (fp32 running sum)")
    print(
        f"peak_rss_mb off={peaks['off']['peak_rss_mb']:.0f} on={peaks['on']['peak_rss_mb']:.0f} (model loading sets it)"
    )
    print(
        "generation_peak_rss_above_start_mb off={:.0f} on={:.0f}".format(
            *(peaks[m]["generation_peak_above_start_mb"] for m in ("off", "on"))
        )
    )
    print(
        f"reencode_seconds_per_image={reencode:.2f} (sd_unet over the finished image, {len(features['timesteps'])} "
        f"timesteps, tiny stand-in VAE; spent at every train and decode, not by the in-pass path)"
    )
    print(f"inpass_capture_time_ratio={best['on'] / best['off']:.3f}")


if __name__ == "__main__":
    main()
