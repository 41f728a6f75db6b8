from pathlib import Path

import pytest
import yaml

from synth.errors import RecipeError
from synth.recipe import STAGE_FIELDS, load_recipe, recipe_hash
from tests.conftest import REPO, tiny_recipe


def write(tmp_path: Path, data: dict, name: str = "tiny") -> Path:
    path = tmp_path / "recipes" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data))
    return path


def test_every_shipped_recipe_loads():
    for path in sorted((REPO / "recipes").glob("*.yaml")):
        recipe = load_recipe(path, REPO)
        assert recipe.name == path.stem


def test_tiny_recipe_loads_with_defaults(tmp_path):
    write(tmp_path, tiny_recipe())
    recipe = load_recipe("tiny", tmp_path)
    assert recipe.num_samples == 40
    assert recipe.taxonomy.id2label() == {0: "background", 1: "car", 2: "wheel", 3: "tree"}
    assert recipe.taxonomy.by_name()["tree"].phrase == "big tree"
    assert recipe.validation.max_empty_fraction == 0.0


def test_hash_ignores_yaml_formatting(tmp_path):
    path = write(tmp_path, tiny_recipe())
    first = recipe_hash(load_recipe("tiny", tmp_path))
    path.write_text("# a comment\n" + yaml.safe_dump(tiny_recipe(), sort_keys=True, indent=4))
    assert recipe_hash(load_recipe("tiny", tmp_path)) == first


def test_duplicate_id_names_file_and_field(tmp_path):
    data = tiny_recipe()
    data["taxonomy"]["classes"][2]["id"] = 2
    write(tmp_path, data)
    with pytest.raises(RecipeError) as caught:
        load_recipe("tiny", tmp_path)
    assert "recipes/tiny.yaml: taxonomy.classes[2].id: duplicate id 2" in str(caught.value)


def test_stage_fields_are_recipe_fields():
    from synth.recipe.schema import Recipe

    for fields in STAGE_FIELDS.values():
        assert set(fields) <= set(Recipe.model_fields)
