"""Rules that span several fields; each problem names the exact field so the user can go straight to it."""

from __future__ import annotations

from collections.abc import Callable, Container, Sequence
from typing import TYPE_CHECKING, Any

from synth.recipe.optional import optional_stage_problems

if TYPE_CHECKING:
    from synth.recipe.schema import Recipe


def semantic_problems(recipe: Recipe, model_files: bool = True) -> list[tuple[str, str]]:
    """``model_files=False`` leaves out what needs the generator's own files (``model_problems``)."""
    classes = recipe.taxonomy.classes
    problems = taxonomy_problems(classes)
    problems += seeds_problems(recipe.seeds)
    problems += splits_problems(recipe.splits)
    problems += prompts_problems(recipe.prompts, sum(c.parent is None for c in classes))
    context = recipe.context()
    problems.extend(recipe.generator.problems(context))
    if model_files:
        problems.extend(recipe.generator.model_problems(context))
    problems.extend(recipe.decode.problems(context))
    problems.extend(optional_stage_problems(recipe))
    return problems


def seeds_problems(seeds: Sequence) -> list[tuple[str, str]]:
    problems = []
    ranges = sorted(enumerate(seeds), key=lambda item: item[1].start)
    for i, r in enumerate(seeds):
        if r.stop <= r.start:
            problems.append((f"seeds[{i}]", f"stop {r.stop} must be greater than start {r.start}"))
    for (i, a), (j, b) in zip(ranges, ranges[1:]):
        if b.start < a.stop:
            problems.append((f"seeds[{j}]", f"overlaps seeds[{i}] ([{a.start}, {a.stop}))"))
    return problems


def splits_problems(splits) -> list[tuple[str, str]]:
    total = splits.train + splits.validation + splits.test
    return [("splits", f"fractions must add up to 1, got {total:g}")] if abs(total - 1.0) > 1e-6 else []


def prompts_problems(prompts, top_level: int | None) -> list[tuple[str, str]]:
    """``top_level``: how many classes have no parent (None when the taxonomy could not be read)."""
    problems = []
    cps = prompts.classes_per_sample
    if cps.min > cps.max:
        problems.append(("prompts.classes_per_sample", f"min {cps.min} is greater than max {cps.max}"))
    if top_level is not None and cps.min > top_level:
        problems.append(("prompts.classes_per_sample.min", f"{cps.min} but only {top_level} top-level classes"))
    for i, template in enumerate(prompts.templates):
        problems.extend((f"prompts.templates[{i}]", msg) for msg in _template_problems(template))
    return problems


def raw_section_problems(data: object, invalid: Container[int | str]) -> list[tuple[str, str]]:
    """The rules of ``seeds``, ``splits`` and ``prompts`` for a recipe that failed validation elsewhere: each section
    that validates on its own (not in ``invalid``, the sections with validation errors) is checked, so every
    problem is reported in one go."""
    from pydantic import TypeAdapter, ValidationError

    from synth.core.dataset import Prompts
    from synth.recipe.schema import SeedRange, Splits

    if not isinstance(data, dict):
        return []
    raw = data.get("taxonomy")
    entries = raw.get("classes") if isinstance(raw, dict) else None
    readable = "taxonomy" not in invalid and isinstance(entries, list) and all(isinstance(c, dict) for c in entries)
    top_level = sum(c.get("parent") is None for c in entries) if readable and entries is not None else None
    # section -> (its model's validator, the rule run on what it returns)
    rules: dict[str, tuple[Callable[[Any], Any], Callable[[Any], list[tuple[str, str]]]]] = {
        "seeds": (TypeAdapter(list[SeedRange]).validate_python, seeds_problems),
        "splits": (Splits.model_validate, splits_problems),
        "prompts": (Prompts.model_validate, lambda p: prompts_problems(p, top_level)),
    }
    problems = []
    for section, (validate, rule) in rules.items():
        if section in invalid or section not in data:
            continue
        try:
            problems += rule(validate(data[section]))
        except ValidationError:
            continue
    return problems


def taxonomy_problems(
    classes: Sequence, positions: Sequence[int] | None = None, names: set[str] | None = None
) -> list[tuple[str, str]]:
    """Ids, names and part-of parents across the classes. Takes anything with ``id``, ``name`` and ``parent``, so
    a recipe that fails to validate elsewhere (a bad colour) still gets these problems in the same report:
    ``positions`` are then the classes' places in the file (the ones whose id and name were readable), and the
    no-gaps rule waits until every id is readable; ``names``: every class name written, parents may name any."""
    import difflib

    positions = list(range(len(classes))) if positions is None else list(positions)
    problems: list[tuple[str, str]] = []
    seen_ids: dict[int, int] = {}
    seen_names: dict[str, int] = {}
    for i, cls in zip(positions, classes):
        where = f"taxonomy.classes[{i}]"
        if cls.id in seen_ids:
            problems.append((f"{where}.id", f"duplicate id {cls.id}"))
        seen_ids.setdefault(cls.id, i)
        if cls.name in seen_names:
            problems.append((f"{where}.name", f"duplicate name {cls.name!r}"))
        seen_names.setdefault(cls.name, i)
        if cls.name.lower() in ("background", "ignore"):
            problems.append((f"{where}.name", f"{cls.name!r} is reserved (0 is background, 255 ignore)"))
    ids = sorted(seen_ids)
    if positions == list(range(len(classes))) and ids != list(range(1, len(ids) + 1)):
        problems.append(("taxonomy.classes", f"ids must be 1..{len(ids)} without gaps, got {ids}"))
    for i, cls in zip(positions, classes):
        if cls.parent is None:
            continue
        if cls.parent not in (seen_names if names is None else names):
            close = difflib.get_close_matches(cls.parent, sorted(names or seen_names), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append((f"taxonomy.classes[{i}].parent", f"no class named {cls.parent!r}{hint}"))
        elif cls.parent == cls.name:
            problems.append((f"taxonomy.classes[{i}].parent", "a class cannot be part of itself"))
    parents = {c.name: c.parent for c in classes}
    in_reported_cycle: set[str] = set()
    for i, cls in zip(positions, classes):
        if cls.name in in_reported_cycle:
            continue
        node = parents.get(cls.name)
        for _ in range(len(classes)):
            if node is None or node == cls.name:
                break
            node = parents.get(node)
        if node == cls.name and cls.parent != cls.name:
            cycle, member = [cls.name], parents[cls.name]
            while member != cls.name:
                cycle.append(member)
                member = parents[member]
            in_reported_cycle.update(cycle)
            problems.append((f"taxonomy.classes[{i}].parent", f"part-of cycle {' > '.join([*cycle, cls.name])}"))
    return problems


def raw_taxonomy_problems(data: object, invalid: Container[int | str] = frozenset()) -> list[tuple[str, str]]:
    """``taxonomy_problems`` on the YAML as written, for a recipe that did not validate: every class whose id and
    name are readable takes part, so a bad colour and a misspelt parent are reported together. ``invalid``: the
    classes whose id, name or parent already failed validation (reported once, there)."""
    from types import SimpleNamespace

    raw = data.get("taxonomy") if isinstance(data, dict) else None
    entries = raw.get("classes") if isinstance(raw, dict) else None
    if not isinstance(entries, list):
        return []
    readable = [
        (i, SimpleNamespace(id=c["id"], name=c["name"], parent=c.get("parent")))
        for i, c in enumerate(entries)
        if i not in invalid and isinstance(c, dict) and isinstance(c.get("id"), int) and isinstance(c.get("name"), str)
        if c.get("parent") is None or isinstance(c.get("parent"), str)
    ]
    complete = len(readable) == len(entries)
    classes = [c for _, c in readable]
    names = {c["name"] for c in entries if isinstance(c, dict) and isinstance(c.get("name"), str)}
    return taxonomy_problems(classes, None if complete else [i for i, _ in readable], names)


def recipe_notes(recipe: Recipe) -> list[tuple[str, str]]:
    """What ``synth check`` could not verify or finds odd without it being wrong, one ``(field, note)`` each."""
    from synth.generate.base import Capability
    from synth.recipe.reach import check_notes

    notes = [*recipe.generator.notes(recipe.context()), *check_notes(recipe)]
    records = Capability.FEATURES in recipe.generator.capabilities()
    if records and Capability.FEATURES not in recipe.decode.needs():
        notes.append(
            (
                "generator.features",
                "recorded in every sample but read only by decode.type datasetgan with "
                "features.type captured; this recipe's decoder ignores them",
            )
        )
    return notes


def _template_problems(template: str) -> list[str]:
    import string

    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as error:
        return [f"malformed template: {error}"]
    unknown = sorted({f for f in fields if f not in ("classes",)})
    out = [f"unknown placeholder {{{f}}} (only {{classes}} is known)" for f in unknown]
    if "classes" not in fields:
        out.append("must contain {classes}, or no class is ever named in the prompt")
    return out
