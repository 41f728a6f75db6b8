"""The stylize stage: ``data/NAME/{samples,masks}`` + ``data/NAME/target/images`` -> ``data/NAME/stylized``.

One stylized shard per samples shard (samples schema, ``mask`` = the masks shard's PNG bytes, unchanged), and
``reports/NAME/stylize.json`` (DVC metrics): the domain distance to the target images before and after.

Method ``cut`` first trains its translator once on the first ``cut.train_images`` samples (by seed) and the
target images, saved as ``data/NAME/stylized/translator-KEY/`` (KEY: a hash of the settings and of those images'
bytes), and every shard's key names it: a killed run loads it instead of training again; extending the seed range
past ``train_images`` keeps it and writes only the new shards.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from synth.adapt.domain import conv_domain_distance, domain_distance
from synth.adapt.stylize import fda, lab_stats, reinhard
from synth.adapt.translate import edge_agreement
from synth.backends.work import ShardJob, ShardWork
from synth.core.atomic import write_text
from synth.core.hashing import canonical_hash
from synth.core.paths import DatasetPaths
from synth.errors import UserError
from synth.recipe import Recipe
from synth.stages import StageReport, require_section
from synth.stages.runner import run_sharded
from synth.stages.trained_folder import clear_other_folders, save_once
from synth.stats import image_stats
from synth.store.codec import encode_png
from synth.store.labeled import load_self_labeled, paired_shards, read_pair
from synth.store.records import SAMPLES_SCHEMA, rows_to_table
from synth.store.shards import ShardPlan, list_shards, shard_name

STYLIZED_FORMAT = 1
TRANSLATOR_FORMAT = 1  # bump when the translator's network or training changes for the same settings
_STYLE_STREAM = 0x5354594C  # "STYL"


@dataclass
class StylizeReport(StageReport):
    metrics: dict = field(default_factory=dict)


def target_images(paths: DatasetPaths) -> tuple[list[np.ndarray], str]:
    folder = paths.target_images
    rows = load_self_labeled(folder, f"synth target {paths.name}")
    return [r.image for r in rows], canonical_hash([shard_name(p).key for p in list_shards(folder)])


def stylize_image(
    image: np.ndarray, seed: int, settings, targets: list[np.ndarray], stats: tuple[np.ndarray, np.ndarray]
) -> np.ndarray:
    """One image by a training-free method (``cut`` translates whole shards: ``_make``). ``stats``: the targets'
    LAB means and standard deviations (``lab_stats``)."""
    out = image
    if "reinhard" in settings.method:
        target_mean, target_std = stats
        out = reinhard(out, target_mean, target_std, settings.strength)
    if "fda" in settings.method:
        pick = int(np.random.default_rng([_STYLE_STREAM, settings.seed, seed]).integers(len(targets)))
        out = fda(out, targets[pick], settings.fda_beta, settings.strength)
    return out


def stylize(recipe: Recipe, root: Path = Path("."), show_progress: bool = True, log=lambda msg: None) -> StylizeReport:
    settings = require_section(recipe, "stylize", "adapt_recipes")
    paths = DatasetPaths(Path(root), recipe.name)
    out_dir = paths.stylized
    pairs = paired_shards(paths.samples, paths.masks, f"synth synthesize {recipe.name}")
    targets, targets_key = target_images(paths)
    if any(t.shape != targets[0].shape for t in targets):
        raise UserError(f"{paths.target}: target images differ in size; rerun `synth target {recipe.name}`")
    basis = {"stylize": settings.recorded(), "format": STYLIZED_FORMAT, "targets": targets_key}
    out_dir.mkdir(parents=True, exist_ok=True)
    translator = None
    if settings.method == "cut":
        translator = _translator_folder(settings.cut, pairs, targets, targets_key, out_dir, log)
        basis["translator"] = translator.name
    plans, jobs = [], []
    for samples_path, masks_path in pairs:
        index, skey = shard_name(samples_path)
        key = canonical_hash(basis | {"source": [skey, shard_name(masks_path).key]})[:16]
        plan = ShardPlan(index, tuple(range(_rows(samples_path))), key)
        plans.append((samples_path, masks_path, plan))
        jobs.append(ShardJob(plan, str(samples_path)))
    work = ShardWork(
        name=recipe.name,
        kind="stylized",
        setup=partial(_setup, targets, translator),
        make=partial(_make, settings, basis, {str(s): m for s, m, _ in plans}),
    )
    report = StylizeReport()
    run_sharded(work, jobs, out_dir, f"stylize {recipe.name}", show_progress, report=report)  # fills it in
    before = []
    for samples_path, masks_path, _ in plans:
        before += [item.image for item in read_pair(samples_path, masks_path)]
    after = [r.image for r in load_self_labeled(out_dir, f"synth stylize {recipe.name}")]
    report.samples = len(after)
    d_before, d_after = domain_distance(before, targets), domain_distance(after, targets)
    edges = edge_agreement(before, after)
    c_before, c_after = conv_domain_distance(before, targets), conv_domain_distance(after, targets)
    metrics = {
        "method": settings.method,
        "strength": settings.strength,
        "samples": len(after),
        "target_images": len(targets),
        "domain_distance": {
            "before": round(d_before, 4),
            "after": round(d_after, 4),
            "reduction": round(1 - d_after / d_before, 4) if d_before > 0 else 0.0,
        },
        # LAB statistics are what Reinhard sets, so the distance above falls by construction; random conv features
        # are a space no stylizer here optimises (it can rise).
        "domain_distance_conv": {
            "before": round(c_before, 4),
            "after": round(c_after, 4),
            "reduction": round(1 - c_after / c_before, 4) if c_before > 0 else 0.0,
        },
        # 1 when every edge stayed where it was: the masks fit the stylized images only as far as this holds
        "edge_agreement": None if np.isnan(edges) else round(edges, 4),
    }
    if translator is not None:
        metrics["translator"] = translator.name
    write_text(paths.stylize_metrics, json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    report.metrics = metrics
    return report


def _translator_folder(cfg, pairs, targets, targets_key: str, out_dir: Path, log) -> Path:
    """The trained translator's folder: trained here unless a previous run left it."""
    from synth.adapt.translate import train_translator

    source = _first_images(pairs, cfg.train_images)
    digest = canonical_hash([hashlib.sha256(img.tobytes()).hexdigest() for img in source])
    basis = {"cut": cfg.model_dump(mode="json"), "source": digest, "targets": targets_key, "format": TRANSLATOR_FORMAT}
    folder = out_dir / f"translator-{canonical_hash(basis)[:16]}"
    clear_other_folders(out_dir, "translator", folder.name)

    def train_and_save(tmp: Path) -> None:
        log(
            f"training the CUT translator on {len(source)} samples and {len(targets)} target images ({cfg.steps} steps)"
        )
        model, history = train_translator(source, targets, cfg, log)
        model.save(tmp, history)

    save_once(folder, train_and_save)
    return folder


def _first_images(pairs, count: int) -> list[np.ndarray]:
    """The first ``count`` sample images by seed: samples shards hold fixed seed blocks, so shard order is seed
    order and a longer seed range only appends."""
    images: list[tuple[int, np.ndarray]] = []
    for samples_path, masks_path in sorted(pairs, key=lambda pair: shard_name(pair[0]).number):
        images += sorted(((item.seed, item.image) for item in read_pair(samples_path, masks_path)), key=lambda t: t[0])
        if len(images) >= count:
            break
    return [img for _, img in images[:count]]


def _setup(targets: list[np.ndarray], translator: Path | None):
    model = None
    if translator is not None:
        from synth.adapt.translate import Translator

        model = Translator.load(translator)
    return targets, lab_stats(targets), model


def _make(settings, basis: dict, masks: dict[str, Path], state, job: ShardJob, _source, advance):
    """One stylized shard: each sample of the samples shard moved toward the targets, its mask bytes unchanged."""
    targets, stats, translator = state
    items = list(read_pair(Path(job.source), masks[job.source]))
    if translator is not None:
        translated = translator.translate([item.image for item in items])
        images = [_blend(item.image, out, settings.strength) for item, out in zip(items, translated)]
    else:
        images = [stylize_image(item.image, item.seed, settings, targets, stats) for item in items]
    recorded = settings.recorded() | {k: basis[k] for k in ("targets", "translator") if k in basis}
    rows = []
    for item, image in zip(items, images):
        rows.append(
            {
                "seed": item.seed,
                "prompt": item.prompt,
                "image": encode_png(image),
                "mask": item.mask_png,  # the very bytes decode wrote: geometry did not move
                "arrays": [],
                **image_stats(image),
                "provenance": json.dumps(
                    item.provenance | {"stylize": recorded},
                    sort_keys=True,
                    separators=(",", ":"),
                ),
            }
        )
        advance(1)
    return rows_to_table(rows, SAMPLES_SCHEMA)


def _blend(image: np.ndarray, styled: np.ndarray, strength: float) -> np.ndarray:
    if strength >= 1.0:
        return styled
    mixed = (1 - strength) * image.astype(np.float64) + strength * styled.astype(np.float64)
    return np.clip(np.rint(mixed), 0, 255).astype(np.uint8)


def _rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return pq.read_metadata(path).num_rows
