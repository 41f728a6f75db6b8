"""Part-of chains of any depth: drawn by ``scenes``, noted by ``synth check``, explained by ``synth validate``."""

from __future__ import annotations

from scipy import ndimage

from tests.conftest import tiny_recipe
from tests.tinymodels import diffusion_recipe

KITCHEN = {
    "classes": [
        {"id": 1, "name": "Küchentisch", "color": "#e6194b"},
        {"id": 2, "name": "Tischbein", "color": "#3cb44b", "parent": "Küchentisch"},
        {"id": 3, "name": "Fuß", "color": "#ffe119", "parent": "Tischbein"},
        {"id": 4, "name": "茶碗", "color": "#4363d8"},
    ]
}


def test_scenes_draws_three_level_chains_inside_their_parents(tmp_path):
    from conftest import copy_project

    from synth.generate.prompts import plan_sample
    from synth.recipe import load_recipe

    project = copy_project(tmp_path / "p")
    project.write_recipe(tiny_recipe(taxonomy=KITCHEN, image_size=96))
    recipe = load_recipe("tiny", project.root)
    generator = recipe.generator.build(recipe)
    with_foot, ring_leg, ring_all = 0, 0, 0
    for seed in range(40):
        mask = generator.generate([plan_sample(recipe, seed)])[0].mask
        foot = mask == 3
        if not foot.any():
            continue
        with_foot += 1
        assert (mask == 2).any() and (mask == 1).any()  # a foot only ever comes with its leg and its table
        ring = ndimage.binary_dilation(foot) & ~foot
        ring_leg += int((mask[ring] == 2).sum())
        ring_all += int(ring.sum())
    assert with_foot >= 5  # one level deep only, Fuß never appeared (the bug this test pins)
    assert ring_leg / ring_all > 0.5  # feet sit inside legs: most of what borders a foot is leg


def test_check_notes_classes_the_decoder_can_never_produce(project):
    recipe = diffusion_recipe("example-org/not-downloaded-model")
    recipe["taxonomy"]["classes"][2].update(parent="car", name="wheel")
    project.write_recipe(recipe)
    result = project.synth("check", "recipes/tinysd.yaml")
    assert (
        "note recipes/tinysd.yaml: taxonomy.classes[2]: 'wheel' can never appear in a mask: a part (of 'car'): "
        "prompts name top-level classes only, so the attention decoder has no score map for it"
    ) in result.stderr
    result = project.synth("check", "recipes/tiny.yaml")  # scenes draws parts of parts: nothing to note
    assert "can never appear" not in result.stderr


def test_validate_names_a_class_with_zero_presence_and_the_likely_reason(project):
    rare = tiny_recipe(taxonomy=KITCHEN)
    rare["taxonomy"]["classes"][3]["weight"] = 0.0001
    rare["prompts"]["classes_per_sample"] = {"min": 1, "max": 1}
    project.write_recipe(rare)
    project.synth("synthesize", "tiny", "--quiet")
    project.synth("decode", "tiny", "--quiet")
    result = project.synth("validate", "tiny", check=False)
    lines = [line for line in result.stderr.splitlines() if line.startswith("absent:")]
    assert lines == [
        (
            "absent: class 茶碗 (id 4) is in none of the 40 masks; likely: its top-level class '茶碗' is asked for in only "
            "~0.0% of samples (weight 0.0001); raise the weight or the seeds"
        )
    ]
    import json

    details = json.loads((project.root / "reports/tiny/validation_details.json").read_text())
    assert [a["class"] for a in details["absent_classes"]] == ["茶碗"]
