"""How much of the synthetic-to-target gap do stylization and CSA adaptation close? Honest, because the target
domain is the ``scenes`` generator in another appearance (night palette, colour cast, tone curve, blur, sensor
noise, a small hue rotation), so its labels are exact.

Prints mIoU on the labeled target evaluation set for a tiny UNet trained on: the source only; the stylized
source (Reinhard LAB transfer toward the unlabeled target images); the stylized source + CSA adaptation
(ClassMix, EMA teacher, top-k prototypes, contrastive loss), and the same without the contrastive term (an
ablation); and labeled target images (the upper bound).
Last line: ``gap_closed=<x>``, the share of the source-to-target mIoU gap the best variant closes.

    python bench/domain_gap.py            # about 5 CPU minutes on 1 thread
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TARGET_LOOK = {
    "background_palette": "night",
    "tint": [0.6, 0.8, 1.3],
    "gamma": 1.4,
    "hue_shift": 20.0,
    "blur": 0.8,
    "sensor_noise": 6.0,
    "texture_strength": 0.5,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=300, help="source (and target-trained) images")
    parser.add_argument("--target", type=int, default=150, help="unlabeled target images")
    parser.add_argument("--eval", type=int, default=100, help="labeled target evaluation images")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    os.environ.setdefault("SYNTH_TORCH_THREADS", str(args.threads))

    from synth.adapt.domain import domain_distance
    from synth.adapt.stylize import lab_stats, reinhard
    from synth.evaluate.config import EvaluateSettings
    from synth.evaluate.train import Arrays
    from synth.generate.prompts import plan_sample
    from synth.generate.scenes import ScenesConfig
    from synth.recipe.load import parse_recipe
    from synth.stages.evaluate import score_variants

    import numpy as np

    root = Path(__file__).resolve().parents[1]
    data = yaml.safe_load((root / "recipes" / "street-scenes.yaml").read_text())
    data |= {"image_size": args.size, "seeds": [{"start": 0, "stop": args.train}]}
    recipe = parse_recipe(data, "recipes/street-scenes.yaml")

    def draw(seeds: range, look: dict) -> Arrays:
        config = ScenesConfig.model_validate(recipe.generator.model_dump() | look)
        samples = config.build(recipe.context()).generate([plan_sample(recipe.context(), s) for s in seeds])
        return Arrays(np.stack([s.image for s in samples]), np.stack([s.mask for s in samples]))

    started = time.perf_counter()
    source = draw(range(0, args.train), {})
    target_train = draw(range(10_000, 10_000 + args.train), TARGET_LOOK)
    target = Arrays(target_train.images[: args.target])  # the unlabeled target images stylization/adaptation see
    evaluation = draw(range(20_000, 20_000 + args.eval), TARGET_LOOK)
    stats = lab_stats(list(target.images))
    stylized = Arrays(np.stack([reinhard(img, *stats, 1.0) for img in source.images]), source.masks)
    before = domain_distance(list(source.images), list(target.images))
    after = domain_distance(list(stylized.images), list(target.images))
    print(f"domain distance to target (Frechet, LAB stats): source {before:.2f}, stylized {after:.2f}")

    cfg = EvaluateSettings(
        variants=["source", "stylized", "adapted"], image_size=args.size, steps=args.steps, batch_size=8, width=16,
        adapt={"teacher_ema": 0.99, "warmup_steps": args.steps // 4},
    )
    names = ["background", *[c.name for c in recipe.taxonomy.classes]]
    sets = {"source": source, "stylized": stylized, "target": target, "eval": evaluation}
    results = score_variants(sets, len(names), cfg, names)
    no_contrast = cfg.model_copy(update={"variants": ["adapted"], "adapt": cfg.adapt.model_copy(update={"contrastive_weight": 0.0})})
    ablation = score_variants(sets, len(names), no_contrast, names)["adapted"]
    upper = score_variants(sets | {"source": target_train}, len(names), cfg.model_copy(update={"variants": ["source"]}), names)["source"]

    rows = [
        ("source only", results["source"]["miou"]),
        ("+ stylization", results["stylized"]["miou"]),
        ("+ stylization + adaptation", results["adapted"]["miou"]),
        ("  (adaptation w/o contrastive)", ablation["miou"]),
        ("target-trained (upper bound)", upper["miou"]),
    ]
    for label, value in rows:
        print(f"{label:<30} mIoU {value:.4f}")
    print(f"elapsed {time.perf_counter() - started:.0f}s, {args.train} train / {args.target} unlabeled target / {args.eval} eval images, {args.steps} steps, {args.size}px")
    src, best, top = rows[0][1], max(r[1] for r in rows[1:4]), rows[4][1]
    print(f"gap_closed={(best - src) / (top - src) if top > src else 0.0:.3f}")


if __name__ == "__main__":
    main()
