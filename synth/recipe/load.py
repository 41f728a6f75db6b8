"""Load recipes from YAML and explain every way they can be wrong, one ``file: field: what`` line each."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from synth.core.hashing import canonical_hash
from synth.errors import RecipeError, UserError
from synth.recipe.checks import raw_section_problems, raw_taxonomy_problems, semantic_problems
from synth.recipe.schema import FILE_KEYS, Recipe
from synth.recipe.stages import STAGE_FIELDS

RECIPES_DIR = "recipes"


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys: with plain YAML the last one silently wins."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def format_loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _pydantic_problems(error: ValidationError, data: dict) -> list[tuple[str, str]]:
    problems = []
    for item in error.errors(include_url=False):
        loc = _strip_union_tags(list(item["loc"]), data)
        msg = item["msg"]
        if item["type"] == "extra_forbidden":
            msg = "unknown field (check the spelling)"
        elif item["type"] == "missing":
            msg = "required field is missing"
        elif item["type"] == "union_tag_invalid":
            msg = f"unknown type {item['input'].get('type')!r}; known: {', '.join(item['ctx']['expected_tags'].replace(chr(39), '').split(', '))}"
            loc = loc + ["type"]
        elif item["type"] == "union_tag_not_found":
            msg = "missing 'type' (which registered implementation to use)"
            loc = loc + ["type"]
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        problems.append((format_loc(tuple(loc)), msg))
    return problems


def _strip_union_tags(loc: list, data: dict) -> list:
    """A tagged union puts its tag in the location (generator.scenes.x, mix.mask.felzenszwalb.scale); users
    wrote generator.x. Drop every part that is the ``type`` of the mapping it indexes."""
    out: list = []
    node: object = data
    for part in loc:
        if isinstance(node, dict) and isinstance(part, str) and part not in node and node.get("type") == part:
            continue
        out.append(part)
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            node = None
    return out


def recipe_path(name_or_path: str | Path, root: Path | None = None) -> Path:
    """``voc-sd`` means ``recipes/voc-sd.yaml`` under ``root``; anything with a suffix is taken as a path."""
    root = Path(root or ".")
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml"):
        return candidate if candidate.is_absolute() else root / candidate
    return root / RECIPES_DIR / f"{name_or_path}.yaml"


def _missing_file_keys(data: dict, required: bool) -> list[tuple[str, str]]:
    """Keys every recipe file spells out although ``null`` is allowed: DVC tracks them for every recipe."""
    if not required:
        return []
    return [(key, f"missing; {why}") for key, why in FILE_KEYS.items() if key not in data]


def parse_recipe(data: Any, path: str, require_file_keys: bool = False, model_files: bool = True) -> Recipe:
    """``require_file_keys``: the recipe is a file of this checkout (a committed revision read for a review may
    predate a key). ``model_files=False``: every check but those that read the generator's own files
    (``GeneratorConfig.model_problems``), which the caller runs later with ``check_model_files``."""
    if not isinstance(data, dict):
        raise RecipeError(path, [("", "a recipe must be a YAML mapping")])
    try:
        recipe = Recipe.model_validate(data)
    except ValidationError as error:
        # Report the cross-class rules too (a misspelt parent beside a bad colour), not one round per fix.
        problems = _pydantic_problems(error, data)
        invalid = {
            e["loc"][2]
            for e in error.errors(include_url=False)
            if e["loc"][:2] == ("taxonomy", "classes") and len(e["loc"]) > 3 and e["loc"][3] in ("id", "name", "parent")
        }
        problems += [p for p in raw_taxonomy_problems(data, invalid) if p not in problems]
        sections = {e["loc"][0] for e in error.errors(include_url=False) if e["loc"]}
        problems += [p for p in raw_section_problems(data, sections) if p not in problems]
        raise RecipeError(path, [*_missing_file_keys(data, require_file_keys), *problems]) from None
    problems = [*_missing_file_keys(data, require_file_keys), *semantic_problems(recipe, model_files)]
    stem = Path(path).stem
    if recipe.name != stem:
        problems.insert(0, ("name", f"{recipe.name!r} must equal the file name {stem!r}"))
    if problems:
        raise RecipeError(path, problems)
    return recipe


def load_recipe(name_or_path: str | Path, root: Path | None = None, model_files: bool = True) -> Recipe:
    path = recipe_path(name_or_path, root)
    shown = _display(path, root)
    if not path.is_file():
        import difflib

        known = [p.stem for p in list_recipe_paths(root)]
        close = difflib.get_close_matches(path.stem, known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; recipes: {', '.join(known)}" if known else ""
        raise UserError(f"{shown}: no such recipe{hint}")
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise RecipeError(shown, [("", f"invalid YAML: {where}{problem}")]) from None
    except UnicodeDecodeError:
        raise RecipeError(shown, [("", "not UTF-8 text")]) from None
    return parse_recipe(data, shown, require_file_keys=True, model_files=model_files)


def check_model_files(recipe: Recipe, name_or_path: str | Path, root: Path | None = None) -> None:
    """The checks ``load_recipe(model_files=False)`` left out, on the recipe it returned: the same
    ``file: field: what`` lines (a ``RecipeError``) as a full load would give."""
    problems = recipe.generator.model_problems(recipe.context())
    if problems:
        raise RecipeError(_display(recipe_path(name_or_path, root), root), problems)


def list_recipe_paths(root: Path | None = None) -> list[Path]:
    return sorted((Path(root or ".") / RECIPES_DIR).glob("*.yaml"))


def _display(path: Path, root: Path | None) -> str:
    try:
        return str(path.resolve().relative_to(Path(root or ".").resolve()))
    except ValueError:
        return str(path)


def recipe_hash(recipe: Recipe) -> str:
    return canonical_hash(recipe.model_dump(mode="json"))


def stage_hash(recipe: Recipe, stage: str, **extra: Any) -> str:
    dump = recipe.model_dump(mode="json")
    return canonical_hash({"stage": stage, **{f: dump.get(f) for f in STAGE_FIELDS[stage]}, **extra})
