"""Does models/fashion-sd draw recognisable garments, and does its attention find and name them?

Measured through the project's own ``diffusion`` generator and ``attention`` decoder (the path a recipe takes),
against a judge trained on REAL photos only: the scripted annotator's CNN (synth/realdata/annotator.py, trained on
the Fashion-MNIST train split, 0.87 accuracy on the framed test split). Rows, side by side in one run:

1. recognisable: single-item prompts ("a photo of a <class>"), ``--per-class`` seeds per class; the judge
   classifies the largest foreground component; the share that it names the asked class (chance 0.10), overall
   and per class; also how often the image holds any garment at all.
2. localisation: decoded foreground (any class) vs the image's foreground, IoU, on the same samples.
3. binding: two-class prompts; of the samples whose two largest components the judge names as the two asked
   classes, the share where class A's attention map is higher on A's item than on B's (chance 0.50).

Last line: ``recognisable=<share>``. ``--preview PATH`` writes a grid (one row per class) for the model card.

    python bench/fashion_generator.py                                   # models/fashion-sd, ~3 CPU minutes
    python bench/fashion_generator.py --model models/.fashion-sd-checkpoints/step-02000
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CLASSIFIER = Path("data/annotator/classifier.safetensors")


def judge(path: Path):
    """The annotator's CNN (trained on the real train split and cached by scripts/annotate_fashion.py)."""
    from synth.realdata.annotator import load_classifier, save_classifier, train_classifier

    if not path.is_file():
        print(f"training the judge (annotator CNN) on the real train split -> {path}")
        save_classifier(train_classifier(), path)
    return load_classifier(path)


def components(image: np.ndarray, threshold: int) -> tuple[np.ndarray, list[int]]:
    """Labelled foreground components and their ids, largest first (holes filled, as the annotator does)."""
    from scipy import ndimage

    grey = image.mean(axis=2)
    labels, count = ndimage.label(ndimage.binary_fill_holes(grey > threshold))
    sizes = ndimage.sum(np.ones_like(grey), labels, range(1, count + 1)) if count else []
    return labels, [int(i) + 1 for i in np.argsort(sizes)[::-1]]


def classify(model, image: np.ndarray, component: np.ndarray) -> int:
    """Class id (label + 1) the judge gives one component."""
    import torch

    from synth.realdata.annotator import crop28

    crop = crop28(image.mean(axis=2), component).astype(np.float32) / 255.0
    with torch.no_grad():
        return int(model(torch.from_numpy(crop)[None, None]).argmax(1)) + 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=Path("models/fashion-sd"))
    parser.add_argument("--per-class", type=int, default=6, help="single-item samples per class")
    parser.add_argument("--pairs", type=int, default=40, help="two-class samples for binding")
    parser.add_argument("--steps", type=int, default=20, help="DDIM steps (the fashion recipes use 20)")
    parser.add_argument("--cross", type=int, default=16, help="cross-attention side read (latent px)")
    parser.add_argument("--self-side", type=int, default=16, help="self-attention side read (latent px)")
    parser.add_argument("--tau", type=int, default=1, help="self-attention propagation power")
    parser.add_argument("--guidance", type=float, default=4.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--classifier", type=Path, default=CLASSIFIER)
    parser.add_argument("--preview", type=Path, default=None, help="write a per-class sample grid here")
    args = parser.parse_args()
    os.environ.setdefault("SYNTH_TORCH_THREADS", str(args.threads))

    import torch
    from PIL import Image

    from synth.realdata.annotator import THRESHOLD
    from synth.realdata.fashion_mnist import CLASS_NAMES
    from synth.train_generator.measure import fashion_recipe, generate, localisation_iou

    torch.set_num_threads(args.threads)
    model = judge(args.classifier)
    started = time.perf_counter()
    knobs = {
        "cross_attention_resolution": args.cross,
        "self_attention_resolution": args.self_side,
        "tau": args.tau,
        "guidance_scale": args.guidance,
    }
    singles = []
    with tempfile.TemporaryDirectory() as tmp:
        for class_id, name in enumerate(CLASS_NAMES, start=1):
            recipe = fashion_recipe(args.model, args.per_class, args.steps, **knobs)
            only = recipe["taxonomy"]["classes"][class_id - 1]
            recipe["taxonomy"]["classes"] = [only | {"id": 1}]  # ids run 1..K: the one class is id 1 here
            recipe["name"] = f"fashion-measure-{class_id}"
            singles += [(class_id, s) for s in generate(recipe, Path(tmp) / name.replace(" ", "-"))]
        pairs = generate(fashion_recipe(args.model, args.pairs, args.steps, (2, 2), **knobs), Path(tmp) / "pairs")
    elapsed = time.perf_counter() - started

    right, any_item, per_class = 0, 0, {c: [0, 0] for c in range(1, len(CLASS_NAMES) + 1)}
    for class_id, sample in singles:
        labels, order = components(sample.image, THRESHOLD)
        per_class[class_id][1] += 1
        if not order:
            continue
        any_item += 1
        hit = classify(model, sample.image, labels == order[0]) == class_id
        right += hit
        per_class[class_id][0] += hit
    ious = localisation_iou([s for _, s in singles])

    bound = judged = 0
    for sample in pairs:
        ids = [int(c) for c in sample.arrays["class_ids"]]
        labels, order = components(sample.image, THRESHOLD)
        if len(ids) != 2 or len(order) < 2:
            continue
        a, b = (labels == order[0]), (labels == order[1])
        named = [classify(model, sample.image, a), classify(model, sample.image, b)]
        if sorted(named) != sorted(ids):
            continue
        judged += 1
        scores = sample.arrays["scores"].astype(np.float32)
        own = np.asarray(Image.fromarray(scores[ids.index(named[0])]).resize(a.shape[::-1], Image.BICUBIC))
        bound += int(own[a].mean() > own[b].mean())

    n = len(singles)
    print(
        f"model {args.model}; {n} single-item + {len(pairs)} two-class samples, {args.steps} DDIM steps, "
        f"generated in {elapsed:.0f} s ({elapsed / (n + len(pairs)):.2f} s per image)"
    )
    print(f"  any garment drawn            {any_item / n:.3f}")
    print(f"  recognisable (judge = asked) {right / n:.3f}   (chance 0.100)")
    print("  per class: " + ", ".join(f"{CLASS_NAMES[c - 1]} {h}/{t}" for c, (h, t) in per_class.items()))
    print(f"  localisation IoU             {np.mean(ious):.3f} (min {np.min(ious):.3f}, max {np.max(ious):.3f})")
    print(
        f"  binding                      {bound}/{judged} judged two-class samples"
        + (f" = {bound / judged:.2f} (chance 0.50)" if judged else "")
    )
    if args.preview is not None:
        cols = min(4, args.per_class)
        rows = [[s.image for c, s in singles if c == class_id][:cols] for class_id in range(1, len(CLASS_NAMES) + 1)]
        grid = np.concatenate([np.concatenate(row, axis=1) for row in rows], axis=0)
        args.preview.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(grid).save(args.preview)
        print(f"  preview: {args.preview}")
    print(f"recognisable={right / n:.3f}")


if __name__ == "__main__":
    main()
