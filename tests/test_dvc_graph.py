"""dvc.yaml and the library agree on which recipe fields each stage reads, so DVC reruns exactly what changed."""

import yaml

from synth.recipe import STAGE_FIELDS
from tests.conftest import REPO


def recipe_params(stage: dict) -> list[str]:
    for entry in stage["do"].get("params", []):
        if isinstance(entry, dict) and "recipes/${item}.yaml" in entry:
            return entry["recipes/${item}.yaml"]
    return []


def test_stage_params_match_stage_fields():
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    for name, fields in STAGE_FIELDS.items():
        assert name in stages, f"dvc.yaml has no {name} stage"
        assert sorted(recipe_params(stages[name])) == sorted(fields), name


def test_every_default_recipe_exists():
    names = yaml.safe_load((REPO / "params.yaml").read_text())["recipes"]
    assert names and all((REPO / "recipes" / f"{n}.yaml").is_file() for n in names)


def test_every_tracked_field_is_required_so_dvc_never_misses_a_param():
    """Stages that run for every recipe may only track required fields; optional stages have their own lists."""
    from synth.recipe.schema import Recipe

    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    for stage, fields in STAGE_FIELDS.items():
        if stages[stage]["foreach"] != "${recipes}":
            continue
        for field in fields:
            assert Recipe.model_fields[field].is_required(), f"{stage}: {field} has a default"
