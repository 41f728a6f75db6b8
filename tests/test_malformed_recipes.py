"""A corpus of broken recipes: each is rejected by `synth check` with one `file: field: what` line and exit 2."""

from __future__ import annotations

import pytest
import yaml

from synth.cli import main
from tests.conftest import tiny_recipe


def _set(path: str, value):
    def mutate(recipe: dict) -> dict:
        node = recipe
        keys = path.split(".")
        for key in keys[:-1]:
            node = node[int(key)] if isinstance(node, list) else node[key]
        last = keys[-1]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
        return recipe

    return mutate


def _drop(path: str):
    def mutate(recipe: dict) -> dict:
        node = recipe
        keys = path.split(".")
        for key in keys[:-1]:
            node = node[key]
        del node[keys[-1]]
        return recipe

    return mutate


def _classes(*overrides: dict):
    def mutate(recipe: dict) -> dict:
        for i, change in enumerate(overrides):
            recipe["taxonomy"]["classes"][i].update(change)
        return recipe

    return mutate


# (case id, mutation of the tiny recipe or raw YAML text, the field named, words of the message)
CASES = [
    ("typo-top-level", _set("genrator", {"type": "scenes"}), "genrator", "unknown field"),
    ("name-not-file", _set("name", "other"), "name", "must equal the file name"),
    ("name-not-slug", _set("name", "Tiny Recipe"), "name", "is not a slug"),
    ("version-not-semver", _set("version", "1.0"), "version", "semantic version"),
    ("generator-unknown-type", _set("generator", {"type": "stylegan9"}), "generator.type", ""),
    ("generator-missing-type", _set("generator", {"min_scale": 0.1}), "generator.type", "missing"),
    ("generator-typo", _set("generator.min_scal", 0.1), "generator.min_scal", "unknown field"),
    ("generator-scales", _set("generator.min_scale", 0.5), "generator.min_scale", "greater than max_scale"),
    ("duplicate-id", _classes({}, {}, {"id": 2}), "taxonomy.classes[2].id", "duplicate id 2"),
    ("duplicate-name", _classes({}, {}, {"name": "car"}), "taxonomy.classes[2].name", "duplicate name 'car'"),
    ("id-zero", _classes({"id": 0}), "taxonomy.classes[0].id", "greater than or equal to 1"),
    ("id-255", _classes({}, {}, {"id": 255}), "taxonomy.classes[2].id", "less than or equal to 254"),
    ("id-gap", _classes({}, {}, {"id": 4}), "taxonomy.classes", "without gaps"),
    ("bad-colour", _classes({"color": "red"}), "taxonomy.classes[0].color", "not a #rrggbb colour"),
    ("missing-parent", _classes({}, {"parent": "truck"}), "taxonomy.classes[1].parent", "no class named 'truck'"),
    ("reserved-name", _classes({}, {}, {"name": "background"}), "taxonomy.classes[2].name", "reserved"),
    ("part-of-cycle", _classes({"parent": "wheel"}), "taxonomy.classes[0].parent", "cycle"),
    ("zero-weight", _classes({"weight": 0}), "taxonomy.classes[0].weight", "greater than 0"),
    ("no-classes", _set("taxonomy", {"classes": []}), "taxonomy.classes", "at least 1"),
    (
        "seeds-overlap",
        _set("seeds", [{"start": 0, "stop": 20}, {"start": 10, "stop": 30}]),
        "seeds[1]",
        "overlaps seeds[0]",
    ),
    ("seeds-reversed", _set("seeds", [{"start": 20, "stop": 10}]), "seeds[0]", "must be greater than start"),
    ("seeds-empty", _set("seeds", []), "seeds", "at least 1"),
    ("seeds-negative", _set("seeds", [{"start": -5, "stop": 10}]), "seeds[0].start", "greater than or equal to 0"),
    ("splits-sum", _set("splits", {"train": 0.8, "validation": 0.3, "test": 0.1}), "splits", "add up to 1"),
    (
        "template-placeholder",
        _set("prompts.templates", ["a {object} photo of {classes}"]),
        "prompts.templates[0]",
        "unknown placeholder {object}",
    ),
    ("template-no-classes", _set("prompts.templates", ["a photo"]), "prompts.templates[0]", "must contain {classes}"),
    (
        "classes-per-sample",
        _set("prompts.classes_per_sample", {"min": 2, "max": 1}),
        "prompts.classes_per_sample",
        "greater than max",
    ),
    ("image-too-small", _set("image_size", 8), "image_size", "greater than or equal to 16"),
    ("image-size-text", _set("image_size", "big"), "image_size", "valid integer"),
    ("decode-unknown", _set("decode", {"type": "magic"}), "decode.type", ""),
    (
        "validation-range",
        _set("validation.min_class_presence", 1.5),
        "validation.min_class_presence",
        "less than or equal to 1",
    ),
    ("validation-typo", _set("validation.max_ignore", 0.1), "validation.max_ignore", "unknown field"),
    ("missing-seeds", _drop("seeds"), "seeds", "required field is missing"),
    ("missing-taxonomy", _drop("taxonomy"), "taxonomy", "required field is missing"),
    ("missing-validation", _drop("validation"), "validation", "required field is missing"),
    ("not-a-mapping", "- just\n- a list\n", "", "must be a YAML mapping"),
    ("invalid-yaml", "name: tiny\ntaxonomy: [unclosed\n", "", "invalid YAML: line"),
    ("duplicate-key", yaml.safe_dump(tiny_recipe()) + "name: tiny\n", "", "duplicate key 'name'"),
]


@pytest.mark.parametrize(("case", "mutate", "field", "words"), CASES, ids=[c[0] for c in CASES])
def test_malformed_recipe_is_one_clear_line(tmp_path, monkeypatch, capsys, case, mutate, field, words):
    monkeypatch.chdir(tmp_path)
    recipes = tmp_path / "recipes"
    recipes.mkdir()
    text = mutate if isinstance(mutate, str) else yaml.safe_dump(mutate(tiny_recipe()), sort_keys=False)
    (recipes / "tiny.yaml").write_text(text)
    before = sorted(p.name for p in tmp_path.rglob("*"))

    with pytest.raises(SystemExit) as exited:
        main(["check", "recipes/tiny.yaml"])

    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    prefix = f"recipes/tiny.yaml: {field}: " if field else "recipes/tiny.yaml: "
    assert lines[0].startswith(prefix), lines[0]
    assert words in lines[0]
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing written


def test_corpus_is_large_enough():
    assert len(CASES) >= 20


def test_every_problem_is_reported_not_only_the_first(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "recipes").mkdir()
    recipe = _classes({}, {}, {"id": 2, "color": "blue"})(tiny_recipe(version="x"))
    (tmp_path / "recipes" / "tiny.yaml").write_text(yaml.safe_dump(recipe))
    with pytest.raises(SystemExit):
        main(["check"])
    lines = capsys.readouterr().err.strip().splitlines()
    # the duplicate id 2 too: the cross-class rules run on the classes that validated, in the same report
    assert {line.split(": ")[1] for line in lines} == {"version", "taxonomy.classes[2].color", "taxonomy.classes[2].id"}


def test_a_bad_colour_and_a_misspelt_parent_are_reported_together(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "recipes").mkdir()
    recipe = _classes({"color": "#12345"}, {"parent": "cra"}, {})(tiny_recipe())
    (tmp_path / "recipes" / "tiny.yaml").write_text(yaml.safe_dump(recipe))
    with pytest.raises(SystemExit) as exited:
        main(["check"])
    assert exited.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2, lines
    assert lines[0].startswith("recipes/tiny.yaml: taxonomy.classes[0].color: ")
    assert lines[1] == "recipes/tiny.yaml: taxonomy.classes[1].parent: no class named 'cra' (did you mean 'car'?)"


def test_section_rules_are_reported_beside_a_field_error(tmp_path, monkeypatch, capsys):
    """Overlapping seeds, splits that do not add up and a template without {classes} are found in the same run
    as a bad colour, not after it is fixed."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "recipes").mkdir()
    recipe = _classes({"color": "red"})(tiny_recipe())
    recipe["seeds"] = [{"start": 0, "stop": 20}, {"start": 10, "stop": 30}]
    recipe["splits"] = {"train": 0.8, "validation": 0.1, "test": 0.2}
    recipe["prompts"]["templates"] = ["a photo"]
    (tmp_path / "recipes" / "tiny.yaml").write_text(yaml.safe_dump(recipe))
    with pytest.raises(SystemExit) as exited:
        main(["check"])
    assert exited.value.code == 2
    fields = [line.split(": ")[1] for line in capsys.readouterr().err.strip().splitlines()]
    assert fields == ["taxonomy.classes[0].color", "seeds[1]", "splits", "prompts.templates[0]"]


def test_other_commands_validate_the_recipe_first(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "tiny.yaml").write_text(yaml.safe_dump(tiny_recipe(image_size=8)))
    with pytest.raises(SystemExit) as exited:
        main(["synthesize", "tiny"])
    assert exited.value.code == 2
    assert capsys.readouterr().err.startswith("recipes/tiny.yaml: image_size: ")
    assert not (tmp_path / "data").exists()


def test_unknown_recipe_and_bad_argument(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exited:
        main(["synthesize", "nope"])
    assert exited.value.code == 2
    assert capsys.readouterr().err.strip() == "recipes/nope.yaml: no such recipe"  # no recipes/ folder here
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "tiny.yaml").write_text(yaml.safe_dump(tiny_recipe()))
    with pytest.raises(SystemExit) as exited:
        main(["synthesize", "tiyn"])
    assert exited.value.code == 2
    assert capsys.readouterr().err.strip() == "recipes/tiyn.yaml: no such recipe; did you mean 'tiny'?"
    with pytest.raises(SystemExit) as exited:
        main(["synthesize", "nope", "--limit", "0"])
    assert exited.value.code == 2
