"""The evaluate stage: the usefulness score. For each variant in ``evaluate.variants``, train the tiny UNet and
report mIoU (mean and per class) on the labeled target evaluation set, in ``reports/NAME/evaluate.json`` (DVC
metrics), so a recipe change shows its effect on the number users care about.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from synth.errors import UserError
from synth.paths import DatasetPaths
from synth.recipe import Recipe
from synth.stages.mix import require_section
from synth.stages.stylize import stylized_dir
from synth.stages.target import target_dir
from synth.store.labeled import load_dataset_labeled, load_self_labeled


def evaluate_path(root: Path, name: str) -> Path:
    return DatasetPaths(Path(root), name).reports / "evaluate.json"


def score_variants(sets: dict, num_classes: int, cfg, class_names: list[str], log=lambda msg: None) -> dict:  # noqa: ANN001
    """``sets``: source, stylized (optional), target (unlabeled Arrays), eval (labeled Arrays)."""
    from synth.adapt.csa import train_adapted
    from synth.evaluate.train import iou_per_class, mean_iou, predict, train_supervised

    results = {}
    for variant in cfg.variants:
        if variant == "source":
            model = train_supervised(sets["source"], num_classes, cfg, cfg.seed)
        elif variant == "stylized":
            model = train_supervised(sets["stylized"], num_classes, cfg, cfg.seed)
        else:
            labeled = sets.get("stylized") or sets["source"]
            original = sets["source"] if sets.get("stylized") is not None else None  # CSA's consistency term
            model = train_adapted(labeled, sets["target"], num_classes, cfg, cfg.seed, original=original)
        ious = iou_per_class(predict(model, sets["eval"].images), sets["eval"].masks, num_classes)
        results[variant] = {
            "miou": round(mean_iou(ious), 4),
            "per_class": {name: (None if v is None else round(v, 4)) for name, v in zip(class_names, ious)},
        }
        log(f"evaluate {variant}: mIoU {results[variant]['miou']:.4f}")
    return results


def evaluate(recipe: Recipe, root: Path = Path("."), log=lambda msg: None) -> dict:  # noqa: ANN001
    from synth.evaluate.train import to_arrays

    cfg = require_section(recipe, "evaluate", "adapt_recipes")
    require_section(recipe, "target", "adapt_recipes")
    paths = DatasetPaths(Path(root), recipe.name)
    size = cfg.image_size
    sets = {
        "source": to_arrays(load_dataset_labeled(paths.samples, paths.masks, recipe.name), size),
        "eval": to_arrays(load_self_labeled(target_dir(root, recipe.name) / "eval", f"synth target {recipe.name}"), size),
    }
    if "adapted" in cfg.variants:
        sets["target"] = to_arrays(load_self_labeled(target_dir(root, recipe.name) / "images", f"synth target {recipe.name}"), size, labeled=False)
    if recipe.stylize is not None and {"stylized", "adapted"} & set(cfg.variants):
        sets["stylized"] = to_arrays(load_self_labeled(stylized_dir(root, recipe.name), f"synth stylize {recipe.name}"), size)
    id2label = recipe.taxonomy.id2label()
    num_classes = max(id2label) + 1
    unknown = {int(v) for v in np.unique(sets["eval"].masks)} - set(id2label) - {255}
    if unknown:
        raise UserError(f"{target_dir(root, recipe.name) / 'eval'}: masks hold class ids {sorted(unknown)} not in the taxonomy")
    names = [id2label.get(i, str(i)) for i in range(num_classes)]
    results = score_variants(sets, num_classes, cfg, names, log)
    metrics = {
        "eval_samples": len(sets["eval"]),
        "train_samples": len(sets["source"]),
        "image_size": size,
        "steps": cfg.steps,
        "miou": {k: v["miou"] for k, v in results.items()},
        "per_class": {k: v["per_class"] for k, v in results.items()},
    }
    path = evaluate_path(root, recipe.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)
    return metrics
