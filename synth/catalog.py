"""Where every recipe stands: how much of it exists on disk, whether it validated, whether its build is current."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from synth.core.paths import DatasetPaths
from synth.errors import UserError
from synth.recipe import list_recipe_paths, load_recipe, recipe_hash
from synth.stages.synthesize import shard_plans
from synth.store.shards import list_shards


@dataclass
class DatasetStatus:
    name: str
    version: str
    generator: str
    samples: int
    shards_expected: int
    samples_shards: int
    masks_shards: int
    validation: str  # passed | FAILED | not run
    build: str  # current | stale | not built
    problem: str = ""


def dataset_status(name: str, root: Path = Path(".")) -> DatasetStatus:
    try:
        recipe = load_recipe(name, root)
    except UserError as error:
        first = str(error).splitlines()[0]
        return DatasetStatus(name, "?", "?", 0, 0, 0, 0, "-", "-", problem=first)
    paths = DatasetPaths(Path(root), recipe.name)
    expected = {p.filename for p in shard_plans(recipe)}
    validation = "not run"
    if paths.validation.is_file():
        try:
            validation = "passed" if json.loads(paths.validation.read_text()).get("success") else "FAILED"
        except (json.JSONDecodeError, AttributeError):
            validation = "unreadable"
    build = "not built"
    lineage_file = paths.lineage
    if lineage_file.is_file():
        try:
            lineage = json.loads(lineage_file.read_text())
            build = "current" if lineage.get("recipe_hash") == recipe_hash(recipe) else "stale"
        except json.JSONDecodeError:
            build = "unreadable"
    return DatasetStatus(
        name=recipe.name,
        version=recipe.version,
        generator=recipe.generator.type,
        samples=recipe.num_samples,
        shards_expected=len(expected),
        samples_shards=sum(1 for p in list_shards(paths.samples) if p.name in expected),
        masks_shards=len(list_shards(paths.masks)),
        validation=validation,
        build=build,
    )


def all_statuses(root: Path = Path(".")) -> list[DatasetStatus]:
    return [dataset_status(path.stem, root) for path in list_recipe_paths(root)]
