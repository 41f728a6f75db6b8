"""The build stage: samples + masks + validation summary -> ``build/NAME/``, the folder the Hub receives.

One Parquet file per split and shard (``data/train-00003.parquet``) with ``image`` and ``mask`` as ``datasets``
Image features (the stored PNG/JPEG bytes, never re-encoded), ``id2label.json``, ``lineage.json`` and a
``README.md`` dataset card. Each file carries the key of what made it in its footer, so a rebuild links the files
whose inputs did not change from the last build and writes only the others: extending the seeds costs the new
shards, not the whole dataset, and the DVC cache stores each unchanged file once across versions. The folder is
written next to its final place and swapped in by rename, so a failed build never leaves a half-built dataset,
and it holds no timestamps: the same recipe at the same commit gives the same bytes, whether built at once or
in steps.

Each validated variant of the recipe (mixed, stylized: ``synth validate-variants``) becomes its own dataset config
in a folder beside ``data/`` (``mixed/train-00000.parquet``), planned by ``synth.stages.build_variants``, written
and reused the same way; a recipe without variants builds exactly as before.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from synth.card.card import OPTIONAL_COLUMNS, PREVIEW, render_card
from synth.card.lineage import make_lineage
from synth.core.atomic import link_or_copy, publish_folder
from synth.core.hashing import canonical_hash, file_sha256
from synth.core.paths import DatasetPaths
from synth.errors import UserError
from synth.generate.base import Capability
from synth.recipe import Recipe, recipe_path
from synth.report.contact_sheet import contact_sheet, pick_seeds
from synth.splits import SPLIT_NAMES, split_of
from synth.stages.build_variants import VariantPlan, plan_variant, read_variants_validation
from synth.store.codec import decode_array, encode_png
from synth.store.exclusions import read_build_exclusions
from synth.store.labeled import paired_shards
from synth.store.shards import read_shard, shard_name

BUILD_FORMAT = 1  # bump when the bytes of a split file change for the same inputs
ROW_GROUP_ROWS = 100
KEY_META = b"synth:key"  # Parquet footer entries: what made the file, and its Arrow size for the card
BYTES_META = b"synth:arrow_bytes"


@dataclass
class BuildReport:
    path: Path
    split_counts: dict[str, int]
    files: int
    validated: bool
    variants: dict[str, dict[str, int]] = field(default_factory=dict)  # variant config -> split counts

    def summary(self) -> str:
        splits = ", ".join(f"{s} {n}" for s, n in self.split_counts.items())
        note = "" if self.validated else " (UNVALIDATED)"
        configs = "".join(
            f"; config {v}: " + ", ".join(f"{s} {n}" for s, n in counts.items()) for v, counts in self.variants.items()
        )
        return f"build: {self.path} ({splits}; {self.files} files{configs}){note}"


def read_validation(paths: DatasetPaths, allow_invalid: bool) -> dict:
    if not paths.validation.is_file():
        raise UserError(f"{paths.validation}: no validation summary; run `synth validate {paths.name}` first")
    try:
        summary = json.loads(paths.validation.read_text())
    except json.JSONDecodeError as error:
        raise UserError(f"{paths.validation}: not valid JSON ({error})") from None
    if not isinstance(summary, dict) or not isinstance(summary.get("success"), bool):
        raise UserError(f"{paths.validation}: has no boolean 'success'; rerun `synth validate {paths.name}`")
    if not summary["success"] and not allow_invalid:
        raise UserError(
            f"{paths.validation}: validation failed; fix the recipe or pass --allow-invalid to build an unvalidated dataset"
        )
    return summary


def _features(optional: Collection[str] = ()):
    """``optional``: which of ``OPTIONAL_COLUMNS`` the build has (confidence: the decoder gives one; instances:
    the generator knows its objects). A build without them has exactly the columns it always had."""
    from datasets import Features, Image, Value

    columns = {"image": Image(), "mask": Image()} | {name: Image() for name in OPTIONAL_COLUMNS if name in optional}
    return Features(columns | {"seed": Value("int64"), "prompt": Value("string")})


@cache
def _schema(optional: tuple[str, ...] = ()) -> pa.Schema:
    """The Arrow schema of ``_features``, made on first use: only a file that is written needs it, and importing
    ``datasets`` (pandas with it) was a third of a rebuild that links every file."""
    return _features(optional).arrow_schema


IMAGE_SUFFIX = {"png": "png", "jpeg": "jpg", "webp": "webp"}


def _image_column(data: pa.ChunkedArray, seeds: list[int], suffix: str) -> pa.StructArray:
    """A ``datasets`` Image column from stored bytes, without copying them into Python objects."""
    data = data.combine_chunks()
    paths = pa.array(
        [None if valid is False else f"{seed:08d}{suffix}" for seed, valid in zip(seeds, data.is_valid().to_pylist())],
        pa.string(),
    )
    return pa.StructArray.from_arrays([data, paths], names=["bytes", "path"], mask=data.is_null())


@dataclass(frozen=True)
class SplitFile:
    """One Parquet file of the build: the rows of one split that one shard pair holds.

    Its key hashes everything that decides its bytes, so a rebuild after extending the seeds, or after a
    change that touched a few shards, rewrites only the files whose inputs changed and links the rest.
    """

    name: str
    split: str
    samples: Path
    masks: Path
    seeds: tuple[int, ...]
    key: str


def plan_files(
    recipe: Recipe, pairs: list[tuple[Path, Path]], excluded: dict[int, str], optional: Collection[str]
) -> list[SplitFile]:
    plans = []
    for sample_path, mask_path in pairs:
        index, samples_key = shard_name(sample_path)
        masks_key = shard_name(mask_path).key
        by_split: dict[str, list[int]] = {}
        for seed in read_shard(sample_path, ["seed"]).column("seed").to_pylist():
            if seed not in excluded:
                by_split.setdefault(split_of(seed, recipe.splits), []).append(seed)
        for split in SPLIT_NAMES:
            if split in by_split:
                basis = {
                    "samples": samples_key,
                    "masks": masks_key,
                    "split": split,
                    "seeds": by_split[split],
                    "confidence": "confidence" in optional,
                    "image_format": recipe.image_format,
                    "format": BUILD_FORMAT,
                }
                if "instances" in optional:  # only then: the files of builds without instances keep their keys
                    basis["instances"] = True
                plans.append(
                    SplitFile(
                        f"{split}-{index:05d}.parquet",
                        split,
                        sample_path,
                        mask_path,
                        tuple(by_split[split]),
                        canonical_hash(basis)[:16],
                    )
                )
    return plans


def _has_confidence(mask_path: Path) -> bool:
    """Decoders give a confidence for every sample or for none, so the first shard speaks for all."""
    return read_shard(mask_path, ["confidence"]).column("confidence").null_count < pq.read_metadata(mask_path).num_rows


def _file_meta(path: Path) -> dict[bytes, bytes]:
    try:
        return pq.read_metadata(path).metadata or {}
    except (OSError, pa.ArrowException):
        return {}


def has_instances(recipe: Recipe) -> bool:
    """Whether the build gets an ``instances`` column: the generator stores which object each pixel shows."""
    return Capability.INSTANCES in recipe.generator.capabilities()


def _instance_maps(recipe: Recipe, samples_path: Path, samples: pa.Table) -> pa.Array:
    """Each sample's instance map (``arrays["instances"]``) as a PNG: greyscale, 16-bit only past 255 objects."""
    maps = []
    for seed, arrays in zip(samples.column("seed").to_pylist(), samples.column("arrays").to_pylist(), strict=True):
        data = dict(arrays or []).get("instances")
        if data is None:
            raise UserError(f"{samples_path}: seed {seed} has no instance map; rerun `synth synthesize {recipe.name}`")
        maps.append(encode_png(decode_array(data)))
    return pa.array(maps, pa.binary())


def read_pair_columns(recipe: Recipe, samples_path: Path, masks_path: Path, optional: Collection[str]) -> pa.Table:
    """One shard pair as the build's columns, read once for all its splits."""
    instances = "instances" in optional
    samples = read_shard(samples_path, ["seed", "prompt", "image", *(["arrays"] if instances else [])])
    masks = read_shard(masks_path, ["seed", "mask", "confidence"])
    seeds = samples.column("seed").to_pylist()
    if seeds != masks.column("seed").to_pylist():
        raise UserError(f"{masks_path}: seeds differ from {samples_path.name}; rerun `synth decode {recipe.name}`")
    if masks.column("confidence").null_count != (0 if "confidence" in optional else masks.num_rows):
        raise UserError(f"{masks_path}: confidence present for some samples only; rerun `synth decode {recipe.name}`")
    suffix = IMAGE_SUFFIX[recipe.image_format]
    columns = {
        "image": _image_column(samples.column("image"), seeds, f".{suffix}"),
        "mask": _image_column(masks.column("mask"), seeds, "_mask.png"),
        "confidence": _image_column(masks.column("confidence"), seeds, "_confidence.png"),
    }
    if instances:
        maps = _instance_maps(recipe, samples_path, samples)
        columns["instances"] = _image_column(pa.chunked_array([maps]), seeds, "_instances.png")
    return pa.table(
        columns | {"seed": samples.column("seed").combine_chunks(), "prompt": samples.column("prompt").combine_chunks()}
    )


def write_split_file(pair: pa.Table, plan: SplitFile, schema: pa.Schema, path: Path) -> int:
    """Write the plan's rows of a shard pair with the key in the footer; returns their Arrow size."""
    rows = pair.filter(pc.is_in(pair.column("seed"), pa.array(plan.seeds, pa.int64())))
    columns = [rows.column(f.name) for f in schema]
    size = sum(column.nbytes for column in columns)
    stamped = schema.with_metadata(schema.metadata | {KEY_META: plan.key.encode(), BYTES_META: str(size).encode()})
    with pq.ParquetWriter(path, stamped, compression="none", write_statistics=False) as writer:
        writer.write_table(pa.Table.from_arrays(columns, schema=stamped), row_group_size=ROW_GROUP_ROWS)
    return size


def write_shards(
    recipe: Recipe,
    pairs: list[tuple[Path, Path]],
    out: Path,
    excluded: dict[int, str] | None = None,
    previous: Path | None = None,
) -> tuple[dict[str, int], dict[str, int], tuple[str, ...], set[str]]:
    """Write (or link from ``previous``, the last build's data folder) every split file.

    Returns split counts, split Arrow sizes, the optional columns the build has (``OPTIONAL_COLUMNS``), and the
    names reused unchanged.
    """
    present = {"confidence": _has_confidence(pairs[0][1]), "instances": has_instances(recipe)}
    optional = tuple(name for name in OPTIONAL_COLUMNS if present[name])
    by_pair: dict[tuple[Path, Path], list[SplitFile]] = {}
    for plan in plan_files(recipe, pairs, excluded or {}, optional):
        by_pair.setdefault((plan.samples, plan.masks), []).append(plan)

    def read(pair: tuple[Path, Path]) -> pa.Table:
        return read_pair_columns(recipe, pair[0], pair[1], optional)

    counts, sizes, reused = write_or_link(by_pair, read, partial(_schema, optional), out, previous)
    return counts, sizes, optional, reused


def write_or_link(
    groups: dict,
    read: Callable[[Any], pa.Table],
    schema: Callable[[], pa.Schema],
    out: Path,
    previous: Path | None,
) -> tuple[dict[str, int], dict[str, int], set]:
    """Each file whose key matches the one in the last build's footer is linked from there; the others are
    written from their group's table, read once and only if one of its files must be written. ``groups`` maps
    a source (a shard pair, a variant shard) to its files. Returns split counts, split Arrow sizes, names reused.
    """
    counts, sizes, reused = dict.fromkeys(SPLIT_NAMES, 0), dict.fromkeys(SPLIT_NAMES, 0), set()
    for source, files in groups.items():
        table = None
        for file in files:
            old = previous / file.name if previous is not None else None
            meta = _file_meta(old) if old is not None and old.is_file() else {}
            if old is not None and meta.get(KEY_META) == file.key.encode() and BYTES_META in meta:
                link_or_copy(old, out / file.name)
                sizes[file.split] += int(meta[BYTES_META])
                reused.add(file.name)
            else:
                if table is None:
                    table = read(source)
                sizes[file.split] += write_split_file(table, file, schema(), out / file.name)
            counts[file.split] += len(file.seeds)
        del table
        pa.default_memory_pool().release_unused()  # hand the table's buffers back: the peak stays one group's worth
    return {s: n for s, n in counts.items() if n}, {s: b for s, b in sizes.items() if counts[s]}, reused


def read_variant_columns(shard: Path) -> pa.Table:
    """A variant shard (samples schema, mask filled in) as the build's columns; its images are PNG."""
    rows = read_shard(shard, ["seed", "prompt", "image", "mask"])
    seeds = rows.column("seed").to_pylist()
    return pa.table(
        {
            "image": _image_column(rows.column("image"), seeds, ".png"),
            "mask": _image_column(rows.column("mask"), seeds, "_mask.png"),
            "seed": rows.column("seed").combine_chunks(),
            "prompt": rows.column("prompt").combine_chunks(),
        }
    )


def write_variant(plan: VariantPlan, out: Path, previous: Path | None) -> tuple[dict[str, int], dict[str, int], set]:
    """Write (or link from the last build's folder of this variant) every file of one variant config.

    Returns split counts, split Arrow sizes and the names reused unchanged (``write_or_link``).
    """
    by_shard: dict[Path, list[SplitFile]] = {}
    for file in plan.files:
        by_shard.setdefault(file.shard, []).append(
            SplitFile(file.name, file.split, file.shard, file.shard, file.seeds, file.key)
        )
    return write_or_link(by_shard, read_variant_columns, _schema, out, previous)


def build(recipe: Recipe, root: Path = Path("."), allow_invalid: bool = False) -> BuildReport:
    root = Path(root)
    paths = DatasetPaths(root, recipe.name)
    validation = read_validation(paths, allow_invalid)
    variant_validation = read_variants_validation(paths, allow_invalid)
    pairs = paired_shards(paths.samples, paths.masks, f"synth synthesize {recipe.name}")
    final = paths.build
    # ".NAME.building-PID": the staging folder's name before synth/core/atomic.py named every one alike
    with publish_folder(final, legacy=("building",)) as staging:
        (staging / paths.build_data.name).mkdir()
        excluded = read_build_exclusions(paths)
        previous = paths.build_data if paths.build_data.is_dir() else None
        split_counts, split_bytes, optional, reused = write_shards(
            recipe, pairs, staging / paths.build_data.name, excluded, previous
        )
        reused_paths = {f"{paths.build_data.name}/{name}" for name in reused}
        variants = {}
        for variant, metrics in variant_validation.items():
            plan = plan_variant(recipe, paths, variant, metrics, excluded)
            folder = paths.build_variant(variant)
            (staging / variant).mkdir()
            counts, sizes, kept = write_variant(plan, staging / variant, folder if folder.is_dir() else None)
            reused_paths |= {f"{variant}/{name}" for name in kept}
            variants[variant] = {
                "splits": counts,
                "split_bytes": sizes,
                "left_out": plan.left_out,
                "made": plan.made,
                "validation": metrics,
            }
        id2label = {str(k): v for k, v in recipe.taxonomy.id2label().items()}
        (staging / paths.id2label.name).write_text(json.dumps(id2label, indent=2) + "\n")
        known = _previous_hashes(paths.lineage) if reused_paths else {}
        files = {}
        for path in sorted(staging.rglob("*")):
            if path.is_file():
                name = path.relative_to(staging).as_posix()
                reuse = name in reused_paths and name in known
                files[name] = known[name] if reuse else file_sha256(path)
        lineage = make_lineage(recipe, root, recipe_path(recipe.name, root), validation, split_counts, files)
        lineage["excluded"] = [{"seed": seed, "reason": reason} for seed, reason in sorted(excluded.items())]
        if variants:  # absent without variants: such a build keeps its bytes
            lineage["variants"] = variants
        (staging / paths.lineage.name).write_text(json.dumps(lineage, indent=2, sort_keys=True) + "\n")
        _write_preview(recipe, root, excluded, staging / PREVIEW)
        card = render_card(recipe, lineage, split_counts, split_bytes, optional, read_usefulness(paths), preview=True)
        (staging / paths.card.name).write_text(card)
    n_files = sum(1 for p in final.rglob("*") if p.is_file())
    validated = bool(validation["success"]) and all(m["success"] for m in variant_validation.values())
    return BuildReport(final, split_counts, n_files, validated, {v: info["splits"] for v, info in variants.items()})


def read_usefulness(paths: DatasetPaths) -> dict:
    """The evaluate stage's scores for the card; ``{}`` when the recipe is not scored or was never evaluated."""
    if not paths.evaluation.is_file():
        return {}
    try:
        scores = json.loads(paths.evaluation.read_text())
    except json.JSONDecodeError as error:
        raise UserError(f"{paths.evaluation}: not valid JSON ({error}); rerun `synth evaluate {paths.name}`") from None
    return scores if isinstance(scores, dict) else {}


def _write_preview(recipe: Recipe, root: Path, excluded: dict[int, str], out: Path, count: int = 4) -> None:
    """A few samples of the build (never an excluded one) as image | overlay | mask, for the card. Not in
    ``files`` or the content hash: like the card's prose, it is not data a user loads."""
    kept = [seed for seed in recipe.all_seeds() if seed not in excluded]
    contact_sheet(recipe, root, seeds=pick_seeds(kept, count)).save(out, format="PNG", optimize=True)


def _previous_hashes(lineage: Path) -> dict[str, str]:
    """File hashes the last build recorded, so linked files are not read again (a large dataset is gigabytes)."""
    try:
        files = json.loads(lineage.read_text())["files"]
        return {str(k): str(v) for k, v in files.items()}
    except (OSError, json.JSONDecodeError, KeyError, TypeError, AttributeError):
        return {}
