"""Are datasets made by a learned generator useful on REAL images? Dataset Diffusion's yardstick on Fashion-MNIST.

Side by side, in one run, on the real evaluation set (real/fashion-mnist/eval.parquet: 1,000 canvases of the
Fashion-MNIST *test* split, never seen by the generator, the annotator's classifier or any segmenter):

1. Direct mask quality: on ``--held-out`` generated samples that no decoder was trained on, the decoded masks of
   each recipe (attention: ``fashion``; 16-shot DatasetGAN: ``fashion-datasetgan``) against the scripted
   annotator's masks (synth/realdata/annotator.py; its own mIoU against true masks on real canvases is printed
   too, so its errors are visible). Split into where masks land (foreground IoU) and whether the class is right
   on the foreground both agree on (binding). ``--sweep-thresholds`` re-decodes the stored attention scores at
   other label/background thresholds (no generator run).
2. Usefulness: the recipes' own segmenter (``evaluate:``, a random-init SegFormer) trained on each synthetic
   dataset (the recipe's 500 images, less DatasetGAN's excluded share) and on the real training set
   (real/fashion-mnist/train.parquet: 1,000 canvases, twice as many), ``--seeds`` training seeds each; mean,
   spread and per-class IoU on the real evaluation set. ``--sizes 500 1000`` also trains on the recipes made
   at 1,000 images (seeds 0-999, generated into data/bench/size-1000/; generation is cheap, which is the point
   of synthetic data), each row labelled with its size. ``--train real attention@1000`` trains only those sets;
   the ``real`` runs are read from the evaluate stage's store (data/.real-bound) where it holds them.

Last line: ``synthetic_to_real=<best synthetic mIoU / real-data mIoU>``. Targets (issue 14): attention >= 0.80,
DatasetGAN >= 0.85. Needs the recipes' samples and masks (``dvc repro``; the stages here skip what is done) and,
for DatasetGAN, annotations/fashion-datasetgan (scripts/annotate_fashion.py).

    python bench/real_usefulness.py --preview docs/fashion-preview.png   # ~15 CPU minutes once the datasets exist
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CLASSES = 11  # background + 10 garments


def _fmt(ious: list) -> str:
    return " ".join("  -  " if v is None else f"{v:.2f}" for v in ious)


def held_out(recipe, root: Path, count: int) -> list:
    """The first ``count`` samples (by seed) that are not annotations the decoder trained on."""
    from synth.core.paths import DatasetPaths
    from synth.decode.datasetgan.annotations import load_annotations
    from synth.store.labeled import load_dataset_labeled

    annotated = set(load_annotations(recipe.context(), root)) if recipe.decode.type == "datasetgan" else set()
    paths = DatasetPaths(root, recipe.name)
    rows = [r for r in load_dataset_labeled(paths.samples, paths.masks, recipe.name) if r.seed not in annotated]
    return sorted(rows, key=lambda r: r.seed)[:count]


def mask_quality(pred: np.ndarray, truth: np.ndarray) -> dict:
    """mIoU of ``pred`` against ``truth`` on the pixels ``pred`` labels (255 = ignore is left out and counted),
    foreground IoU (any garment vs background) and binding (class right where both say garment)."""
    from synth.evaluate.train import iou_per_class, mean_iou

    labeled = pred != 255
    scored = np.where(labeled, truth, 255).astype(np.uint8)
    ious = iou_per_class(np.where(labeled, pred, 0).astype(np.uint8), scored, CLASSES)
    fg_pred, fg_true = (pred > 0) & labeled, (truth > 0) & labeled
    both = fg_pred & fg_true
    return {
        "miou": mean_iou(ious),
        "per_class": ious,
        "ignore": float(1 - labeled.mean()),
        "fg_iou": float(both.sum() / max(1, (fg_pred | fg_true).sum())),
        "binding": float((pred[both] == truth[both]).mean()) if both.any() else float("nan"),
    }


def print_quality(label: str, q: dict) -> None:
    print(
        f"  {label:<34} mIoU {q['miou']:.4f}  fg IoU {q['fg_iou']:.3f}  binding {q['binding']:.3f}  "
        f"ignore {q['ignore']:.3f}   per class: {_fmt(q['per_class'])}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attention", default="fashion", help="recipe with attention masks")
    parser.add_argument("--datasetgan", default="fashion-datasetgan", help="recipe with DatasetGAN masks ('' to skip)")
    parser.add_argument("--seeds", type=int, default=3, help="segmenter training seeds per variant")
    parser.add_argument("--steps", type=int, default=None, help="segmenter steps (default: the recipe's)")
    parser.add_argument("--held-out", type=int, default=200, help="generated samples for direct mask quality")
    parser.add_argument("--sweep-thresholds", action="store_true", help="re-decode attention at other thresholds")
    parser.add_argument("--skip-training", action="store_true", help="direct mask quality only")
    parser.add_argument("--classifier", type=Path, default=Path("data/annotator/classifier.safetensors"))
    parser.add_argument("--preview", type=Path, default=None, help="also write a 4-sample contact sheet here (README)")
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=None, help="synthetic set sizes (seeds 0..N-1); default the recipe's"
    )
    parser.add_argument(
        "--train", nargs="+", default=None, help="only these training sets, e.g. real attention@1000 (default all)"
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    args = parser.parse_args()
    os.environ.setdefault("SYNTH_TORCH_THREADS", str(args.threads))
    import torch

    torch.set_num_threads(args.threads)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    from annotate_fashion import classifier

    from synth.decode.attention import decode_scores
    from synth.realdata.annotator import Annotator
    from synth.recipe import load_recipe
    from synth.stages.decode import decode
    from synth.stages.evaluate import load_sets, real_bound, score_variants
    from synth.stages.synthesize import synthesize
    from synth.stages.train_decoder import train_decoder

    root = args.root
    recipes = {"attention": load_recipe(args.attention, root)}
    if args.datasetgan:
        recipes["datasetgan"] = load_recipe(args.datasetgan, root)
    started = time.perf_counter()
    for size in args.sizes or [None]:
        for recipe in recipes.values():  # finished shards are skipped: after `dvc repro` this only checks
            sized_recipe, sized_root = at_size(recipe, root, size or recipe.num_samples)
            synthesize(sized_recipe, sized_root, show_progress=False)
            if recipe.decode.type == "datasetgan":
                train_decoder(sized_recipe, sized_root)
            decode(sized_recipe, sized_root, show_progress=False)
    print(f"datasets ready in {time.perf_counter() - started:.0f} s", flush=True)
    if args.preview is not None:
        from synth.report.contact_sheet import contact_sheet

        sheet = contact_sheet(recipes["attention"], root, count=4)
        sheet.resize((sheet.width // 2, sheet.height // 2)).save(args.preview, optimize=True)
        print(f"preview: {args.preview}", flush=True)

    annotator = Annotator(classifier(args.classifier))
    sets = load_sets(recipes["attention"], root)
    real_eval = sets["eval"]
    print("\n== direct mask quality (against the scripted annotator; per class: background, 1..10)", flush=True)
    truth_quality = mask_quality(np.stack(annotator.annotate_many(list(real_eval.images))), real_eval.masks)
    print_quality("annotator vs TRUE masks (real eval)", truth_quality)
    for variant, recipe in recipes.items():
        rows = held_out(recipe, root, args.held_out)
        truth = np.stack(annotator.annotate_many([r.image for r in rows]))
        pred = np.stack([r.mask for r in rows])
        print_quality(f"{variant} ({len(rows)} held-out samples)", mask_quality(pred, truth))
        if variant == "attention" and args.sweep_thresholds:
            scores = _attention_scores(recipe, root, [r.seed for r in rows])
            for label_t, background_t in [(0.4, 0.3), (0.5, 0.4), (0.6, 0.5), (0.7, 0.6), (0.8, 0.7)]:
                swept = np.stack([decode_scores(s, c, recipe.image_size, label_t, background_t)[0] for s, c in scores])
                print_quality(f"  per_class thresholds {label_t}/{background_t}", mask_quality(swept, truth))

    if args.skip_training:
        return
    cfg = recipes["attention"].evaluate
    cfg = cfg.model_copy(update={"repeats": args.seeds, **({"steps": args.steps} if args.steps else {})})
    names = ["background"] + [c.name for c in recipes["attention"].taxonomy.classes]
    print(
        f"\n== segmenter ({cfg.architecture.type}, {cfg.steps} steps, batch {cfg.batch_size}) trained on each set, "
        f"scored on {len(real_eval)} REAL test-split canvases; seeds {cfg.seed}..{cfg.seed + args.seeds - 1}",
        flush=True,
    )
    trained = {"real": sets["real"]}
    for size in args.sizes or [recipes["attention"].num_samples]:
        for variant, recipe in recipes.items():
            sized_recipe, sized_root = at_size(recipe, root, size)
            trained[f"{variant}@{size}"] = load_sets(sized_recipe, sized_root)["source"]
    if args.train:
        trained = {k: v for k, v in trained.items() if k in args.train or k == "real"}
    # the real runs the evaluate stage keeps (data/.real-bound), under the key of these settings (--steps too)
    bound = real_bound(recipes["attention"].model_copy(update={"evaluate": cfg}), root, CLASSES)
    seeds = range(cfg.seed, cfg.seed + args.seeds)
    real_known = {("source", s): ious for s, ious in bound.known(list(seeds)).items()} if bound else {}
    results = {}
    for variant, data in trained.items():
        t0 = time.perf_counter()
        one = cfg.model_copy(update={"variants": ["source"]})
        known = real_known if variant == "real" else None
        res = score_variants({"source": data, "eval": real_eval}, CLASSES, one, names, known=known)["source"]
        results[variant] = res
        runs = np.array(res["runs"])
        ious = [res["per_class"][n] for n in names]
        print(
            f"  {variant:<16} ({len(data):>4} images) mIoU {runs.mean():.4f} +- {runs.std():.4f} "
            f"(runs {', '.join(f'{v:.4f}' for v in runs)}; {time.perf_counter() - t0:.0f} s)   per class: {_fmt(ious)}",
            flush=True,
        )
    real = results["real"]["miou"]
    for variant in [v for v in results if v != "real"]:
        target = {"attention": 0.80, "datasetgan": 0.85}[variant.split("@")[0]]
        print(f"  {variant}_to_real={results[variant]['miou'] / real:.4f} (target >= {target})")
    best = max(results[v]["miou"] for v in results if v != "real")
    print(f"synthetic_to_real={best / real:.4f}")


def at_size(recipe, root: Path, size: int):
    """The recipe made at ``size`` images (seeds 0..size-1) and the root it lives under: its own for its own
    size, else data/bench/size-N/, which links the project's recipes, models, annotations and real sets."""
    if size == recipe.num_samples:
        return recipe, root
    from synth.recipe.schema import SeedRange

    scratch = root / "data" / "bench" / f"size-{size}"
    scratch.mkdir(parents=True, exist_ok=True)
    for name in ("recipes", "models", "annotations", "real"):
        if not (scratch / name).exists():
            (scratch / name).symlink_to((root / name).resolve(), target_is_directory=True)
    return recipe.model_copy(update={"seeds": [SeedRange(start=0, stop=size)]}), scratch


def _attention_scores(recipe, root: Path, seeds: list[int]) -> list:
    """(scores, class_ids) the generator stored for ``seeds``."""
    from synth.core.paths import DatasetPaths
    from synth.store.records import iter_records
    from synth.store.shards import list_shards, read_shard

    wanted, out = set(seeds), {}
    for shard in list_shards(DatasetPaths(root, recipe.name).samples):
        for record in iter_records(read_shard(shard), shard):
            if record.seed in wanted:
                out[record.seed] = (record.array("scores"), record.array("class_ids"))
    return [out[s] for s in seeds]


if __name__ == "__main__":
    main()
