"""What a change did to the samples themselves: how many seeds changed bytes, which gained or lost a class.

The metrics tables compare totals; a weight change can regenerate every seed while the totals barely move. This
reads both sides' shards (the head's ``data/NAME``, the base's from ``--base-root`` or fetched through DVC) and
compares them seed by seed: the image and mask bytes, the prompt (a dataset column of its own: a prompt edit
changes it even where the generator draws the same pixels, as ``scenes`` does), and the classes present in each
mask (from the ``class_fraction`` statistics decode stored, so no PNG is decoded).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from synth.core.paths import DatasetPaths
from synth.recipe import Recipe
from synth.store.labeled import paired_shards
from synth.store.shards import read_shard

EXAMPLES = 5  # seeds shown per line


@dataclass(frozen=True)
class SampleState:
    image: str  # digest of the stored image bytes
    mask: str  # digest of the stored mask bytes
    prompt: str  # the prompt column, as stored
    classes: frozenset[str]  # class names present in the mask


@dataclass
class SampleDiff:
    compared: int = 0
    images_changed: list[int] = field(default_factory=list)
    masks_changed: list[int] = field(default_factory=list)
    prompts_changed: list[int] = field(default_factory=list)
    only_before: list[int] = field(default_factory=list)
    only_after: list[int] = field(default_factory=list)
    gained: dict[str, list[int]] = field(default_factory=dict)  # class -> seeds whose mask has it only after
    lost: dict[str, list[int]] = field(default_factory=dict)  # class -> seeds whose mask had it only before

    @property
    def changed(self) -> list[int]:
        return sorted(set(self.images_changed) | set(self.masks_changed) | set(self.prompts_changed))


def _digest(data: bytes | None) -> str:
    return hashlib.sha256(data or b"").hexdigest()


def read_states(root: Path, recipe: Recipe) -> dict[int, SampleState]:
    """Seed -> what its sample holds, for every seed in ``root/data/NAME`` (one shard pair at a time)."""
    paths = DatasetPaths(Path(root), recipe.name)
    names = [recipe.taxonomy.id2label()[i] for i in recipe.taxonomy.ids]  # class_fraction's order
    states: dict[int, SampleState] = {}
    for samples_path, masks_path in paired_shards(paths.samples, paths.masks, f"synth synthesize {recipe.name}"):
        samples = {r["seed"]: r for r in read_shard(samples_path, ["seed", "image", "prompt"]).to_pylist()}
        for row in read_shard(masks_path, ["seed", "mask", "class_fraction"]).to_pylist():
            present = frozenset(n for n, f in zip(names, row["class_fraction"] or []) if f and f > 0)
            sample = samples.get(row["seed"], {})
            states[row["seed"]] = SampleState(
                _digest(sample.get("image")), _digest(row["mask"]), sample.get("prompt") or "", present
            )
    return states


def compare(before: dict[int, SampleState], after: dict[int, SampleState]) -> SampleDiff:
    diff = SampleDiff()
    diff.only_before = sorted(set(before) - set(after))
    diff.only_after = sorted(set(after) - set(before))
    for seed in sorted(set(before) & set(after)):
        a, b = before[seed], after[seed]
        diff.compared += 1
        if a.image != b.image:
            diff.images_changed.append(seed)
        if a.mask != b.mask:
            diff.masks_changed.append(seed)
        if a.prompt != b.prompt:
            diff.prompts_changed.append(seed)
        for name in sorted(b.classes - a.classes):
            diff.gained.setdefault(name, []).append(seed)
        for name in sorted(a.classes - b.classes):
            diff.lost.setdefault(name, []).append(seed)
    return diff


def _seeds(seeds: list[int]) -> str:
    shown = ", ".join(str(s) for s in seeds[:EXAMPLES])
    return shown + (", ..." if len(seeds) > EXAMPLES else "")


def diff_markdown(diff: SampleDiff) -> list[str]:
    """The samples part of a review: one line of counts, then one row per class that some sample gained or lost."""
    line = (
        f"**samples**: {len(diff.changed)} of the {diff.compared} seeds on both sides changed bytes "
        f"(images {len(diff.images_changed)}, masks {len(diff.masks_changed)}, prompts {len(diff.prompts_changed)})"
    )
    if diff.changed:
        line += f", e.g. seeds {_seeds(diff.changed)}"
    extra = [f"{len(diff.only_before)} only before" if diff.only_before else ""]
    extra.append(f"{len(diff.only_after)} only after (e.g. {_seeds(diff.only_after)})" if diff.only_after else "")
    extra = [e for e in extra if e]
    line += f"; {', '.join(extra)}" if extra else ""
    out = [line if line.endswith("...") else line + ".", ""]  # no "...." after a cut list of seeds
    classes = sorted(set(diff.gained) | set(diff.lost))
    if not classes:
        return out + ["No sample gained or lost a class.", ""]
    out += [
        "| class | samples that gained it | e.g. seeds | samples that lost it | e.g. seeds |",
        "|---|---:|---|---:|---|",
    ]
    for name in classes:
        gained, lost = diff.gained.get(name, []), diff.lost.get(name, [])
        out.append(f"| `{name}` | {len(gained)} | {_seeds(gained)} | {len(lost)} | {_seeds(lost)} |")
    return out + [""]
