"""Judge-checked labels (``decode.judge_labels``): do they make a synthetic dataset more useful on real images?

The judge (the annotator's CNN, trained on the real Fashion-MNIST train split) names every labelled region of a
recipe's decoded masks. Side by side, the recipe's own segmenter (``evaluate:``) trains on:

- the masks as decoded (today);
- ``ignore``: every region the judge names as another class made ignore (255), the sample kept;
- ``exclude<X``: samples whose judged labelled pixels the judge agrees with less than X left out;
- both at once.

Selection honesty: ``--on reference`` (the default) scores on the real TRAIN-split canvases
(real/fashion-mnist/train.parquet), used here as a validation set to choose the form and X; ``--on eval`` scores
on the real TEST-split canvases, the evaluation set, only for the rows already chosen. The judge is the scripted
annotator's classifier, so nothing here is measured against the annotator. Rows: mean mIoU over ``--seeds``
training seeds, every run, the training set's size and the share of labelled pixels made ignore.

    python bench/judge_labels.py fashion --seeds 2 --thresholds 0.5 0.75 1.0
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipe")
    parser.add_argument("--root", type=Path, default=Path("."))
    parser.add_argument("--on", choices=["reference", "eval"], default="reference")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=None, help="Segmenter steps (default: the recipe's).")
    parser.add_argument("--thresholds", type=float, nargs="*", default=[0.5, 0.75, 1.0])
    parser.add_argument("--rows", nargs="*", default=None, help="Only these rows, e.g. decoded ignore exclude<0.5")
    args = parser.parse_args()

    from synth.core.labels import IGNORE_ID
    from synth.core.paths import DatasetPaths
    from synth.core.torch_runtime import torch_threads
    from synth.evaluate.labeled_file import read_labeled_file
    from synth.labelcheck.config import JudgeLabelsSettings
    from synth.labelcheck.gate import judge_check
    from synth.recipe import load_recipe
    from synth.segment.arrays import to_arrays
    from synth.stages.evaluate import score_variants
    from synth.store.exclusions import read_exclusions
    from synth.store.labeled import load_dataset_labeled

    torch_threads()
    root = args.root
    recipe = load_recipe(args.recipe, root)
    cfg = recipe.evaluate
    paths = DatasetPaths(root, recipe.name)
    excluded = read_exclusions(paths)
    rows = [r for r in load_dataset_labeled(paths.samples, paths.masks, recipe.name) if r.seed not in excluded]
    gate = (recipe.decode.judge_labels or JudgeLabelsSettings()).model_copy(update={"rejected_regions": "ignore"})
    judge = gate.judge.build([c.phrase for c in recipe.taxonomy.classes])
    images, masks = [r.image for r in rows], [r.mask for r in rows]
    checked = judge_check(images, masks, recipe.taxonomy.ids, judge, gate)
    agreement = np.array([c.agreement for c in checked])
    print(
        f"{recipe.name}: {len(rows)} samples (decoder exclusions left out); judge agreement median "
        f"{np.median(agreement):.3f}, mean {agreement.mean():.3f}; regions judged {sum(c.regions for c in checked)}, "
        f"rejected {sum(c.rejected for c in checked)}",
        flush=True,
    )

    def labelled(ms) -> int:
        return int(sum(((m != 0) & (m != IGNORE_ID)).sum() for m in ms))

    variants: dict[str, tuple[list, list]] = {
        "decoded": (images, masks),
        "ignore": (images, [c.mask for c in checked]),
    }
    for x in args.thresholds:
        keep = np.flatnonzero(agreement >= x)
        variants[f"exclude<{x:g}"] = ([images[i] for i in keep], [masks[i] for i in keep])
        variants[f"ignore+exclude<{x:g}"] = ([images[i] for i in keep], [checked[i].mask for i in keep])
    if args.rows:
        variants = {k: v for k, v in variants.items() if k in args.rows}

    target = cfg.eval if args.on == "eval" else cfg.reference
    scored_on = read_labeled_file(root, target, cfg.image_size)
    one = cfg.model_copy(
        update={"variants": ["source"], "repeats": args.seeds, **({"steps": args.steps} if args.steps else {})}
    )
    id2label = recipe.taxonomy.id2label()
    classes = max(id2label) + 1
    names = [id2label.get(i, str(i)) for i in range(classes)]
    base = labelled(masks)
    print(
        f"scored on {target.path} ({len(scored_on)} real canvases), {one.steps} steps, {args.seeds} seeds", flush=True
    )
    for label, (imgs, ms) in variants.items():
        from types import SimpleNamespace

        data = to_arrays([SimpleNamespace(image=i, mask=m) for i, m in zip(imgs, ms)], cfg.image_size)
        res = score_variants({"source": data, "eval": scored_on}, classes, one, names)["source"]
        runs = res["runs"]
        per_class = " ".join("-" if v is None else f"{v:.2f}" for v in res["per_class"].values())
        print(
            f"  {label:<20} samples {len(imgs):4d}  labelled px kept {labelled(ms) / base:.3f}  "
            f"mIoU {res['miou']:.4f} +- {np.std(runs):.4f} (runs {', '.join(f'{r:.4f}' for r in runs)})  "
            f"per class: {per_class}",
            flush=True,
        )


if __name__ == "__main__":
    main()
