"""dvc.yaml and the library agree on which recipe fields each stage reads, so DVC reruns exactly what changed."""

import yaml

from synth.recipe import STAGE_FIELDS
from tests.conftest import REPO


def recipe_params(stage: dict) -> list[str]:
    for entry in stage.get("do", stage).get("params", []):
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
    """Stages that run for every recipe may only track required fields, or keys every recipe file must spell out
    (FILE_KEYS: `evaluate: null` is allowed, absent is not); optional stages have their own lists."""
    from synth.recipe.schema import FILE_KEYS, Recipe

    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    for stage, fields in STAGE_FIELDS.items():
        if stages[stage].get("foreach") != "${recipes}":
            continue
        for field in fields:
            assert Recipe.model_fields[field].is_required() or field in FILE_KEYS, f"{stage}: {field} has a default"


def test_a_recipe_file_without_a_file_key_names_it(project):
    from tests.conftest import tiny_recipe

    data = tiny_recipe()
    del data["evaluate"]
    project.write_recipe(data)
    result = project.synth("check", "recipes/tiny.yaml", check=False)
    assert result.returncode == 2 and "recipes/tiny.yaml: evaluate: missing; write `evaluate: null`" in result.stderr


# Layers whose code every stage shares (kernel, storage, execution) or that only parses settings (recipe): a
# stage's code deps list what it runs beyond them. tests/test_layering.py defines the layers.
SHARED_LAYERS = {"kernel", "storage", "execution", "recipe", "interfaces"}
SHARED_MODULES = {"synth.stages", "synth.stages.runner"}  # StageReport and the sharded-stage loop


def code_deps(stage: dict) -> list[str]:
    return [d for d in stage.get("do", stage)["deps"] if d.split("/")[0] in ("synth", "validation")]


def test_stage_code_deps_match_the_stage_table():
    from synth.recipe import STAGES

    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    assert set(STAGES) == set(stages)
    for name, stage in STAGES.items():
        assert sorted(code_deps(stages[name])) == sorted(stage.code), name


def test_a_stage_imports_only_code_its_deps_list():
    """Follow every import (module level, function-local, TYPE_CHECKING) from a stage's declared code; each
    module reached outside the shared layers must lie under one of the stage's dvc.yaml code deps."""
    from tests.test_layering import LAYERS, import_graph, layer_of, module_files

    graph, files = import_graph(), module_files()
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]

    def covered(module: str, deps: list[str]) -> bool:
        path = files[module].relative_to(REPO).as_posix()
        return any(path == d or path.startswith(d.rstrip("/") + "/") for d in deps)

    missing = []
    for name, stage in stages.items():
        deps = code_deps(stage)
        todo = [m for m in files if covered(m, deps)]
        seen = set(todo)
        while todo:
            for target in graph[todo.pop()]:
                if target in seen or target in SHARED_MODULES or LAYERS[layer_of(target)][0] in SHARED_LAYERS:
                    continue
                seen.add(target)
                todo.append(target)
                if not covered(target, deps):
                    missing.append(f"{name}: runs {files[target].relative_to(REPO)} but its deps do not list it")
    assert not missing, "\n".join(sorted(set(missing)))
