"""Which variant rows go into which file of ``build/NAME/VARIANT/``, and how each variant was made.

The build stage packages each validated variant (``reports/NAME/validation-variants.json``) as its own dataset
config, beside the default config in ``data/``, with the same columns and the same file naming (one file per
split and source shard). The split rule keeps every split free of pixels from another split:

- stylized: a stylized sample keeps its seed, so it is in the split of its base sample (``split_of(seed)``);
- mixed: a composite goes to the split that all its sources share. The mix stage draws a composite's sources
  from one split, so none is lost; a composite whose sources lie in different splits (shards of an older mix
  stage) is left out and counted in ``lineage.json`` and the card, so a test or validation image never reaches
  train through a composite, nor a train image the test split.

Samples the decoder excluded stay out of every variant: stylized rows with that seed, composites with such a
source. Writing is the build stage's own (``synth.stages.build``); this module only plans and reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from synth.core.hashing import canonical_hash
from synth.core.paths import DatasetPaths
from synth.errors import UserError
from synth.recipe import Recipe
from synth.splits import SPLIT_NAMES, split_of
from synth.stages.variants import VARIANTS, variant_folder
from synth.store.shards import list_shards, read_shard, shard_name

VARIANT_FORMAT = 1  # bump when the bytes of a variant's split file change for the same inputs
# Per-composite fields of a mixed row's provenance; the rest (pairing, mask, mixing seed, mixer) is the setting.
_PER_COMPOSITE = {"index", "sources", "split", "stream", "source_shares", "label_agreement"}


@dataclass(frozen=True)
class VariantFile:
    name: str  # train-00003.parquet
    split: str
    shard: Path
    seeds: tuple[int, ...]
    key: str


@dataclass
class VariantPlan:
    variant: str
    files: list[VariantFile]
    validation: dict
    made: dict  # how it was made (settings from the shards' provenance)
    left_out: dict[str, int] = field(default_factory=dict)  # reason -> count


def read_variants_validation(paths: DatasetPaths, allow_invalid: bool) -> dict[str, dict]:
    """The validated variants, refusing a failed one unless ``allow_invalid`` (like the base validation)."""
    file = paths.variants_validation
    if not file.is_file():
        for variant in VARIANTS:
            folder = variant_folder(paths, variant)
            if list_shards(folder):
                raise UserError(
                    f"{folder}: {variant} shards are not validated; run `synth validate-variants {paths.name}` first"
                )
        return {}
    try:
        summary = json.loads(file.read_text())
    except json.JSONDecodeError as error:
        raise UserError(f"{file}: not valid JSON ({error})") from None
    if not isinstance(summary, dict) or any(
        v not in VARIANTS or not isinstance(m, dict) or not isinstance(m.get("success"), bool)
        for v, m in summary.items()
    ):
        raise UserError(f"{file}: not a variants summary; rerun `synth validate-variants {paths.name}`")
    for variant, metrics in summary.items():
        if not metrics["success"] and not allow_invalid:
            raise UserError(
                f"{file}: variant {variant} failed validation; fix the recipe or pass --allow-invalid to build an "
                "unvalidated dataset"
            )
    return summary


def _split(variant: str, seed: int, provenance: dict, recipe: Recipe, excluded: dict[int, str]) -> str | None:
    if variant == "stylized":
        return None if seed in excluded else split_of(seed, recipe.splits)
    sources = provenance["mix"]["sources"]
    if any(s in excluded for s in sources):
        return None
    splits = {split_of(s, recipe.splits) for s in sources}
    return splits.pop() if len(splits) == 1 else None


def _made(variant: str, provenance: dict) -> dict:
    if variant == "stylized":
        return dict(provenance.get("stylize", {}))
    mix = provenance["mix"]
    return {k: v for k, v in mix.items() if k not in _PER_COMPOSITE} | {"sources": len(mix["sources"])}


def plan_variant(recipe: Recipe, paths: DatasetPaths, variant: str, validation: dict, excluded: dict[int, str]):
    folder = variant_folder(paths, variant)
    shards = list_shards(folder)
    if not shards:
        stage = VARIANTS[variant][1]
        raise UserError(f"{folder}: no {variant} shards; run `synth {stage} {recipe.name}`, then validate again")
    plan = VariantPlan(variant, [], validation, {})
    for shard in shards:
        index, shard_key = shard_name(shard)
        table = read_shard(shard, ["seed", "provenance"])
        by_split: dict[str, list[int]] = {}
        for seed, text in zip(table.column("seed").to_pylist(), table.column("provenance").to_pylist()):
            provenance = json.loads(text)
            if variant == "mixed" and not isinstance(provenance.get("mix", {}).get("sources"), list):
                raise UserError(f"{shard}: composite {seed} names no sources; rerun `synth mix {recipe.name}`")
            if not plan.made:
                plan.made = _made(variant, provenance)
            split = _split(variant, seed, provenance, recipe, excluded)
            if split is None:
                reason = "excluded source" if variant == "mixed" else "excluded"
                if variant == "mixed" and not any(s in excluded for s in provenance["mix"]["sources"]):
                    reason = "sources in different splits"
                plan.left_out[reason] = plan.left_out.get(reason, 0) + 1
                continue
            by_split.setdefault(split, []).append(seed)
        for split in SPLIT_NAMES:
            if split in by_split:
                basis = {
                    "variant": variant,
                    "shard": shard_key,
                    "split": split,
                    "seeds": by_split[split],
                    "format": VARIANT_FORMAT,
                }
                name = f"{split}-{index:05d}.parquet"
                plan.files.append(VariantFile(name, split, shard, tuple(by_split[split]), canonical_hash(basis)[:16]))
    return plan
