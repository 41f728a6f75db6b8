"""The evaluate stage: the usefulness score. For each variant in ``evaluate.variants``, train a segmentation
network and report mIoU (mean and per class) on a labeled evaluation set, in ``reports/NAME/evaluate.json``
(DVC metrics), so a recipe change shows its effect on the number users care about.

``mixed`` trains on the source samples plus the mix stage's composites (HydraMix's claim: more, exactly
labeled training images from the same samples). The evaluation set is ``evaluate.eval`` (a real labeled set in a Parquet file, e.g. Fashion-MNIST canvases)
or else the recipe's ``target.eval``. The ``real`` variant trains on ``evaluate.reference`` (real labeled
training images): synthetic-to-real is ``miou.source / miou.real``. The DVC stage runs for every recipe, so the
report and the card depend on this file and never print a previous run's scores: a recipe with ``evaluate: null``
gets ``{}`` (not scored).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from synth.core.atomic import write_text
from synth.core.labels import BACKGROUND_ID, IGNORE_ID
from synth.core.paths import DatasetPaths
from synth.errors import UserError
from synth.recipe import Recipe
from synth.stages import require_section
from synth.store.exclusions import read_exclusions
from synth.store.labeled import load_dataset_labeled, load_self_labeled

if TYPE_CHECKING:
    from synth.evaluate.config import EvaluateSettings


def score_variants(
    sets: dict,
    num_classes: int,
    cfg: EvaluateSettings,
    class_names: list[str],
    log=lambda msg: None,
    workers: int | None = None,
    known: dict[tuple[str, int], list[float | None]] | None = None,
) -> dict:
    """``sets``: source, stylized/real (optional), target (unlabeled Arrays), eval (labeled Arrays).

    Each variant is trained ``cfg.repeats`` times (seeds ``cfg.seed``, ``cfg.seed + 1``, ...); its ``miou`` and
    ``per_class`` are means over the runs, ``runs`` lists every run's mIoU and ``run_ious`` its per-class IoU.
    The runs are independent (each seeds everything it draws and computes on one torch thread), so ``workers``
    processes train them side by side with the numbers of one process (``training_workers``: one per CPU core by
    default, one on a GPU), and a run in ``known`` ((variant, seed) -> per-class IoU, e.g. the real-data bound
    trained for another recipe: synth/stages/real_bound.py) is taken as it is instead of trained again."""
    known = known or {}
    jobs = [(variant, seed) for variant in cfg.variants for seed in range(cfg.seed, cfg.seed + cfg.repeats)]
    todo = [job for job in jobs if job not in known]
    workers = training_workers(cfg, len(todo)) if workers is None else workers
    trained: Iterable[list[float | None]]
    if workers <= 1 or len(todo) <= 1:
        trained = (_train_and_score(sets, num_classes, cfg, variant, seed) for variant, seed in todo)
        return _summarise(jobs, _merged(jobs, known, trained), cfg, class_names, log)
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn: this process may hold torch's thread pools, which a forked child would inherit half-initialised
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_keep_sets, initargs=(sets,)) as pool:
        trained = pool.map(_score_in_worker, [(num_classes, cfg, variant, seed) for variant, seed in todo])
        return _summarise(jobs, _merged(jobs, known, trained), cfg, class_names, log)


def _merged(
    jobs: Sequence[tuple[str, int]], known: dict, trained: Iterable[list[float | None]]
) -> Iterator[tuple[list[float | None], bool]]:
    """Every job's (per-class IoU, whether it was known), in job order: known runs, the rest as training yields."""
    fresh = iter(trained)
    for job in jobs:
        yield (known[job], True) if job in known else (next(fresh), False)


def training_workers(cfg, jobs: int) -> int:
    """``SYNTH_EVALUATE_WORKERS``, else one process per CPU core (each trains on one thread), one on a GPU."""
    import os

    from synth.core.torch_runtime import resolve_device

    if "SYNTH_EVALUATE_WORKERS" in os.environ:
        return max(1, int(os.environ["SYNTH_EVALUATE_WORKERS"]))
    if resolve_device(cfg.device).type != "cpu":
        return 1
    return max(1, min(jobs, os.cpu_count() or 1))


def _summarise(
    jobs: Sequence[tuple[str, int]],
    scored: Iterable[tuple[list[float | None], bool]],
    cfg: EvaluateSettings,
    class_names: list[str],
    log,
) -> dict:
    from synth.evaluate.train import mean_iou

    per_variant: dict[str, list] = {variant: [] for variant in cfg.variants}
    for (variant, seed), (ious, was_known) in zip(jobs, scored):
        per_variant[variant].append(ious)
        log(f"evaluate {variant} (seed {seed}): mIoU {mean_iou(ious):.4f}{' (trained before)' if was_known else ''}")
    results = {}
    for variant, per_run in per_variant.items():
        runs = [mean_iou(ious) for ious in per_run]
        per_class = {}
        for c, name in enumerate(class_names):
            values = [r[c] for r in per_run if r[c] is not None]
            per_class[name] = round(float(np.mean(values)), 4) if values else None
        results[variant] = {
            "miou": round(float(np.mean(runs)), 4),
            "per_class": per_class,
            "runs": [round(v, 4) for v in runs],
            "run_ious": per_run,
        }
    return results


def _train_and_score(
    sets: dict, num_classes: int, cfg: EvaluateSettings, variant: str, seed: int
) -> list[float | None]:
    """One run: train the variant's network with ``seed``, its per-class IoU on the evaluation set."""
    from synth.adapt.csa import train_adapted
    from synth.evaluate.train import iou_per_class, predict, train_supervised

    if variant == "adapted":
        labeled = sets.get("stylized") or sets["source"]
        original = sets["source"] if sets.get("stylized") is not None else None  # CSA's consistency term
        model = train_adapted(labeled, sets["target"], num_classes, cfg, seed, original=original)
    else:
        model = train_supervised(sets[variant], num_classes, cfg, seed)
    return iou_per_class(predict(model, sets["eval"].images), sets["eval"].masks, num_classes)


_WORKER_SETS: dict = {}


def _keep_sets(sets: dict) -> None:
    """A worker's initializer: the training and evaluation sets, sent once per process rather than per run."""
    _WORKER_SETS.update(sets)


def _score_in_worker(job: tuple) -> list[float | None]:
    num_classes, cfg, variant, seed = job
    return _train_and_score(_WORKER_SETS, num_classes, cfg, variant, seed)


def _check_ids(arrays, id2label: dict[int, str], where: str) -> None:
    unknown = {int(v) for v in np.unique(arrays.masks)} - set(id2label) - {BACKGROUND_ID, IGNORE_ID}
    if unknown:
        raise UserError(f"{where}: masks hold class ids {sorted(unknown)} not in the taxonomy")


def load_sets(recipe: Recipe, root: Path) -> dict:
    """Every set the recipe's variants need, as Arrays at ``evaluate.image_size``."""
    from synth.evaluate.labeled_file import read_labeled_file
    from synth.segment.arrays import Arrays, to_arrays

    cfg = recipe.evaluate
    if cfg is None:
        raise UserError(f"recipes/{recipe.name}.yaml: evaluate: null; there is nothing to score")
    size = cfg.image_size
    paths = DatasetPaths(Path(root), recipe.name)
    excluded = read_exclusions(paths)
    made = [row for row in load_dataset_labeled(paths.samples, paths.masks, recipe.name) if row.seed not in excluded]
    if not made:
        raise UserError(f"{paths.masks}: every sample is excluded; nothing to train on")
    sets = {"source": to_arrays(made, size)}
    if cfg.eval is not None:
        sets["eval"] = read_labeled_file(root, cfg.eval, size)
        eval_where = cfg.eval.path
    else:
        require_section(recipe, "target", "adapt_recipes")
        eval_where = str(paths.target_eval)
        sets["eval"] = to_arrays(load_self_labeled(paths.target_eval, f"synth target {recipe.name}"), size)
    id2label = recipe.taxonomy.id2label()
    _check_ids(sets["eval"], id2label, eval_where)
    if "real" in cfg.variants:
        if cfg.reference is None:  # synth check refuses this recipe; a direct call gets the same line
            raise UserError(f"recipes/{recipe.name}.yaml: evaluate.reference: the 'real' variant needs it")
        sets["real"] = read_labeled_file(root, cfg.reference, size)
        _check_ids(sets["real"], id2label, cfg.reference.path)
    if "adapted" in cfg.variants:
        sets["target"] = to_arrays(
            load_self_labeled(paths.target_images, f"synth target {recipe.name}"), size, labeled=False
        )
    if "mixed" in cfg.variants:
        # HydraMix's usefulness: the source samples plus their composites (data/NAME/mixed), one training set.
        composites = to_arrays(load_self_labeled(paths.mixed, f"synth mix {recipe.name}"), size)
        sets["mixed"] = Arrays(
            np.concatenate([sets["source"].images, composites.images]),
            np.concatenate([sets["source"].masks, composites.masks]),
        )
    if recipe.stylize is not None and {"stylized", "adapted"} & set(cfg.variants):
        sets["stylized"] = to_arrays(load_self_labeled(paths.stylized, f"synth stylize {recipe.name}"), size)
    return sets


def evaluate(recipe: Recipe, root: Path = Path("."), log=lambda msg: None) -> dict:
    """The scores written to ``reports/NAME/evaluate.json``; ``{}`` when the recipe says ``evaluate: null``."""
    path = DatasetPaths(Path(root), recipe.name).evaluation
    if recipe.evaluate is None:
        _write_json(path, {})
        return {}
    cfg = recipe.evaluate
    sets = load_sets(recipe, root)
    id2label = recipe.taxonomy.id2label()
    num_classes = max(id2label) + 1
    names = [id2label.get(i, str(i)) for i in range(num_classes)]
    bound = real_bound(recipe, root, num_classes)
    seeds = list(range(cfg.seed, cfg.seed + cfg.repeats))
    known = {("real", seed): ious for seed, ious in bound.known(seeds).items()} if bound else {}
    results = score_variants(sets, num_classes, cfg, names, log, known=known)
    if bound is not None:
        trained = dict(zip(seeds, results["real"]["run_ious"]))
        bound.keep({seed: ious for seed, ious in trained.items() if ("real", seed) not in known})
    metrics = {
        "eval_samples": len(sets["eval"]),
        "train_samples": len(sets["source"]),
        "image_size": cfg.image_size,
        "steps": cfg.steps,
        "miou": {k: v["miou"] for k, v in results.items()},
        "per_class": {k: v["per_class"] for k, v in results.items()},
    }
    if "mixed" in sets:
        metrics["mixed_samples"] = len(sets["mixed"]) - len(sets["source"])  # the composites added to the source
    if "real" in sets:
        metrics["reference_samples"] = len(sets["real"])
        if "source" in results and results["real"]["miou"] > 0:
            metrics["synthetic_to_real"] = round(results["source"]["miou"] / results["real"]["miou"], 4)
    if cfg.repeats > 1:
        metrics["runs"] = {k: v["runs"] for k, v in results.items()}
    _write_json(path, metrics)
    return metrics


def real_bound(recipe: Recipe, root: Path, num_classes: int):
    """Where the ``real`` runs are kept for every recipe with the same sets and settings; None when the recipe
    has no ``real`` variant, or scores on its own ``target.eval`` (then the bound depends on the recipe)."""
    from synth.core.torch_runtime import resolve_device
    from synth.stages.real_bound import RealBound, bound_key

    cfg = recipe.evaluate
    if cfg is None or "real" not in cfg.variants or cfg.eval is None or cfg.reference is None:
        return None
    return RealBound(root, bound_key(root, cfg, num_classes, resolve_device(cfg.device).type))


def _write_json(path: Path, metrics: dict) -> None:
    write_text(path, json.dumps(metrics, indent=2, sort_keys=True) + "\n")
