"""Recipes: what a dataset is made of, loaded from ``recipes/NAME.yaml``."""

from synth.recipe.load import (
    STAGE_FIELDS,
    canonical_hash,
    list_recipe_paths,
    load_recipe,
    recipe_hash,
    recipe_path,
    stage_hash,
)
from synth.recipe.schema import BACKGROUND_ID, IGNORE_ID, ClassDef, Recipe, Taxonomy

__all__ = [
    "BACKGROUND_ID",
    "IGNORE_ID",
    "STAGE_FIELDS",
    "ClassDef",
    "Recipe",
    "Taxonomy",
    "canonical_hash",
    "list_recipe_paths",
    "load_recipe",
    "recipe_hash",
    "recipe_path",
    "stage_hash",
]
