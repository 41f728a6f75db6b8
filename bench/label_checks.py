"""Do the label checks find wrong masks? Corrupt a known 20% of a good exact-mask dataset and score separation.

Datasets (exact masks, so the clean 80% are right by construction):
- ``scenes``: the ``street-scenes`` recipe's first N samples from its procedural generator (textured ground);
- ``real``: N real Fashion-MNIST canvases of the test split (``real/fashion-mnist/eval.parquet``; plain black
  background, so the plain-background check applies, and the fashion judge with ``--judge``).

Corruptions, each on its own copy with the same 20% of samples: ``shift`` (the mask moved by 6% of the side in a
random direction), ``swap`` (another sample's mask), ``flood`` (labels grown into the background by 12% of the
side, as attention masks do), ``relabel`` (every class replaced by another: boundaries stay right, only the judge
and the ranking can see it). For every check and corruption: AUROC of separating corrupted from clean samples,
then the share of clean samples the gate flags at the thresholds of the recipe (street-scenes; fashion for
the real canvases), the CPU seconds of all checks per corruption (cleanlab's cross-fitting is most of it), then

    label_check_auroc=<mean over datasets and the issue's three corruptions (shift, swap, flood) of the best
    check's AUROC>   (the line before it includes relabel)

    python bench/label_checks.py [--samples 500] [--ranking-steps 300] [--judge models/fashion-classifier/...]
"""

from __future__ import annotations

import argparse
import io
import time

import numpy as np
from scipy import ndimage

CORRUPTIONS = ("shift", "swap", "flood", "relabel")
SHARE = 0.2


def scenes_dataset(count: int):
    from synth.generate.prompts import plan_sample
    from synth.recipe import load_recipe

    recipe = load_recipe("street-scenes")
    generator = recipe.generator.build(recipe.context())
    samples = generator.generate([plan_sample(recipe.context(), seed) for seed in range(count)])
    return [s.image for s in samples], [s.mask for s in samples], recipe.taxonomy.ids, recipe.validation


def real_dataset(count: int):
    import pyarrow.parquet as pq
    from PIL import Image

    from synth.recipe import load_recipe

    rows = pq.read_table("real/fashion-mnist/eval.parquet", columns=["image", "mask"]).to_pylist()[:count]
    decode = lambda data: np.asarray(Image.open(io.BytesIO(data)))  # noqa: E731
    rules = load_recipe("fashion").validation  # the thresholds its gate uses (plain background)
    return [decode(r["image"]) for r in rows], [decode(r["mask"]) for r in rows], list(range(1, 11)), rules


def corrupt(kind: str, masks: list[np.ndarray], chosen: np.ndarray, class_ids: list[int], rng) -> list[np.ndarray]:
    out = [m.copy() for m in masks]
    side = masks[0].shape[0]
    for i in chosen:
        mask = masks[i]
        labelled = (mask != 0) & (mask != 255)
        if kind == "shift":
            step = max(2, round(0.06 * side))
            dy, dx = rng.choice([-step, step], size=2)
            out[i] = np.roll(mask, (int(dy), int(dx)), axis=(0, 1))
        elif kind == "swap":
            other = (i + 1 + rng.integers(len(masks) - 1)) % len(masks)
            out[i] = masks[other].copy()
        elif kind == "flood" and labelled.any():
            grown = ndimage.binary_dilation(labelled, iterations=max(2, round(0.12 * side)))
            flooded = mask.copy()
            flooded[grown & ~labelled] = np.bincount(mask[labelled]).argmax()
            out[i] = flooded
        elif kind == "relabel":
            lookup = np.arange(256, dtype=np.uint8)
            for k, c in enumerate(class_ids):
                lookup[c] = class_ids[(k + 1 + rng.integers(len(class_ids) - 1)) % len(class_ids)]
            out[i] = lookup[mask]
    return out


def auroc(scores: np.ndarray, corrupted: np.ndarray) -> float:
    """P(a corrupted sample scores lower than a clean one), ties half: scores are oriented lower = wrong."""
    from scipy.stats import rankdata

    ranks = rankdata(-scores)
    positives = corrupted.sum()
    negatives = len(corrupted) - positives
    return float((ranks[corrupted].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def main() -> None:
    from synth.labelcheck.config import FashionClassifierJudgeConfig, RankingSettings
    from synth.labelcheck.scores import flag_reasons, oriented, score_labels

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--datasets", default="scenes,real")
    parser.add_argument("--ranking-steps", type=int, default=300, help="0: no cleanlab ranking")
    parser.add_argument("--judge", default=None, help="fashion-classifier weights for the real dataset")
    parser.add_argument("--corruptions", default=",".join(CORRUPTIONS))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    best_per_case = []
    for name in args.datasets.split(","):
        images, masks, class_ids, rules = (scenes_dataset if name == "scenes" else real_dataset)(args.samples)
        names = [str(c) for c in class_ids]
        ranking = RankingSettings(steps=args.ranking_steps) if args.ranking_steps else None
        judge_config = FashionClassifierJudgeConfig(path=args.judge) if args.judge and name == "real" else None
        settings = rules.model_copy(update={"ranking": ranking, "judge": judge_config})
        plain = settings.plain_background
        judge = None if judge_config is None else judge_config.build(names)
        rng = np.random.default_rng(args.seed)
        chosen = rng.choice(len(masks), size=round(SHARE * len(masks)), replace=False)
        truth = np.zeros(len(masks), bool)
        truth[chosen] = True
        clean_flagged = []
        for kind in args.corruptions.split(","):
            started, cpu = time.perf_counter(), time.process_time()
            scores = score_labels(
                images, corrupt(kind, masks, chosen, class_ids, rng), class_ids, names, settings, judge
            )
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
            reasons = flag_reasons(scores.table, settings)
            table = oriented(scores.table)
            if not plain:
                table = table.drop(columns=["labels_on_content"])
            results = {c: auroc(table[c].to_numpy(np.float64), truth) for c in table.columns}
            for check, value in results.items():
                print(f"{name:6s} {kind:8s} {check:20s} auroc={value:.3f}")
            best = max(results, key=results.get)
            flagged_bad = (reasons[truth] != "").mean()
            clean_flagged.append((reasons[~truth] != "").mean())
            print(
                f"{name:6s} {kind:8s} best={best} auroc={results[best]:.3f} gate flags {flagged_bad:.1%} of "
                f"corrupted, {clean_flagged[-1]:.1%} of clean; {seconds:.0f} s wall, {cpu:.0f} s CPU for {len(masks)} samples"
            )
            best_per_case.append((kind, results[best]))
        print(
            f"{name:6s} clean samples flagged by the gate (recipe thresholds): max {max(clean_flagged):.1%} over corruptions"
        )
    print(f"label_check_auroc_with_relabel={np.mean([v for _, v in best_per_case]):.3f}")
    print(f"label_check_auroc={np.mean([v for kind, v in best_per_case if kind != 'relabel']):.3f}")


if __name__ == "__main__":
    main()
