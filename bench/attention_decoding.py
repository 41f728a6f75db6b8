"""Which attention decoding mode should the fashion recipe use? Measured on freshly generated samples.

Generates ``--count`` samples of the recipe's model at seeds outside the recipe's range (default 100000 on;
never the real evaluation set), stores the evidence the synthesize stage stores (normalised class maps, their raw
ranges), then decodes them with every mode below and scores each against the scripted annotator
(synth/realdata/annotator.py: foreground threshold + a classifier trained on the real train split):

- black share: the share of garment-labelled pixels that are black in the image (grey <= 24), lower is better;
- fg IoU: foreground (any garment) IoU against the annotator, on the pixels the mask labels;
- binding: class right where both say garment; mIoU against the annotator;
- floods: images the annotator finds empty whose mask labels more than 5% of the image a garment;
- off-prompt: masks holding a class the sample's prompt does not name, or more classes than it names;
- more-classes: masks holding more classes than the sample's prompt names.

Rows with ``black_level`` read the image's black background, which is the annotator's own foreground rule: their
foreground agreement is partly agreement by construction; the real-data score (``dvc repro`` ->
reports/fashion/evaluate.json) is what decides whether they teach a segmenter better.

    python bench/attention_decoding.py --count 192      # ~3.5 s a sample on the shared 2-core CPU, cached
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

BLACK = 24  # the annotator's foreground threshold: at or below it a pixel is the photo's black background
EVIDENCE = ("scores", "score_range", "background", "background_range", "class_ids")

# (row label, decode settings on top of the recipe's thresholds)
MODES = [
    ("per_class (Dataset Diffusion, before)", {"normalise": "per_class"}),
    ("per_class + blank-image rule", {"normalise": "per_class", "black_level": BLACK}),
    ("contrast", {"normalise": "contrast"}),
    (
        "contrast + min_contrast 1e-5 + blank rule",
        {"normalise": "contrast", "min_contrast": 1e-5, "black_level": BLACK},
    ),
    (
        "contrast 0.7/0.6 + min_contrast + blank",
        {
            "normalise": "contrast",
            "min_contrast": 1e-5,
            "black_level": BLACK,
            "label_threshold": 0.7,
            "background_threshold": 0.6,
        },
    ),
    (
        "contrast + min_contrast + clip_to_image",
        {"normalise": "contrast", "min_contrast": 1e-5, "black_level": BLACK, "clip_to_image": True},
    ),
    ("per_class + clip_to_image", {"normalise": "per_class", "black_level": BLACK, "clip_to_image": True}),
    (
        "per_class 0.4/0.3 + clip_to_image",
        {
            "normalise": "per_class",
            "black_level": BLACK,
            "clip_to_image": True,
            "label_threshold": 0.4,
            "background_threshold": 0.3,
        },
    ),
    (
        "per_class 0.4/0.3 + clip + component vote",
        {
            "normalise": "per_class",
            "black_level": BLACK,
            "clip_to_image": True,
            "label_threshold": 0.4,
            "background_threshold": 0.3,
            "vote": "component",
        },
    ),
    (
        "contrast 0.4/0.3 + min_contrast + clip + vote",
        {
            "normalise": "contrast",
            "min_contrast": 1e-5,
            "black_level": BLACK,
            "clip_to_image": True,
            "label_threshold": 0.4,
            "background_threshold": 0.3,
            "vote": "component",
        },
    ),
    (
        "per_class 0.4/0.3 + clip + matched vote",
        {
            "normalise": "per_class",
            "black_level": BLACK,
            "clip_to_image": True,
            "label_threshold": 0.4,
            "background_threshold": 0.3,
            "vote": "matched",
        },
    ),
]


def generate_evidence(recipe, seeds: list[int], cache: Path) -> dict:
    """Images, class ids and stored evidence of ``seeds``, generated once by the recipe's generator and cached."""
    if cache.is_file():
        data = np.load(cache)
        if list(data["seeds"]) == seeds:
            return {"seeds": seeds, "images": data["images"], "arrays": _arrays(data, seeds)}
    from synth.generate.prompts import plan_sample

    context = recipe.context()
    generator = recipe.generator.build(context)
    samples = []
    try:
        for i in range(0, len(seeds), generator.batch_size):
            batch = [plan_sample(context, s) for s in seeds[i : i + generator.batch_size]]
            samples += generator.generate(batch)
            print(f"  generated {len(samples)}/{len(seeds)}", flush=True)
    finally:
        generator.close()
    cache.parent.mkdir(parents=True, exist_ok=True)
    flat = {f"{k}_{s.seed}": s.arrays[k] for s in samples for k in EVIDENCE}
    np.savez_compressed(cache, seeds=np.array(seeds), images=np.stack([s.image for s in samples]), **flat)
    return generate_evidence(recipe, seeds, cache)


def stored_evidence(root: Path, name: str, seeds: list[int]) -> dict:
    """Images and stored evidence of ``seeds`` from the recipe's own samples shards (what `synthesize` made)."""
    from synth.stages.train_decoder import records_for_seeds

    wanted = set(seeds)
    found = records_for_seeds(root, name, wanted)
    if missing := sorted(wanted - set(found)):
        raise SystemExit(f"data/{name}/samples lacks seeds {missing[:5]}...: run `synth synthesize {name}` first")
    arrays = [{k: found[s].array(k) for k in EVIDENCE if k in found[s].array_bytes} for s in seeds]
    return {"seeds": seeds, "images": np.stack([found[s].image for s in seeds]), "arrays": arrays}


def _arrays(data, seeds: list[int]) -> list[dict]:
    return [{k: data[f"{k}_{s}"] for k in EVIDENCE} for s in seeds]


def garment_checks(masks: np.ndarray, images: np.ndarray, truth: np.ndarray, prompted: list) -> dict:
    """The issue's checks of decoded masks against the image and the annotator's masks (see the module doc)."""
    grey = images.mean(axis=3) if images.ndim == 4 else images
    labelled = masks != 255
    garment = (masks > 0) & labelled
    truth_fg = (truth > 0) & labelled
    both = garment & truth_fg
    empty = ~(truth > 0).any(axis=(1, 2))
    classes = [set(np.unique(m[(m > 0) & (m != 255)]).tolist()) for m in masks]
    return {
        "black_share": float((garment & (grey <= BLACK)).sum() / max(1, garment.sum())),
        "fg_iou": float(both.sum() / max(1, (garment | truth_fg).sum())),
        "binding": float((masks[both] == truth[both]).mean()) if both.any() else float("nan"),
        "floods": int(sum(1 for i in np.nonzero(empty)[0] if garment[i].mean() > 0.05)),
        "empty_images": int(empty.sum()),
        "over": int(sum(len(c) > len(set(p)) or not c <= set(p) for c, p in zip(classes, prompted))),
        "more": int(sum(len(c) > len(set(p)) for c, p in zip(classes, prompted))),
        "ignore": float(1 - labelled.mean()),
    }


def print_checks(label: str, masks: np.ndarray, images: np.ndarray, truth: np.ndarray, prompted: list) -> None:
    """One row: ``garment_checks`` and the mIoU against the annotator (bench/real_usefulness.py's)."""
    from real_usefulness import mask_quality

    checks, miou = garment_checks(masks, images, truth, prompted), mask_quality(masks, truth)["miou"]
    print(
        f"  {label:<46} black {checks['black_share']:.3f}  fg IoU {checks['fg_iou']:.3f}  "
        f"binding {checks['binding']:.3f}  mIoU {miou:.4f}  ignore {checks['ignore']:.3f}  "
        f"floods {checks['floods']}/{checks['empty_images']}  off-prompt {checks['over']}  "
        f"more-classes {checks['more']}",
        flush=True,
    )


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--classifier", type=Path, default=Path("data/annotator/classifier.safetensors"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])


def scripted_annotator(args: argparse.Namespace):
    """The scripted annotator with the cached classifier (trained first if missing), torch on ``--threads``."""
    os.environ.setdefault("SYNTH_TORCH_THREADS", str(args.threads))
    import torch

    torch.set_num_threads(args.threads)
    sys.path.insert(0, str(args.root / "scripts"))
    from annotate_fashion import classifier

    from synth.realdata.annotator import Annotator

    return Annotator(classifier(args.root / args.classifier))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="fashion")
    parser.add_argument("--start", type=int, default=100_000, help="first seed (outside the recipe's range)")
    parser.add_argument("--count", type=int, default=192)
    parser.add_argument("--cache", type=Path, default=None, help="default data/bench/attention-START-COUNT.npz")
    parser.add_argument(
        "--stored",
        action="store_true",
        help="decode the recipe's own stored samples (seeds START..START+COUNT-1 of data/NAME/samples) instead of "
        "generating fresh ones: generated images all the same, never the real evaluation set",
    )
    parser.add_argument("--only", nargs="+", default=None, help="rows whose label contains one of these strings")
    add_common_arguments(parser)
    args = parser.parse_args()
    annotator = scripted_annotator(args)
    from synth.decode.attention import decode_evidence
    from synth.recipe import load_recipe

    recipe = load_recipe(args.recipe, args.root)
    seeds = list(range(args.start, args.start + args.count))
    if args.stored:
        data = stored_evidence(args.root, recipe.name, seeds)
    else:
        if set(seeds) & set(recipe.all_seeds()):
            raise SystemExit(f"seeds {args.start}..{seeds[-1]} overlap the recipe's own range (--stored reads them)")
        cache = args.cache or args.root / "data" / "bench" / f"attention-{args.start}-{args.count}.npz"
        data = generate_evidence(recipe, seeds, cache)
    images = data["images"]
    truth = np.stack(annotator.annotate_many(list(images)))
    prompted = [a["class_ids"].tolist() for a in data["arrays"]]
    print(
        f"== {args.recipe}: {len(seeds)} {'stored' if args.stored else 'fresh'} samples (seeds {seeds[0]}..{seeds[-1]}) against the scripted annotator",
        flush=True,
    )
    base = recipe.decode.model_dump()
    for label, settings in MODES:
        if args.only and not any(part in label for part in args.only):
            continue
        cfg = type(recipe.decode).model_validate(
            base
            | {"normalise": "per_class", "min_contrast": 0.0, "black_level": None}
            | {"clip_to_image": False, "vote": "pixel", "label_threshold": 0.6, "background_threshold": 0.5}
            | settings
        )
        masks = np.stack([decode_evidence(a, im, recipe.image_size, cfg)[0] for a, im in zip(data["arrays"], images)])
        print_checks(label, masks, images, truth, prompted)


if __name__ == "__main__":
    main()
