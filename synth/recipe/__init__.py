"""Recipes: what a dataset is made of, loaded from ``recipes/NAME.yaml``."""

from synth.core.dataset import ClassDef, DatasetContext, Taxonomy
from synth.core.hashing import canonical_hash
from synth.core.labels import BACKGROUND_ID, IGNORE_ID
from synth.recipe.load import (
    check_model_files,
    list_recipe_paths,
    load_recipe,
    recipe_hash,
    recipe_path,
    stage_hash,
)
from synth.recipe.schema import Recipe
from synth.recipe.stages import STAGE_FIELDS, STAGES

__all__ = [
    "BACKGROUND_ID",
    "IGNORE_ID",
    "STAGES",
    "STAGE_FIELDS",
    "ClassDef",
    "DatasetContext",
    "Recipe",
    "Taxonomy",
    "canonical_hash",
    "check_model_files",
    "list_recipe_paths",
    "load_recipe",
    "recipe_hash",
    "recipe_path",
    "stage_hash",
]
