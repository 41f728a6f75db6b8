"""The ``train-decoder`` stage: annotations/NAME + samples -> ``data/NAME/decoder/`` (ensemble checkpoint).

The folder always exists after the stage, so ``decode`` can depend on it for every recipe: recipes whose
decoder is not ``datasetgan`` get a one-line ``not-applicable.json`` that never changes. A trained folder is
keyed by what made it (decoder settings, taxonomy, annotation hashes, the samples shards of the annotated
seeds); when the key is unchanged the stage keeps the checkpoint, so touching another recipe's annotations
retrains nothing here and re-decodes nothing downstream.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from synth.core.atomic import write_atomic, write_text
from synth.core.hashing import canonical_hash
from synth.core.paths import DatasetPaths
from synth.decode.datasetgan.decoder import DatasetGANConfig
from synth.errors import UserError
from synth.recipe import STAGES

if TYPE_CHECKING:
    from synth.recipe.schema import Recipe
    from synth.store.records import SampleRecord


@dataclass
class TrainReport:
    status: str  # trained | up to date | not applicable
    annotations: int = 0
    pixels: int = 0
    dim: int = 0

    def summary(self, name: str) -> str:
        if self.status == "trained":
            return f"train-decoder {name}: trained on {self.annotations} annotations ({self.pixels} pixels, {self.dim} dims)"
        return f"train-decoder {name}: {self.status}"


TRAINING_FORMAT = 3  # bump when the weights the same annotations and samples train change


def records_for_seeds(root: Path, name: str, seeds: set[int]) -> dict[int, SampleRecord]:
    from synth.store.records import records_from_table
    from synth.store.shards import list_shards, read_shard

    out = {}
    for shard in list_shards(DatasetPaths(Path(root), name).samples):
        table = read_shard(shard, ["seed", "prompt", "image", "mask", "arrays", "provenance"])
        wanted = [i for i, s in enumerate(table.column("seed").to_pylist()) if s in seeds]
        if wanted:
            out.update({r.seed: r for r in records_from_table(table.take(wanted), shard)})
    return out


def training_key(recipe: Recipe, root: Path, manifest: dict) -> str:
    """What the trained ensemble depends on. ``decode.judge_labels`` is left out (as when it is off, so keys made
    before it existed stand): the judge checks the masks the trained decoder makes, never its training, so
    switching it on keeps the ensemble."""
    from synth.store.shards import list_shards

    dump = recipe.model_dump(mode="json")
    dump["decode"].pop("judge_labels", None)
    shards = [p.name for p in list_shards(DatasetPaths(Path(root), recipe.name).samples)]
    annotated = sorted((int(e["seed"]), e["sha256"]) for e in manifest["annotations"])
    spans = sorted(
        {s for s in shards if any(int(s[6:11]) == seed // recipe.samples_per_shard for seed, _ in annotated)}
    )
    fields = {k: dump[k] for k in STAGES["train-decoder"].key_fields}
    basis = fields | {"annotations": annotated, "samples": spans}
    # TRAINING_FORMAT 2: trained on one torch thread (was the caller's count): weights made before are retrained.
    # 3: the ensemble file's header is written with sorted keys (byte-stable); older files are written again.
    return canonical_hash(basis | {"format": TRAINING_FORMAT})


def train_decoder(
    recipe: Recipe,
    root: Path = Path("."),
    log=lambda message: None,
    force: bool = False,
    workers: int | None = 1,
) -> TrainReport:
    """``workers``: one-thread processes training the ensemble's members side by side (None: one per CPU core,
    the CLI's default); the weights are the same for any count."""
    from synth.decode.datasetgan.annotations import check_annotated_images, load_annotations, read_manifest

    paths = DatasetPaths(Path(root), recipe.name)
    paths.decoder.mkdir(parents=True, exist_ok=True)
    settings = recipe.decode
    if not isinstance(settings, DatasetGANConfig):
        for path in (paths.decoder_checkpoint, paths.decoder_meta):
            path.unlink(missing_ok=True)
        note = {"decoder": recipe.decode.type, "note": "train-decoder applies only to decode.type datasetgan"}
        write_text(paths.decoder_not_applicable, json.dumps(note, sort_keys=True) + "\n")
        return TrainReport("not applicable")
    paths.decoder_not_applicable.unlink(missing_ok=True)
    manifest = read_manifest(root, recipe.name)
    if not manifest["annotations"]:
        raise UserError(
            f"annotations/{recipe.name}: no annotations yet; run `synth annotate export {recipe.name} --count 16`, "
            f"label the images, then `synth annotate import {recipe.name} DIR`"
        )
    key = training_key(recipe, root, manifest)
    meta_path = paths.decoder_meta
    if not force and paths.decoder_checkpoint.is_file() and meta_path.is_file():
        try:
            if json.loads(meta_path.read_text()).get("key") == key:
                return TrainReport("up to date")
        except json.JSONDecodeError:
            pass
    masks = load_annotations(recipe.context(), root)
    records = records_for_seeds(root, recipe.name, set(masks))
    missing = sorted(set(masks) - set(records))
    if missing:
        raise UserError(
            f"annotations/{recipe.name}: seeds {missing[:8]} have no samples; run `synth synthesize {recipe.name}`"
        )
    check_annotated_images(root, recipe.name, {seed: record.image for seed, record in records.items()})
    # torch (~2 CPU s to import) only here: the not-applicable marker and an up-to-date check need none of it
    from synth.decode.datasetgan.ensemble import collect_pixels, train_ensemble

    values = [0, *recipe.taxonomy.ids]
    source = settings.features.build(recipe.context())
    try:
        dim = source.dim
        budget = settings.max_feature_mb * 2**20 // (2 * dim * len(masks))
        per_image = max(16, min(settings.pixels_per_image, budget))
        features, targets = collect_pixels(source, records, masks, values, per_image, settings.seed)
        identity = source.identity()
    finally:
        source.close()
    from synth.backends.local import default_workers

    workers = default_workers() if workers is None else workers
    ensemble = train_ensemble(features, targets, values, settings.train_settings(), log, workers)
    meta = {
        "key": key,
        "annotated_seeds": sorted(masks),
        "values": values,
        "dim": dim,
        "pixels": int(features.shape[0]),
        "pixels_per_image": per_image,
        "features": identity,
        "members": [vars(s) for s in ensemble.stats],
    }
    write_atomic(paths.decoder_checkpoint, lambda tmp: ensemble.save(tmp, extra={"key": key, "dim": dim}))
    write_text(meta_path, json.dumps(meta, indent=1, sort_keys=True) + "\n")
    return TrainReport("trained", len(masks), int(features.shape[0]), dim)
