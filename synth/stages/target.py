"""The target stage: the recipe's target domain -> ``data/NAME/target/{images,eval}/shard-00000-KEY.parquet``.

Two DVC stages run it. ``target`` (recipes under ``target_recipes`` in params.yaml) is for targets DVC sees whole
through the recipe fields and the code it tracks: ``scenes`` in another look, a Hub dataset pinned to a commit.
It runs only when those change, so a no-op ``dvc repro`` runs nothing (and DVC leaves dvc.lock alone), and it
refuses a target DVC cannot see (``tracked_inputs``). ``target-live`` (``live_target_recipes``) is for folders
and Hub datasets at a branch or tag, which change outside the pipeline: DVC runs it every time
(``always_changed``). Either way the shard key is a hash of the images' pixels, so unchanged images leave the
shard, and every stage after it, untouched.

A run with nothing to do decides that from its inputs, before any image is rendered or decoded: the **input key**
hashes what the set's pixels are made from (the recipe fields the stage reads, the source's files' bytes or a
pinned Hub revision, the stage's code and the imaging libraries' versions), and ``data/.target-inputs/KEY.json``
names the shard those inputs made with the sha256 of its bytes. The shard is taken as up to date only when it is
there with exactly those bytes; a missing, unreadable or mismatched record, or a Hub dataset without a pinned
revision, makes the set as before (and records it).
"""

from __future__ import annotations

import json
import re
from functools import partial
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from synth.adapt.target import folder_files, load_source
from synth.backends.work import ShardJob, ShardWork
from synth.core.atomic import write_text
from synth.core.hashing import canonical_hash, code_digest, file_sha256
from synth.core.paths import DatasetPaths
from synth.errors import UserError
from synth.recipe import Recipe
from synth.recipe.stages import STAGES
from synth.stages import StageReport, require_section
from synth.stages.runner import run_sharded
from synth.stats import image_stats
from synth.store.codec import encode_png
from synth.store.records import SAMPLES_SCHEMA, rows_to_table
from synth.store.shards import ShardPlan, prune

TARGET_FORMAT = 2  # 2: keyed by the decoded pixels, so an up-to-date shard is found without encoding anything
INPUTS_FOLDER = "data/.target-inputs"  # input key -> the shard it made; a dot: no recipe's data/NAME is named so
IMAGING = ("numpy", "pillow", "scipy")  # libraries that draw, resize and filter the pixels
PINNED = re.compile(r"^[0-9a-f]{40}$")  # a Hub commit: the only revision whose files cannot change


def unpinned_hub(source) -> bool:
    """A Hub dataset at a branch or tag: its files may change under the same name (only a commit pins them)."""
    return source.type == "hub" and not PINNED.match(source.revision or "")


def untracked_sources(settings) -> list[str]:
    """The target sets whose pixels can change without a recipe or code change: a folder, or a Hub dataset at a
    branch or tag (only a 40-digit commit pins its files)."""
    out = []
    for kind in ("images", "eval"):
        source = getattr(settings, kind)
        if source is not None and source.type == "folder":
            out.append(f"target.{kind} (the folder {source.path})")
        elif source is not None and unpinned_hub(source):
            out.append(f"target.{kind} (the Hub dataset {source.id} at {source.revision or 'its default branch'})")
    return out


def target(recipe: Recipe, root: Path = Path("."), tracked_inputs: bool = False) -> StageReport:
    """``tracked_inputs``: the caller (the ``target`` DVC stage) reruns this only when the recipe or the code
    changes, so a source that changes outside them is refused rather than read once and trusted."""
    settings = require_section(recipe, "target", "adapt_recipes")
    if tracked_inputs and (untracked := untracked_sources(settings)):
        raise UserError(
            f"recipes/{recipe.name}.yaml: {'; '.join(untracked)} can change without the recipe changing: list "
            f"{recipe.name} under live_target_recipes in params.yaml, not target_recipes (its stage then runs "
            "on every `dvc repro`)"
        )
    report = StageReport()
    for kind in ("images", "eval"):
        source = getattr(settings, kind)
        out_dir = DatasetPaths(Path(root), recipe.name).target / kind
        out_dir.mkdir(parents=True, exist_ok=True)
        if source is None:
            report.removed += [p.name for p in prune(out_dir, [])]
            continue
        inputs = input_key(recipe, kind, source, Path(root))
        shard = recorded_shard(Path(root), inputs, out_dir)
        if shard is not None:  # these inputs made this shard, byte for byte: nothing to render or decode
            report.removed += [p.name for p in prune(out_dir, [shard.name])]
            report.samples += pq.read_metadata(shard).num_rows
            report.skipped.append(f"{kind}/{shard.name}")
            continue
        items = load_source(source, recipe.context(), Path(root), f"target.{kind}")
        if kind != "eval":  # target images are used unlabeled, whatever they came with
            items = [(ident, image, None) for ident, image, _ in items]
        key = canonical_hash(
            {"format": TARGET_FORMAT, "rows": [[ident, _digest(image), _digest(mask)] for ident, image, mask in items]}
        )[:16]
        # The rows (PNG, statistics) are made in ``setup``, which runs only when the shard is not already there:
        # this stage runs on every `dvc repro`, and a no-op must write and encode nothing.
        work = ShardWork(recipe.name, f"target/{kind}", setup=partial(_table, items, source), make=_made)
        done = run_sharded(
            work, [ShardJob(ShardPlan(0, tuple(range(len(items))), key))], out_dir, f"target {kind}", False
        )
        if inputs is not None:
            record(Path(root), inputs, out_dir / ShardPlan(0, (), key).filename)
        report.removed += done.removed
        report.samples += done.samples
        report.skipped += [f"{kind}/{name}" for name in done.skipped]
        report.written += [f"{kind}/{name}" for name in done.written]
    return report


def input_key(recipe: Recipe, kind: str, source, root: Path) -> str | None:
    """16 hex digits naming what ``kind``'s pixels are made from, known without making them; None for a Hub
    dataset at a branch or tag (its files may change under the same name: only its pixels tell)."""
    if unpinned_hub(source):
        return None
    dump = recipe.model_dump(mode="json")
    basis = {
        "format": TARGET_FORMAT,
        "kind": kind,
        "source": source.model_dump(mode="json"),  # this set's; the other set's settings do not change its pixels
        "recipe": {k: dump[k] for k in STAGES["target"].fields if k != "target"},
        "code": code_digest(STAGES["target"].code),
        "libraries": {name: version(name) for name in IMAGING + (("datasets",) if source.type == "hub" else ())},
    }
    if source.type == "folder":
        files, masks = folder_files(source, root, f"target.{kind}")
        basis["files"] = [[p.name, file_sha256(p)] for p in files]
        if masks is not None:
            basis["masks"] = [file_sha256(m) if (m := masks / f"{p.stem}.png").is_file() else None for p in files]
    return canonical_hash(basis)[:16]


def _record_path(root: Path, inputs: str) -> Path:
    return root / INPUTS_FOLDER / f"{inputs}.json"


def recorded_shard(root: Path, inputs: str | None, out_dir: Path) -> Path | None:
    """The shard these inputs made, if it is in ``out_dir`` with the bytes recorded for it; else None."""
    if inputs is None:
        return None
    try:
        entry = json.loads(_record_path(root, inputs).read_text())
        shard = out_dir / entry["shard"]
        return shard if Path(entry["shard"]).name == entry["shard"] and file_sha256(shard) == entry["sha256"] else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def record(root: Path, inputs: str, shard: Path) -> None:
    """Remember that ``inputs`` made ``shard`` (its name and the sha256 of its bytes)."""
    path = _record_path(root, inputs)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, json.dumps({"shard": shard.name, "sha256": file_sha256(shard)}, sort_keys=True) + "\n")


def _table(items, source):
    rows = [
        {
            "seed": i,
            "prompt": ident,
            "image": encode_png(image),
            "mask": None if mask is None else encode_png(mask),
            "arrays": [],
            **image_stats(image),
            "provenance": json.dumps(
                {"source": source.model_dump(mode="json"), "id": ident}, sort_keys=True, separators=(",", ":")
            ),
        }
        for i, (ident, image, mask) in enumerate(items)
    ]
    return rows_to_table(rows, SAMPLES_SCHEMA)


def _made(table, _job: ShardJob, _source, _advance):
    """The one shard of a target set: its rows are read (and keyed) before the shard is planned."""
    return table


def _digest(array) -> str | None:
    """The pixels (and their shape and type): what the shard's PNG holds, without encoding it."""
    import hashlib

    if array is None:
        return None
    array = np.ascontiguousarray(array)
    header = f"{array.dtype.str}{array.shape}".encode()
    return hashlib.sha256(header + array.tobytes()).hexdigest()
