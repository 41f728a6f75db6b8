"""The build stage: samples + masks + validation summary -> ``build/NAME/``, the folder the Hub receives.

Parquet shards per split with ``image`` and ``mask`` as ``datasets`` Image features (the stored PNG/JPEG bytes,
never re-encoded), ``id2label.json``, ``lineage.json`` and a ``README.md`` dataset card. The folder is written
next to its final place and swapped in by rename, so a failed build never leaves a half-built dataset, and it
holds no timestamps: the same recipe at the same commit gives the same bytes.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from synth.build.card import render_card
from synth.build.lineage import file_sha256, make_lineage
from synth.errors import UserError
from synth.paths import DatasetPaths
from synth.recipe import Recipe, recipe_path
from synth.splits import SPLIT_NAMES, split_of
from synth.store.labeled import paired_shards
from synth.store.shards import read_shard

TARGET_FILE_BYTES = 256 * 1024 * 1024  # the Hub serves and streams Parquet files of a few hundred MB best
ROW_GROUP_ROWS = 100
EXCLUSIONS = "excluded.json"  # written by decoders that drop samples (see docs/datasetgan.md)


@dataclass
class BuildReport:
    path: Path
    split_counts: dict[str, int]
    files: int
    validated: bool

    def summary(self) -> str:
        splits = ", ".join(f"{s} {n}" for s, n in self.split_counts.items())
        note = "" if self.validated else " (UNVALIDATED)"
        return f"build: {self.path} ({splits}; {self.files} files){note}"


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


def _features(has_confidence: bool):
    from datasets import Features, Image, Value

    columns = {"image": Image(), "mask": Image()}
    if has_confidence:
        columns["confidence"] = Image()
    return Features(columns | {"seed": Value("int64"), "prompt": Value("string")})


class _SplitWriter:
    """Writes one split's rows into ``n`` files of near-equal size, in row groups, from Arrow tables."""

    def __init__(self, out: Path, split: str, total: int, rows_per_file: int, schema: pa.Schema):
        self.out, self.split, self.schema = out, split, schema
        self.n_files = max(1, math.ceil(total / rows_per_file))
        self.per_file = math.ceil(total / self.n_files) if total else 0
        self.file_index, self.in_file, self.writer = 0, 0, None
        self.num_bytes = 0  # Arrow bytes, what the card's dataset_info reports

    def add(self, table: pa.Table) -> None:
        while table.num_rows:
            if self.writer is None:
                name = f"{self.split}-{self.file_index:05d}-of-{self.n_files:05d}.parquet"
                self.writer = pq.ParquetWriter(self.out / name, self.schema, compression="none", write_statistics=False)
            take = min(table.num_rows, self.per_file - self.in_file)
            part = table.slice(0, take)
            self.writer.write_table(part, row_group_size=ROW_GROUP_ROWS)
            self.num_bytes += part.nbytes
            self.in_file += take
            table = table.slice(take)
            if self.in_file >= self.per_file:
                self.close()
                self.file_index, self.in_file = self.file_index + 1, 0

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


IMAGE_SUFFIX = {"png": "png", "jpeg": "jpg", "webp": "webp"}


def _image_column(data: pa.ChunkedArray, seeds: list[int], suffix: str) -> pa.StructArray:
    """A ``datasets`` Image column from stored bytes, without copying them into Python objects."""
    data = data.combine_chunks()
    paths = pa.array([None if valid is False else f"{seed:08d}{suffix}" for seed, valid in zip(seeds, data.is_valid().to_pylist())], pa.string())
    return pa.StructArray.from_arrays([data, paths], names=["bytes", "path"], mask=data.is_null())


def read_exclusions(paths: DatasetPaths) -> dict[int, str]:
    """Seeds a decoder asked to leave out (e.g. DatasetGAN's most uncertain share), with the reason for each."""
    listing = paths.masks / EXCLUSIONS
    if not listing.is_file():
        return {}
    try:
        entries = json.loads(listing.read_text())["excluded"]
        return {int(e["seed"]): str(e.get("reason", "excluded by the decoder")) for e in entries}
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise UserError(f"{listing}: unreadable exclusion list ({error}); rerun `synth decode {paths.name}`") from None


def write_shards(
    recipe: Recipe, pairs: list[tuple[Path, Path]], out: Path, excluded: dict[int, str] | None = None
) -> tuple[dict[str, int], dict[str, int], bool]:
    excluded = excluded or {}
    seeds = [
        s for sample_path, _ in pairs for s in read_shard(sample_path, ["seed"]).column("seed").to_pylist() if s not in excluded
    ]
    counts = {name: 0 for name in SPLIT_NAMES}
    for seed in seeds:
        counts[split_of(seed, recipe.splits)] += 1
    has_confidence = any(read_shard(m, ["confidence"]).column("confidence").null_count < pq.read_metadata(m).num_rows for _, m in pairs)
    schema = _features(has_confidence).arrow_schema
    bytes_per_row = sum(p.stat().st_size + m.stat().st_size for p, m in pairs) / max(1, len(seeds))
    rows_per_file = max(1, int(TARGET_FILE_BYTES // max(1.0, bytes_per_row)))
    writers = {s: _SplitWriter(out, s, counts[s], rows_per_file, schema) for s in SPLIT_NAMES if counts[s]}
    image_suffix = IMAGE_SUFFIX[recipe.image_format]
    try:
        for sample_path, mask_path in pairs:  # one shard pair in memory at a time, never as Python objects
            samples = read_shard(sample_path, ["seed", "prompt", "image"])
            masks = read_shard(mask_path, ["seed", "mask", "confidence"])
            shard_seeds = samples.column("seed").to_pylist()
            if shard_seeds != masks.column("seed").to_pylist():
                raise UserError(f"{mask_path}: seeds differ from {sample_path.name}; rerun `synth decode {recipe.name}`")
            columns = {
                "image": _image_column(samples.column("image"), shard_seeds, f".{image_suffix}"),
                "mask": _image_column(masks.column("mask"), shard_seeds, "_mask.png"),
                "confidence": _image_column(masks.column("confidence"), shard_seeds, "_confidence.png"),
                "seed": samples.column("seed").combine_chunks(),
                "prompt": samples.column("prompt").combine_chunks(),
            }
            table = pa.Table.from_arrays([columns[f.name] for f in schema], schema=schema)
            splits = [None if seed in excluded else split_of(seed, recipe.splits) for seed in shard_seeds]
            for split, writer in writers.items():
                writer.add(table.filter(pa.array([s == split for s in splits])))
    finally:
        for writer in writers.values():
            writer.close()
    split_bytes = {s: w.num_bytes for s, w in writers.items()}
    return {s: n for s, n in counts.items() if n}, split_bytes, has_confidence


def build(recipe: Recipe, root: Path = Path("."), allow_invalid: bool = False) -> BuildReport:
    root = Path(root)
    paths = DatasetPaths(root, recipe.name)
    validation = read_validation(paths, allow_invalid)
    pairs = paired_shards(paths.samples, paths.masks, f"synth synthesize {recipe.name}")
    final = paths.build
    staging = final.with_name(f".{final.name}.building-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "data").mkdir(parents=True)
    try:
        excluded = read_exclusions(paths)
        split_counts, split_bytes, has_confidence = write_shards(recipe, pairs, staging / "data", excluded)
        id2label = {str(k): v for k, v in recipe.taxonomy.id2label().items()}
        (staging / "id2label.json").write_text(json.dumps(id2label, indent=2) + "\n")
        files = {
            str(p.relative_to(staging)): file_sha256(p)
            for p in sorted(staging.rglob("*"))
            if p.is_file()
        }
        lineage = make_lineage(recipe, root, recipe_path(recipe.name, root), validation, split_counts, files)
        lineage["excluded"] = [{"seed": seed, "reason": reason} for seed, reason in sorted(excluded.items())]
        (staging / "lineage.json").write_text(json.dumps(lineage, indent=2, sort_keys=True) + "\n")
        (staging / "README.md").write_text(render_card(recipe, lineage, split_counts, split_bytes, has_confidence))
        _swap_in(staging, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    n_files = sum(1 for p in final.rglob("*") if p.is_file())
    return BuildReport(final, split_counts, n_files, bool(validation["success"]))


def _swap_in(staging: Path, final: Path) -> None:
    old = final.with_name(f".{final.name}.old-{os.getpid()}")
    if final.exists():
        os.replace(final, old)
    os.replace(staging, final)
    shutil.rmtree(old, ignore_errors=True)
