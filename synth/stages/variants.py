"""The variants a recipe can add to its published dataset, and where their shards live.

A variant is what an optional stage made from the finished dataset: HydraMix composites (``mix:``, the ``mix``
stage, ``data/NAME/mixed``) and stylized samples (``stylize:``, the ``stylize`` stage, ``data/NAME/stylized``).
Each becomes a dataset config of the same name (docs/mixing-and-adaptation.md, "Variants in the published
dataset").
"""

from __future__ import annotations

from pathlib import Path

from synth.core.paths import DatasetPaths
from synth.recipe import Recipe

# variant -> (the recipe section that asks for it, the command that writes its shards)
VARIANTS: dict[str, tuple[str, str]] = {"mixed": ("mix", "mix"), "stylized": ("stylize", "stylize")}


def recipe_variants(recipe: Recipe) -> list[str]:
    return [variant for variant, (section, _) in VARIANTS.items() if getattr(recipe, section) is not None]


def variant_folder(paths: DatasetPaths, variant: str) -> Path:
    return getattr(paths, variant)
