"""Generation with masks against the bare diffusers pipeline: whole processes, alternating, same model and seeds.

Each row is one whole process timed from start to exit (Python start-up, imports and model loading included, as
a user waits for them), run ``--rounds`` times in alternating order; the best round counts (the least disturbed
by other work on a shared machine; every round is printed too):

- ``synth``: ``synth synthesize RECIPE --limit N --quiet`` into a fresh data folder: attention capture, the
  recipe's feature capture (``generator.features``) if any, PNG encoding, statistics, Parquet shards, on the one
  torch thread generation always computes on (synth/core/torch_runtime.py NUMERICS_THREADS);
- ``synth_no_features``: the same without ``generator.features`` (attention capture only; the diffusion generator
  has no switch for that, it is what the method reads), when the recipe records features;
- ``bare``: ``StableDiffusionPipeline.from_pretrained`` with the same scheduler, steps, guidance, image size,
  batch, prompts and per-sample seeded latents, images returned as arrays and dropped, on torch's default
  thread count;
- ``bare_1thread``: the same on one torch thread: ``bare_1thread / bare`` is what thread-independent bytes cost;
- ``generator_1thread``: the project's generator alone, in a process of its own: the recipe loaded (with its
  checks), ``recipe.generator.build`` and ``generate`` over the same plans on one torch thread, every sample
  dropped: attention capture and the evidence the method stores (and features, if the recipe records them),
  without the CLI, encoding or Parquet. ``capture_to_bare_1thread=`` (bare_1thread / generator_1thread) is then
  the capture's own share, and ``stage_to_generator=`` (generator_1thread / synth) what the stage around it costs;
- ``synth_workers``: ``synth`` with ``--workers N`` (default: one per CPU core) one-thread worker processes
  instead of ``--workers 1`` (synth/backends/processes.py; the same bytes). Every synth row then uses shards of
  ``ceil(samples / N)`` samples (a multiple of the batch), so there is a shard for each worker.

Prints ``e2e_to_bare=`` (synth / bare samples per second; goal >= 0.95), ``e2e_to_bare_1thread=`` and
``workers_speedup=`` (synth / synth_workers seconds). Every row also prints its CPU seconds (user + system of the
process and its children, best round), and ``cpu_e2e_to_bare_1thread=`` compares the one-thread pair by them: on
a loaded machine wall seconds mostly measure the other work, CPU seconds what each run computed. ``--rows synth,synth_workers`` runs only those rows.

``--sd15`` builds a random-init Stable Diffusion 1.5 (its UNet, VAE and text encoder configs; a small word-level
tokenizer) under the temporary folder and runs a tests-style recipe on it at ``--image-size``.

Usage: python bench/generation.py [--recipe fashion-datasetgan] [--samples 32] [--rounds 2] [--workers N]
       python bench/generation.py --rows synth,synth_workers --samples 32
       python bench/generation.py --recipe fashion --rows synth,generator_1thread,bare_1thread --samples 96
       python bench/generation.py --sd15 [--samples 2] [--steps 4] [--image-size 256]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # tests.tinymodels

BARE = r"""
import json, sys
import numpy as np
import torch
import diffusers
from diffusers import StableDiffusionPipeline

spec = json.loads(open(sys.argv[1]).read())
if spec["threads"]:
    torch.set_num_threads(spec["threads"])
pipe = StableDiffusionPipeline.from_pretrained(
    spec["model"], torch_dtype=torch.float32, safety_checker=None, requires_safety_checker=False
)
pipe.scheduler = getattr(diffusers, spec["scheduler"]).from_config(pipe.scheduler.config)
pipe.set_progress_bar_config(disable=True)
side = spec["size"] // pipe.vae_scale_factor
for start in range(0, len(spec["seeds"]), spec["batch"]):
    seeds = spec["seeds"][start : start + spec["batch"]]
    latents = torch.cat(
        [torch.randn((1, pipe.unet.config.in_channels, side, side), generator=torch.Generator().manual_seed(s))
         for s in seeds]
    )
    images = pipe(
        prompt=spec["prompts"][start : start + spec["batch"]],
        negative_prompt=spec["negatives"][start : start + spec["batch"]] if spec["guidance"] > 1 else None,
        height=spec["size"], width=spec["size"], num_inference_steps=spec["steps"],
        guidance_scale=spec["guidance"], latents=latents, output_type="np",
    ).images
    np.clip(np.rint(images * 255.0), 0, 255).astype(np.uint8)
"""

GENERATOR = r"""
import json, sys
from pathlib import Path
from synth.core.torch_runtime import fixed_threads
from synth.generate.prompts import plan_sample
from synth.recipe.load import load_recipe

spec = json.loads(open(sys.argv[1]).read())
recipe = load_recipe(spec["recipe"], Path("."))
context = recipe.context()
plans = [plan_sample(context, seed) for seed in recipe.all_seeds()[: spec["samples"]]]
with fixed_threads(1):
    generator = recipe.generator.build(context)
    step = max(1, generator.batch_size)
    for start in range(0, len(plans), step):
        for sample in generator.generate(plans[start : start + step]):
            del sample
    generator.close()
"""

SCHEDULERS = {"ddim": "DDIMScheduler", "pndm": "PNDMScheduler", "euler": "EulerDiscreteScheduler"}


def environment(root: Path) -> dict:
    return os.environ | {
        "PYTHONPATH": str(REPO),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }


def children_cpu_seconds() -> float:
    """User + system CPU seconds of every finished (waited-for) child process and its own waited-for children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(argv: list[str], root: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one whole process: the CPU seconds count its worker and encoder processes
    too (each is waited for before it exits), and hardly change with the load of a shared machine."""
    cpu, start = children_cpu_seconds(), time.perf_counter()
    result = subprocess.run(argv, cwd=root, env=environment(root), capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"{' '.join(argv[:4])} in {root}: exit {result.returncode}: {result.stderr[-2000:]}")
    return time.perf_counter() - start, children_cpu_seconds() - cpu


def project(root: Path, recipe: dict) -> Path:
    """A folder ``synth`` runs in: the recipe, and this checkout's models/ (the recipe names models/...)."""
    (root / "recipes").mkdir(parents=True, exist_ok=True)
    (root / "recipes" / f"{recipe['name']}.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False))
    if not (root / "models").exists():
        (root / "models").symlink_to(REPO / "models")
    return root


def bare_spec(root: Path, recipe: dict, samples: int, threads: int | None) -> Path:
    """The bare loop's inputs: synth's own prompts for the same seeds (the bare process never imports synth)."""
    from synth.generate.prompts import plan_sample
    from synth.recipe.load import parse_recipe

    parsed = parse_recipe(yaml.safe_load(yaml.safe_dump(recipe)), f"recipes/{recipe['name']}.yaml")
    context = parsed.context()
    by_id = context.taxonomy.by_id()
    plans = [plan_sample(context, seed) for seed in parsed.all_seeds()[:samples]]
    gen = recipe["generator"]
    spec = {
        "model": str(Path(gen["model"]) if Path(gen["model"]).is_absolute() else root / gen["model"]),
        "scheduler": SCHEDULERS[gen.get("scheduler", "ddim")],
        "steps": gen["steps"],
        "guidance": gen["guidance_scale"],
        "batch": gen["batch_size"],
        "size": recipe["image_size"],
        "seeds": [plan.seed for plan in plans],
        "prompts": [f"{p.caption}; {' '.join(by_id[c].phrase for c in p.class_ids)}" for p in plans],
        "negatives": [plan.negative for plan in plans],
        "threads": threads,
    }
    path = root / f"bare-{threads or 'default'}.json"
    path.write_text(json.dumps(spec))
    return path


def sd15(folder: Path) -> Path:
    """A random-init SD 1.5: its UNet, VAE and CLIP ViT-L text encoder configs, a small word-level tokenizer."""
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel

    from tests.tinymodels import clip_tokenizer, save_sd_pipeline

    torch.manual_seed(0)
    unet = UNet2DConditionModel(sample_size=64, cross_attention_dim=768, attention_head_dim=8)  # SD 1.x's config
    vae = AutoencoderKL(
        block_out_channels=(128, 256, 512, 512),
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        layers_per_block=2,
        latent_channels=4,
        sample_size=512,
        scaling_factor=0.18215,
    )
    return save_sd_pipeline(
        folder, clip_tokenizer(), unet, vae, hidden_size=768, intermediate_size=3072, heads=12, layers=12
    )


def sd15_recipe(model: Path, samples: int, steps: int, size: int) -> dict:
    from tests.tinymodels import diffusion_recipe

    recipe = diffusion_recipe(model, image_size=size, samples_per_shard=samples)
    recipe["name"] = "sd15"
    recipe["seeds"] = [{"start": 0, "stop": samples}]
    recipe["generator"] |= {"steps": steps, "batch_size": 1, "features": {"timesteps": [50, 500], "dim": 64}}
    return recipe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipe", default="fashion-datasetgan")
    parser.add_argument("--samples", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--sd15", action="store_true", help="a random-init full-size SD 1.5 instead of --recipe")
    parser.add_argument("--steps", type=int, default=4, help="--sd15: denoising steps")
    parser.add_argument("--image-size", type=int, default=256, help="--sd15: image side")
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)), help="synth_workers' --workers")
    parser.add_argument("--rows", default="", help="comma-separated rows to run (default: all)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="synth-bench-gen-") as tmp:
        tmp = Path(tmp)
        if args.sd15:
            recipe = sd15_recipe(sd15(tmp / "sd15"), args.samples, args.steps, args.image_size)
        else:
            recipe = yaml.safe_load((REPO / "recipes" / f"{args.recipe}.yaml").read_text())
        batch = recipe["generator"]["batch_size"]
        per_worker = -(-args.samples // args.workers)
        recipe["samples_per_shard"] = -(-per_worker // batch) * batch  # a shard per worker, whole batches
        rows = {"synth": project(tmp / "synth", recipe)}
        if args.workers > 1:
            rows["synth_workers"] = project(tmp / "synth_workers", recipe)
        if recipe["generator"].get("features") is not None:
            plain = recipe | {  # attention masks instead: a captured-features decoder needs the features
                "generator": {k: v for k, v in recipe["generator"].items() if k != "features"},
                "decode": {"type": "attention"},
            }
            rows["synth_no_features"] = project(tmp / "synth_no_features", plain)
        for label, threads in (("bare", None), ("bare_1thread", 1)):
            rows[label] = project(tmp / label, recipe)
            bare_spec(rows[label], recipe, args.samples, threads)
        rows["generator_1thread"] = project(tmp / "generator_1thread", recipe)
        (rows["generator_1thread"] / "generator.json").write_text(
            json.dumps({"recipe": recipe["name"], "samples": args.samples})
        )
        if args.rows:
            rows = {label: rows[label] for label in args.rows.split(",")}
        synth = ["synth", "synthesize", recipe["name"], "--limit", str(args.samples), "--quiet", "--workers"]
        commands = {
            label: [sys.executable, "-c", BARE, f"bare-{'1' if label == 'bare_1thread' else 'default'}.json"]
            if label.startswith("bare")
            else [sys.executable, "-c", GENERATOR, "generator.json"]
            if label == "generator_1thread"
            else synth + [str(args.workers if label == "synth_workers" else 1)]
            for label in rows
        }
        seconds: dict[str, list[float]] = {label: [] for label in rows}
        cpu: dict[str, list[float]] = {label: [] for label in rows}
        for round_ in range(args.rounds):
            order = list(rows) if round_ % 2 == 0 else list(reversed(rows))
            for label in order:
                shutil.rmtree(rows[label] / "data", ignore_errors=True)
                wall, used = timed(commands[label], rows[label])
                seconds[label].append(wall)
                cpu[label].append(used)
        best = {label: min(values) for label, values in seconds.items()}
        best_cpu = {label: min(values) for label, values in cpu.items()}
        gen = recipe["generator"]
        print(
            f"[{recipe['name']}: samples={args.samples} steps={gen['steps']} batch={gen['batch_size']} "
            f"image_size={recipe['image_size']} samples_per_shard={recipe['samples_per_shard']} rounds={args.rounds} "
            f"cpus={os.cpu_count()} "
            f"load={os.getloadavg()[0]:.1f}]"
        )
        for label, values in seconds.items():
            rounds = " ".join(f"{v:.1f}" for v in values)
            cpu_rounds = " ".join(f"{v:.1f}" for v in cpu[label])
            print(
                f"{label}_s={best[label]:.2f} samples_per_s={args.samples / best[label]:.3f} (rounds: {rounds}) "
                f"cpu_s={best_cpu[label]:.2f} (rounds: {cpu_rounds})"
            )
        ratios = {
            "features_to_no_features": ("synth_no_features", "synth", ""),
            "workers_speedup": ("synth", "synth_workers", f" (--workers {args.workers} vs 1)"),
            "bare_1thread_to_bare": ("bare", "bare_1thread", ""),
            "e2e_to_bare_1thread": ("bare_1thread", "synth", ""),
            "capture_to_bare_1thread": ("bare_1thread", "generator_1thread", " (the generator's capture and evidence)"),
            "stage_to_generator": ("generator_1thread", "synth", " (CLI, encoding, statistics, Parquet)"),
            "e2e_to_bare": ("bare", "synth", " (goal >= 0.95)"),
            "e2e_workers_to_bare": ("bare", "synth_workers", ""),
        }
        for name, (fast, slow, note) in ratios.items():
            if fast in best and slow in best:
                print(f"{name}={best[fast] / best[slow]:.3f}{note}")
        for name in (
            "e2e_to_bare_1thread",
            "capture_to_bare_1thread",
            "stage_to_generator",
            "features_to_no_features",
        ):  # the pairs that compute on one thread
            fast, slow, _ = ratios[name]
            if fast in best_cpu and slow in best_cpu:
                print(f"cpu_{name}={best_cpu[fast] / best_cpu[slow]:.3f} (CPU seconds)")


if __name__ == "__main__":
    main()
