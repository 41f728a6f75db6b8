"""How well does a DatasetGAN decoder trained on N "human" annotations label held-out samples?

Measured where the answer is known: samples of the ``scenes`` generator (exact masks) at 64 px, passed through
the ``sd_unet`` feature source over a tiny random-weight Stable Diffusion (diffusers UNet2DConditionModel +
AutoencoderKL + CLIP text encoder, built with ``tests.tinymodels.build_tiny_sd``, saved and loaded with
``from_pretrained``; no trained weights can be downloaded here). The annotated samples are picked the way
``synth annotate export`` picks them (greedy coverage of the taxonomy); their exact masks play the human
labels. The held-out samples are never annotated.

``--project-dim D`` reduces every sample's maps the way in-pass capture (``generator.features``) stores them:
each map scaled to unit RMS, randomly projected to D channels and summed on the finest map's grid
(``synth.generate.unet_features.reduce_group``), which measures what that reduction costs the decoder.

Prints mIoU (classes + background, over all held-out pixels) for 4, 16 and 64 annotations, then, for the
16-annotation decoder, the mIoU of the held-out samples that remain after dropping the most uncertain share,
and the rank correlation between image uncertainty and image error. Last line: ``fewshot_miou=<x>`` (16).

    python bench/fewshot_decoder.py [--heldout 64] [--members 10] [--pixels-per-image 2048] [--project-dim 64]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def scenes_recipe(image_size: int, seeds: int):
    import yaml

    from synth.recipe.load import parse_recipe

    root = Path(__file__).resolve().parents[1]
    data = yaml.safe_load((root / "recipes" / "street-scenes.yaml").read_text())
    data.update(image_size=image_size, seeds=[{"start": 0, "stop": seeds}])
    return parse_recipe(data, "street-scenes.yaml")


def scenes_records(recipe):
    from synth.generate.prompts import plan_sample
    from synth.store.codec import encode_png
    from synth.store.records import SampleRecord

    generator = recipe.generator.build(recipe.context())
    out = []
    for sample in generator.generate([plan_sample(recipe.context(), s) for s in recipe.all_seeds()]):
        out.append(SampleRecord(sample.seed, sample.prompt, encode_png(sample.image), encode_png(sample.mask), {}, {}))
    return out


def confusion(pred: np.ndarray, truth: np.ndarray, values: list[int]) -> np.ndarray:
    index = np.full(256, -1)
    index[values] = np.arange(len(values))
    p, t = index[pred.ravel()], index[truth.ravel()]
    keep = (t >= 0) & (p >= 0)
    return np.bincount(t[keep] * len(values) + p[keep], minlength=len(values) ** 2).reshape(len(values), len(values))


def miou(conf: np.ndarray) -> float:
    inter = np.diag(conf).astype(float)
    union = conf.sum(0) + conf.sum(1) - inter
    present = union > 0
    return float((inter[present] / union[present]).mean())


def project_maps(maps, dim: int, seed: int = 0):
    """The in-pass reduction applied to a list of maps: one dim x r x r map, r the finest side."""
    from synth.generate.unet_features import projection_matrices, reduce_group

    side = max(m.shape[-1] for m in maps)
    matrices = projection_matrices(seed, dim, [m.shape[0] for m in maps], 1)
    return [sum(reduce_group(m[None], w, side)[0] for m, w in zip(maps, matrices))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--heldout", type=int, default=64)
    parser.add_argument("--members", type=int, default=10)
    parser.add_argument("--pixels-per-image", type=int, default=2048)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-epochs", type=int, default=20)
    parser.add_argument("--drop", type=float, default=0.1, help="Most uncertain share to drop.")
    parser.add_argument("--counts", default="4,16,64")
    parser.add_argument("--timesteps", default="50,150,250", help="sd_unet: DDPM-Seg's choice by default.")
    parser.add_argument(
        "--source",
        choices=["sd_unet", "random_conv"],
        default="sd_unet",
        help="random_conv: a fixed random conv pyramid over the image (not a generator), for contrast.",
    )
    parser.add_argument("--project-dim", type=int, default=0, help="Reduce the maps as in-pass capture stores them.")
    args = parser.parse_args()

    import torch
    from scipy.stats import spearmanr

    from synth.decode.datasetgan.annotations import pick_covering
    from synth.decode.datasetgan.ensemble import TrainSettings, collect_pixels, label_image, train_ensemble
    from synth.decode.datasetgan.features.sd_unet import SDUnetFeaturesConfig
    from synth.decode.datasetgan.features.sources import RandomConvFeaturesConfig
    from tests.tinymodels import build_tiny_sd

    torch.set_num_threads(1)  # tiny models: threads only contend on a shared CPU
    counts = [int(c) for c in args.counts.split(",")]
    pool = max(counts) * 2
    recipe = scenes_recipe(64, pool + args.heldout)
    records = scenes_records(recipe)
    annotatable, heldout = records[:pool], records[pool:]
    values = [0, *recipe.taxonomy.ids]
    names = [c.name for c in recipe.taxonomy.classes]
    presence = {r.seed: set(np.unique(r.mask).tolist()) - {0} for r in annotatable}

    with tempfile.TemporaryDirectory() as tmp:
        if args.source == "sd_unet":
            config = SDUnetFeaturesConfig(
                model=str(build_tiny_sd(Path(tmp) / "tiny-sd")), timesteps=[int(t) for t in args.timesteps.split(",")]
            )
            what = f"sd_unet over a tiny random-weight SD, timesteps {config.timesteps}, all up blocks"
        else:
            config = RandomConvFeaturesConfig()
            what = f"random_conv pyramid {config.channels} over the image (not a generator)"
        source = config.build()
        start = time.perf_counter()
        maps = {r.seed: source.maps(r) for r in records}
        per_image = (time.perf_counter() - start) / len(records)
    print(f"features: {what}, D={source.dim}, {per_image * 1000:.0f} ms/image on CPU")
    if args.project_dim:
        maps = {seed: project_maps(m, args.project_dim) for seed, m in maps.items()}
        print(
            f"reduced as in-pass capture stores them: D={source.dim} -> {args.project_dim} (unit RMS per map, "
            f"Gaussian projection, finest grid {maps[records[0].seed][0].shape[-1]} px)"
        )
    print(f"data: scenes, 64 px, {len(values) - 1} classes + background; held-out {len(heldout)} samples")

    class Cached:
        def maps(self, record):
            return maps[record.seed]

    result16 = None
    for count in counts:
        chosen = set(pick_covering(presence, count, recipe.taxonomy.ids))
        train = {r.seed: r for r in annotatable if r.seed in chosen}
        feats, targets = collect_pixels(
            Cached(), train, {s: r.mask for s, r in train.items()}, values, args.pixels_per_image, seed=0
        )
        settings = TrainSettings(members=args.members, batch_size=args.batch_size, max_epochs=args.max_epochs)
        start = time.perf_counter()
        ensemble = train_ensemble(feats, targets, values, settings)
        seconds = time.perf_counter() - start
        conf = np.zeros((len(values), len(values)), np.int64)
        per_image = []
        for r in heldout:
            out = label_image(ensemble, maps[r.seed], 64, 64)
            c = confusion(out.mask, r.mask, values)
            conf += c
            per_image.append((out.uncertainty, c, 1.0 - np.trace(c) / c.sum()))
        score = miou(conf)
        epochs = [s.epochs for s in ensemble.stats]
        ious = np.diag(conf) / np.maximum(1, conf.sum(0) + conf.sum(1) - np.diag(conf))
        print(
            f"annotations={count:3d}: held-out mIoU {score:.3f}, pixel acc {np.trace(conf) / conf.sum():.3f} "
            f"({feats.shape[0]} training pixels, epochs {min(epochs)}-{max(epochs)}, train {seconds:.0f} s); "
            f"IoU " + " ".join(f"{n}={v:.2f}" for n, v in zip(["background", *names], ious))
        )
        if count == 16:
            result16 = (score, per_image)
    if result16 is None:
        return
    score, per_image = result16
    ranked = sorted(per_image, key=lambda item: -item[0])
    dropped = int(np.floor(args.drop * len(ranked)))
    kept = ranked[dropped:]
    kept_score = miou(sum(c for _, c, _ in kept))
    rho = spearmanr([u for u, _, _ in per_image], [e for _, _, e in per_image]).statistic
    print(
        f"uncertainty (16 annotations): dropping the {dropped} most uncertain of {len(ranked)} held-out samples: "
        f"mIoU {score:.3f} -> {kept_score:.3f} ({'raises' if kept_score > score else 'does not raise'}); "
        f"Spearman(uncertainty, pixel error) = {rho:.2f}"
    )
    print(f"fewshot_miou={score:.4f}")


if __name__ == "__main__":
    main()
