"""HydraMix in its own setting: does mixing a few labeled REAL images beat standard augmentation?

k = 10, 20, 50 labeled real Fashion-MNIST compositions (a random draw per seed from ``real/fashion-mnist/
train.parquet``, train split); score: mIoU on ``--eval`` canvases of ``eval.parquet`` (test split) from ``--eval-from`` (0: the first).
The same tiny UNet, steps and seed per row (``bench/fewshot_training.py``), trained on:
- the k images + standard augmentation (flip, random scale 0.75-1.25, crop/pad);
- + CutMix/ClassMix within each batch;
- + HydraMix segment mixes in pixel space (a pool of ``--pool`` mixes of 2 of the k images, Felzenszwalb
  segments of the first), half of each batch;
- + HydraMix with the learned feature-space mixer (trained on the k images' N-way segment mixes, then drawing
  the pool from mixed encoder features), half of each batch;
- + whole-item mixes, a DIAGNOSTIC row, not HydraMix: the first image with the other's items pasted whole where
  they touch no item (``synth.mix.compose.whole_item_mix``, the mix stage's ``whole-items`` mask), half of each batch. It tests whether mixes hurt
  here because they cut garments, whose class is their silhouette.
Every row: mean +- standard deviation over ``--seeds`` seeds (the k-subset and the training seed both change).
``--rows standard whole`` runs only those rows (a confirmation on other canvases: ``--eval-from 500``).
Last line: ``hydramix_gain_k10=<learned-mixer HydraMix - standard augmentation>`` (seed means, k = 10); the
pixel-space gain is printed before it.

    nice -n 10 python bench/fewshot_mixing.py     # about 20 CPU minutes on 1 thread at the defaults
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


ROWS = {  # --rows name -> the row's label
    "standard": "standard augmentation",
    "cutmix": "+ CutMix/ClassMix",
    "pixel": "+ HydraMix segment mixes (pixel space)",
    "learned": "+ HydraMix learned feature-space mixer",
    "whole": "+ whole-item mixes (diagnostic, not HydraMix)",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", default="10,20,50", help="labeled real images, comma-separated")
    parser.add_argument("--eval", type=int, default=500, help="real evaluation images")
    parser.add_argument("--eval-from", type=int, default=0, help="first evaluation canvas (500: a second half)")
    parser.add_argument("--rows", nargs="+", choices=list(ROWS), default=list(ROWS), help="which rows to train")
    parser.add_argument("--steps", type=int, default=300, help="segmenter steps")
    parser.add_argument("--mixer-steps", type=int, default=300, help="learned mixer steps")
    parser.add_argument("--pool", type=int, default=200, help="mixes per pool")
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    os.environ.setdefault("SYNTH_TORCH_THREADS", str(args.threads))

    import numpy as np
    from fewshot_training import hydramix_pool, train_fewshot, whole_item_pool

    from synth.evaluate.train import iou_per_class, mean_iou, predict
    from synth.mix.config import FelzenszwalbMask, LearnedMixer
    from synth.mix.learned import train_mixer
    from synth.realdata.fashion_mnist import CLASS_NAMES, load_real_set
    from synth.segment.arrays import Arrays

    root = Path(__file__).resolve().parents[1]
    started = time.perf_counter()
    real_train = load_real_set(root / "real" / "fashion-mnist" / "train.parquet")
    real_eval = load_real_set(root / "real" / "fashion-mnist" / "eval.parquet")
    window = slice(args.eval_from, args.eval_from + args.eval)
    evaluation = Arrays(real_eval.images[window], real_eval.masks[window])
    num_classes = len(CLASS_NAMES) + 1
    mask = FelzenszwalbMask()
    ks = [int(k) for k in args.k.split(",")]
    print(
        f"real Fashion-MNIST compositions, 64 px; eval real test-split canvases {window.start}-{window.stop - 1}; "
        f"tiny UNet width {args.width}, {args.steps} steps, batch 8; pools of {args.pool} 2-source mixes; seeds 0..{args.seeds - 1}",
        flush=True,
    )

    def learned_pool(few, seed: int):
        """HydraMix's pool drawn from the learned feature-space mixer, trained on the k images first."""
        batches = max(1, math.ceil(len(few.images) / min(8, len(few.images))))
        mixer_cfg = LearnedMixer(
            width=8,
            residual_blocks=1,
            epochs=max(1, args.mixer_steps // batches),
            batch_size=min(8, len(few.images)),
            lr=1e-3,
            device="cpu",
        )
        mixer, losses = train_mixer(list(few.images), mixer_cfg, seed, sources=2, mask=mask)
        print("  mixer losses after training: " + ", ".join(f"{a} {b:.3f}" for a, b in losses.items()), flush=True)
        return hydramix_pool(few.images, few.masks, args.pool, seed, 2, mask, mixer=mixer)

    def row_settings(row: str, few, seed: int) -> dict:
        """What a row adds to standard augmentation; pools are built only for the rows asked (the learned mixer
        alone is minutes of training)."""
        if row == "cutmix":
            return {"batch_mix": "either"}
        if row == "pixel":
            return {"pool": hydramix_pool(few.images, few.masks, args.pool, seed, 2, mask)}
        if row == "learned":
            return {"pool": learned_pool(few, seed)}
        if row == "whole":
            return {"pool": whole_item_pool(few.images, few.masks, args.pool, seed, 2)}
        return {}

    def score(model) -> float:
        return mean_iou(iou_per_class(predict(model, evaluation.images), evaluation.masks, num_classes))

    rows = [ROWS[r] for r in ROWS if r in args.rows]
    results = {(k, r): [] for k in ks for r in rows}
    for k in ks:
        for seed in range(args.seeds):
            pick = np.random.default_rng([k, seed]).choice(len(real_train), size=k, replace=False)
            few = Arrays(real_train.images[pick], real_train.masks[pick])
            train = {"steps": args.steps, "width": args.width, "device": "cpu"}
            runs = {ROWS[r]: row_settings(r, few, seed) for r in ROWS if r in args.rows}
            for name, extra in runs.items():
                results[(k, name)].append(score(train_fewshot(few, num_classes, seed, **train, **extra)))
                print(
                    f"  k={k:<3} seed {seed} {name:<42} mIoU {results[(k, name)][-1]:.4f}  ({time.perf_counter() - started:.0f}s)",
                    flush=True,
                )
    print("mIoU on the real evaluation set (mean +- std over seeds; per seed):")
    for k in ks:
        for name in rows:
            values = results[(k, name)]
            print(
                f"k={k:<3} {name:<42} mIoU {np.mean(values):.4f} +- {np.std(values):.4f}  [{', '.join(f'{v:.4f}' for v in values)}]"
            )
    k0 = ks[0]
    base = results.get((k0, ROWS["standard"]))
    if base is None:
        return
    for label, row in (
        ("pixel_segment_mix_gain", "pixel"),
        ("cutmix_classmix_gain", "cutmix"),
        ("whole_item_gain", "whole"),
    ):
        if row in args.rows:
            diff = np.array(results[(k0, ROWS[row])]) - np.array(base)
            print(f"{label}_k{k0}={diff.mean():.4f} (per seed [{', '.join(f'{v:+.4f}' for v in diff)}])")
    if "learned" in args.rows:
        diff = np.array(results[(k0, ROWS["learned"])]) - np.array(base)
        print(
            f"learned-mixer gain per seed at k={k0}: [{', '.join(f'{v:+.4f}' for v in diff)}], std {diff.std():.4f}; "
            f"elapsed {time.perf_counter() - started:.0f}s"
        )
        print(f"hydramix_gain_k{k0}={diff.mean():.4f}")


if __name__ == "__main__":
    main()
