"""The mix stage (HydraMix): ``data/NAME/{samples,masks}`` -> ``data/NAME/mixed/shard-*.parquet``.

Rows use the samples schema with the ``mask`` column filled, like an exact generator's: a composite's mask is
exact by construction. ``seed`` is the composite's index; provenance names its source seeds and the mixing seed.
Which sources and which regions depend only on (mixing seed, index, the source dataset), so shards are
deterministic and resumable like every other stage's. All sources of a composite come from one split
(``split_of`` their seeds) and none is a sample the decoder excluded, so the built ``mixed`` config keeps every
composite and no pixel crosses from one split to another.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import numpy as np

from synth.backends.work import ShardJob, ShardWork
from synth.core.hashing import canonical_hash
from synth.core.paths import DatasetPaths
from synth.mix.compose import MIX_STREAM, choose_sources, compose, dominant_classes, mixing_rng, whole_item_mix
from synth.mix.learned import label_agreement
from synth.mix.masks import class_masks_index, coarsen, felzenszwalb_index
from synth.recipe import Recipe
from synth.splits import split_of
from synth.stages import StageReport, require_section
from synth.stages.runner import run_sharded
from synth.stages.trained_folder import clear_other_folders, save_once
from synth.stats import image_stats
from synth.store.codec import encode_png
from synth.store.exclusions import read_exclusions
from synth.store.labeled import Labeled, load_dataset_labeled, paired_shards
from synth.store.records import SAMPLES_SCHEMA, rows_to_table
from synth.store.shards import ShardPlan, shard_name

MIXED_FORMAT = 3  # 3: sources from one split, excluded samples never drawn; 2: mixer trains on N-way segment mixes
MIXER_FORMAT = 2  # the learned mixer's own key: version 3 changed which sources are drawn, not the mixer


def mix(recipe: Recipe, root: Path = Path("."), show_progress: bool = True, log=lambda msg: None) -> StageReport:
    settings = require_section(recipe, "mix", "mix_recipes")
    paths = DatasetPaths(Path(root), recipe.name)
    out_dir = paths.mixed
    pairs = paired_shards(paths.samples, paths.masks, f"synth synthesize {recipe.name}")
    source_key = canonical_hash([[shard_name(s).key, shard_name(m).key] for s, m in pairs])
    basis = {
        "mix": settings.model_dump(mode="json"),
        "image_size": recipe.image_size,
        "format": MIXED_FORMAT,
        "sources": source_key,
    }
    plans = []
    for start in range(0, settings.count, settings.samples_per_shard):
        indices = tuple(range(start, min(start + settings.samples_per_shard, settings.count)))
        key = canonical_hash(basis | {"indices": [indices[0], indices[-1]]})[:16]
        plans.append(ShardPlan(start // settings.samples_per_shard, indices, key))
    out_dir.mkdir(parents=True, exist_ok=True)
    mixer_basis = basis | {"format": MIXER_FORMAT, "mixer": True}
    mixer_name = f"mixer-{canonical_hash(mixer_basis)[:16]}" if settings.learned else None
    clear_other_folders(out_dir, "mixer", mixer_name)
    work = ShardWork(
        name=recipe.name,
        kind="mixed",
        setup=partial(_setup, paths, recipe.taxonomy.ids, recipe.splits, settings, mixer_name, log),
        make=partial(_make, settings, mixer_name),
    )
    jobs = [ShardJob(plan) for plan in plans]
    return run_sharded(work, jobs, out_dir, f"mix {recipe.name}", show_progress)


def _setup(paths: DatasetPaths, class_ids: list[int], splits, settings, mixer_name: str | None, log):
    """The source dataset, its dominant classes, each sample's split (None: excluded by the decoder, never drawn)
    and the learned mixer (trained once, then loaded)."""
    dataset = load_dataset_labeled(paths.samples, paths.masks, paths.name)
    dominant = dominant_classes([d.class_fraction for d in dataset], class_ids)
    excluded = read_exclusions(paths)
    groups = np.array([None if d.seed in excluded else split_of(d.seed, splits) for d in dataset], dtype=object)
    model = None
    if mixer_name is not None:  # named exactly when settings.learned is set
        model = _trained_mixer(paths.mixed / mixer_name, dataset, settings, log)
    return dataset, dominant, groups, model


def _make(settings, mixer_name: str | None, state, job: ShardJob, _source, advance):
    dataset, dominant, groups, model = state
    rows = make_composites(dataset, dominant, settings, job.plan.seeds, model, mixer_name, groups)
    advance(len(job.plan.seeds))
    return rows_to_table(rows, SAMPLES_SCHEMA)


def _trained_mixer(folder: Path, dataset: list[Labeled], settings, log):
    from synth.mix.learned import LearnedMixerModel, train_mixer

    def train_and_save(tmp: Path) -> None:
        images = [d.image for d in dataset]
        masks = [d.required_mask for d in dataset] if settings.mask.type == "class-masks" else None
        model, history = train_mixer(
            images, settings.learned, settings.seed, log, sources=settings.sources, mask=settings.mask, masks=masks
        )
        model.save(tmp)
        (tmp / "losses.json").write_text(json.dumps(history, sort_keys=True, indent=2) + "\n")

    save_once(folder, train_and_save)
    # Composites always come from the saved weights on the CPU, so a resumed run draws the same bytes.
    return LearnedMixerModel.load(folder)


def make_composites(
    dataset: list[Labeled], dominant: np.ndarray, settings, indices, model=None, mixer_name=None, groups=None
) -> list[dict]:
    planned = []
    for i in indices:
        rng = mixing_rng(settings, i)
        picked = choose_sources(dominant, settings, rng, groups)
        members = [dataset[j] for j in picked]
        split = None if groups is None else groups[picked[0]]
        images, masks = [m.image for m in members], [m.required_mask for m in members]
        made = None
        if settings.mask.type == "felzenszwalb":
            index = felzenszwalb_index(images[0], len(members), settings.mask, rng)
        elif settings.mask.type == "class-masks":
            index = class_masks_index(masks, settings.mask, rng)
        else:  # whole-items: items move, so the composite is made here and the index is who owns each pixel
            *made, index = whole_item_mix(images, masks, rng, settings.mask.tries)
        planned.append((i, members, images, masks, index, split, made))
    drawn = None
    if model is not None:
        s = model.stride
        planned = [
            (i, mem, imgs, msks, coarsen(index, s), split, made) for i, mem, imgs, msks, index, split, made in planned
        ]
        drawn = model.mix([p[2] for p in planned], [p[4][s // 2 :: s, s // 2 :: s] for p in planned])
    rows = []
    for k, (i, members, images, masks, index, split, made) in enumerate(planned):
        image, mask = made if made is not None else compose(images, masks, index)
        agreement = None
        if drawn is not None:
            image = drawn[k]
            measured = label_agreement(image, images, masks, mask)  # on the drawn image: does it match its labels?
            agreement = None if np.isnan(measured) else round(measured, 4)
        provenance = {
            "seed": i,
            "mix": {
                "index": i,
                "sources": [m.seed for m in members],
                "split": split,
                "mixing_seed": settings.seed,
                "stream": [MIX_STREAM, settings.seed, i],
                "pairing": settings.pairing,
                "mask": settings.mask.model_dump(mode="json"),
                "source_shares": [round(float((index == k2).mean()), 6) for k2 in range(len(members))],
                "learned": mixer_name,
                "label_agreement": agreement,
            },
            "generator": members[0].provenance.get("generator"),
        }
        prompt = " | ".join(m.prompt for m in members)
        rows.append(
            {
                "seed": i,
                "prompt": prompt,
                "image": encode_png(image),
                "mask": encode_png(mask),
                "arrays": [],
                **image_stats(image),
                "provenance": json.dumps({"prompt": prompt, **provenance}, sort_keys=True, separators=(",", ":")),
            }
        )
    return rows
