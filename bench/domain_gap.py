"""How much of the synthetic-to-real gap do stylization and CSA adaptation close, scored on REAL images?

Target domain and evaluation set: real Fashion-MNIST compositions (``real/fashion-mnist``): unlabeled target
images = the first ``--target`` canvases of ``train.parquet`` (train split); the score is mIoU on the first
``--eval`` canvases of ``eval.parquet`` (test split), never seen in training. Upper bound: the same
``--target`` train canvases WITH their labels.

Source: ``--source-recipe fashion`` (or ``fashion-datasetgan``): that recipe's generated samples and decoded
masks (``dvc repro`` first; DatasetGAN's excluded samples left out), the first ``--source`` of them. Without it, a
STAND-IN synthetic dataset (``synth.adapt.standin``): train-split compositions (other canvases than the real
sets') re-rendered with coloured backdrops, tinted garments, blur and noise, with exact masks; numbers then say
how much of that controlled gap a method closes, not a measurement on generated images.

Rows (tiny UNet, same steps and seed per row, mean +- standard deviation over ``--seeds`` training seeds):
source only; + Reinhard; + FDA; + CUT (the learned translator of ``synth.adapt.translate``, trained once here
on the source images and the unlabeled target images, no labels); CUT + CSA self-training (ClassMix, EMA
teacher) without the prototype terms; + prototype contrastive (confidence-weighted top-k prototypes); +
consistency (the full method); the real-data upper bound. The CSA rows build on CUT because CSA's authors
stylize with CUT (chosen before any number was seen; ``--csa-stylizer reinhard`` runs them on Reinhard).
Also domain distances of source / Reinhard / FDA / CUT to the target images in three spaces: LAB statistics
(what Reinhard matches), a fixed random conv net, and the features of the segmenter trained on real data
(seed 0's upper-bound model), and each stylizer's edge agreement with the source (1: no edge moved).
Last line: ``gap_closed=(full method - source only) / (real upper bound - source only)`` on the seed means.

    nice -n 10 python bench/domain_gap.py        # 12-14 minutes on 1 thread (CUT training: about 3 of them)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

STANDIN_SEED = 17_000_017  # not the real sets' seeds (20_171_000 / 20_171_001): other canvases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=int, default=300, help="synthetic labeled images")
    parser.add_argument("--source-recipe", default=None, help="a built fashion recipe's samples (default: stand-in)")
    parser.add_argument("--target", type=int, default=300, help="unlabeled real target images (also the upper bound)")
    parser.add_argument("--eval", type=int, default=500, help="real evaluation images")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cut-steps", type=int, default=1500, help="training steps of the CUT translator")
    parser.add_argument("--csa-stylizer", choices=["cut", "reinhard"], default="cut")
    parser.add_argument("--preview", type=Path, help="write a PNG: source, Reinhard, FDA, CUT and real target rows")
    args = parser.parse_args()
    os.environ.setdefault("SYNTH_TORCH_THREADS", str(args.threads))

    import numpy as np

    from synth.adapt.config import CutTranslator
    from synth.adapt.csa import train_adapted
    from synth.adapt.domain import (
        conv_domain_distance,
        domain_distance,
        frechet_distance,
    )
    from synth.adapt.standin import standin_look
    from synth.adapt.stylize import fda, lab_stats, reinhard
    from synth.adapt.translate import edge_agreement, train_translator
    from synth.evaluate.config import EvaluateSettings
    from synth.evaluate.train import (
        iou_per_class,
        mean_iou,
        predict,
        train_supervised,
    )
    from synth.realdata.fashion_mnist import (
        CLASS_NAMES,
        load_real_set,
        make_compositions,
    )
    from synth.segment.arrays import Arrays

    root = Path(__file__).resolve().parents[1]
    started = time.perf_counter()
    real_train = load_real_set(root / "real" / "fashion-mnist" / "train.parquet")
    real_eval = load_real_set(root / "real" / "fashion-mnist" / "eval.parquet")
    if args.source_recipe:
        from synth.core.paths import DatasetPaths
        from synth.segment.arrays import to_arrays
        from synth.store.exclusions import read_exclusions
        from synth.store.labeled import load_dataset_labeled

        paths = DatasetPaths(root, args.source_recipe)
        excluded = read_exclusions(paths)
        made = [
            r for r in load_dataset_labeled(paths.samples, paths.masks, args.source_recipe) if r.seed not in excluded
        ]
        source = to_arrays(sorted(made, key=lambda r: r.seed)[: args.source], 64)
        source_note = (
            f"SOURCE: {len(source)} generated samples of recipes/{args.source_recipe}.yaml with their decoded masks"
        )
    else:
        comps = make_compositions("train", args.source, STANDIN_SEED)
        look = np.random.default_rng(STANDIN_SEED)
        source = Arrays(
            np.stack([standin_look(c.image, c.mask, look) for c in comps]), np.stack([c.mask for c in comps])
        )
        source_note = (
            "SOURCE IS A STAND-IN: real train-split Fashion-MNIST compositions re-rendered with synth.adapt.standin "
            "(coloured backdrop, tinted garments, blur, noise), not a generative model's images."
        )
    target = Arrays(real_train.images[: args.target])
    upper_set = Arrays(real_train.images[: args.target], real_train.masks[: args.target])
    evaluation = Arrays(real_eval.images[: args.eval], real_eval.masks[: args.eval])
    stats = lab_stats(list(target.images))
    styled = Arrays(np.stack([reinhard(img, *stats, 1.0) for img in source.images]), source.masks)
    pick = np.random.default_rng(0).integers(0, len(target), len(source))
    fda_set = Arrays(
        np.stack([fda(img, target.images[j], 0.05, 1.0) for img, j in zip(source.images, pick)]), source.masks
    )
    cut_started = time.perf_counter()
    translator, _ = train_translator(
        list(source.images), list(target.images), CutTranslator(steps=args.cut_steps, device="cpu")
    )
    cut_set = Arrays(np.stack(translator.translate(list(source.images))), source.masks)
    cut_seconds = time.perf_counter() - cut_started
    if args.preview:
        from PIL import Image

        rows = [source.images, styled.images, fda_set.images, cut_set.images, target.images]
        grid = np.concatenate([np.concatenate(list(r[:10]), axis=1) for r in rows], axis=0)
        Image.fromarray(grid).save(args.preview)
    num_classes = len(CLASS_NAMES) + 1
    print(source_note)
    print(
        f"{len(source)} synthetic source / {args.target} unlabeled real target (= upper-bound set) / {args.eval} real "
        f"eval images, 64 px, tiny UNet width {args.width}, {args.steps} steps, batch 8, seeds 0..{args.seeds - 1}",
        flush=True,
    )
    print(f"CUT translator: {args.cut_steps} steps, trained in {cut_seconds:.0f}s (seed 0, no labels)", flush=True)

    def score(model) -> float:
        return mean_iou(iou_per_class(predict(model, evaluation.images), evaluation.masks, num_classes))

    base = EvaluateSettings(image_size=64, steps=args.steps, batch_size=8, width=args.width, device="cpu")
    adapt = {"teacher_ema": 0.99, "warmup_steps": args.steps // 4}
    csa_input = cut_set if args.csa_stylizer == "cut" else styled
    csa_name = "CUT" if args.csa_stylizer == "cut" else "Reinhard"
    variants = {
        "source only": ("sup", source, None),
        "+ Reinhard": ("sup", styled, None),
        "+ FDA": ("sup", fda_set, None),
        "+ CUT (learned translator)": ("sup", cut_set, None),
        f"{csa_name} + CSA self-training (no prototype terms)": (
            "adapt",
            csa_input,
            {"contrastive_weight": 0.0, "consistency_weight": 0.0},
        ),
        "+ prototype contrastive": ("adapt", csa_input, {"contrastive_weight": 0.1, "consistency_weight": 0.0}),
        "+ consistency (full method)": ("adapt", csa_input, {"contrastive_weight": 0.1, "consistency_weight": 0.1}),
        "real upper bound": ("sup", upper_set, None),
    }
    results: dict[str, list[float]] = {name: [] for name in variants}
    upper_model = None
    for seed in range(args.seeds):
        for name, (kind, data, terms) in variants.items():
            if kind == "sup":
                model = train_supervised(data, num_classes, base, seed)
            else:
                cfg = base.model_copy(update={"adapt": base.adapt.model_copy(update=adapt | terms)})
                model = train_adapted(data, target, num_classes, cfg, seed, original=source)
            results[name].append(score(model))
            if name == "real upper bound" and seed == 0:
                upper_model = model
            print(
                f"  seed {seed} {name:<50} mIoU {results[name][-1]:.4f}  ({time.perf_counter() - started:.0f}s)",
                flush=True,
            )

    print("domain distance to the real target images (Frechet; smaller is closer):")
    sets = {"source": source.images, "+ Reinhard": styled.images, "+ FDA": fda_set.images, "+ CUT": cut_set.images}
    seg_target = segmenter_features(upper_model, target.images)
    for name, images in sets.items():
        lab = domain_distance(list(images), list(target.images))
        conv = conv_domain_distance(list(images), list(target.images))
        seg = frechet_distance(segmenter_features(upper_model, images), seg_target)
        edges = edge_agreement(list(source.images), list(images))
        print(
            f"  {name:<12} LAB stats {lab:10.2f}   random conv {conv:8.3f}   real-trained segmenter {seg:8.3f}"
            f"   edge agreement with the source {edges:.3f}"
        )
    print("mIoU on the real evaluation set (mean +- std over seeds; per seed):")
    for name, values in results.items():
        print(
            f"{name:<52} mIoU {np.mean(values):.4f} +- {np.std(values):.4f}  [{', '.join(f'{v:.4f}' for v in values)}]"
        )
    src, full, top = (np.array(results[k]) for k in ("source only", "+ consistency (full method)", "real upper bound"))
    per_seed = (full - src) / np.where(top > src, top - src, np.nan)
    print(
        f"gap closed per seed: [{', '.join(f'{v:.3f}' for v in per_seed)}]; elapsed {time.perf_counter() - started:.0f}s"
    )
    gap = (full.mean() - src.mean()) / (top.mean() - src.mean()) if top.mean() > src.mean() else 0.0
    print(f"gap_closed={gap:.3f}")


def segmenter_features(model, images):
    """Per image: spatial mean and std of the segmenter's projected features (the space it segments in)."""
    import numpy as np
    import torch

    out = []
    with torch.no_grad():
        for start in range(0, len(images), 64):
            x = torch.from_numpy(images[start : start + 64]).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)
            f = model(x)[1]
            out.append(torch.cat([f.mean(dim=(2, 3)), f.std(dim=(2, 3))], 1).numpy().astype(np.float64))
    return np.concatenate(out)


if __name__ == "__main__":
    main()
