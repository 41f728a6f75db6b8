"""Which classes a recipe can make, and why a class ended up in no mask at all.

``synth check`` notes the classes the chosen generator or decoder can never produce (a part of a class that the
attention decoder never gets a score map for); ``synth validate`` explains a class with zero presence in one
line, with the most likely reason for this recipe.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from synth.generate.scenes import ScenesConfig

if TYPE_CHECKING:
    from synth.core.dataset import ClassDef
    from synth.recipe.schema import Recipe

PART_SCALE = 0.35  # largest part radius / parent radius in the scenes generator (synth.generate.scenes)
MIN_RADIUS = 2.0


def never_produced(recipe: Recipe) -> dict[str, str]:
    """Class name -> why the recipe's generator or decoder can never put it in a mask."""
    context = recipe.context()
    return recipe.generator.never_produces(context) | recipe.decode.never_produces(context)


def check_notes(recipe: Recipe) -> list[tuple[str, str]]:
    """``(field, note)`` for ``synth check``: one per class that can never appear."""
    index = {c.name: i for i, c in enumerate(recipe.taxonomy.classes)}
    return [
        (f"taxonomy.classes[{index[name]}]", f"{name!r} can never appear in a mask: {reason}")
        for name, reason in never_produced(recipe).items()
    ]


def chain(recipe: Recipe, cls: ClassDef) -> list[str]:
    """``['Küchentisch', 'Tischbein', 'Fuß']``: the part-of chain from the top-level class down to ``cls``."""
    parents = {c.name: c.parent for c in recipe.taxonomy.classes}
    out = [cls.name]
    parent = parents.get(cls.name)
    while parent is not None and len(out) <= len(parents):
        out.append(parent)
        parent = parents.get(parent)
    return out[::-1]


def draw_probability(recipe: Recipe, cls: ClassDef) -> float:
    """Roughly how often the prompt planner asks for a top-level class: mean classes per sample x its weight share."""
    roots = [c for c in recipe.taxonomy.classes if c.parent is None]
    top = chain(recipe, cls)[0]
    weight = next(c.weight for c in roots if c.name == top)
    cps = recipe.prompts.classes_per_sample
    if cps.min >= len(roots):
        return 1.0  # every sample asks for every top-level class
    mean_k = (cps.min + min(cps.max, len(roots))) / 2
    return min(1.0, mean_k * weight / sum(c.weight for c in roots))


def absence_reason(recipe: Recipe, cls: ClassDef, samples: int) -> str:
    """The likeliest reason ``cls`` is in none of ``samples`` masks, in one clause."""
    never = never_produced(recipe)
    if cls.name in never:
        return never[cls.name]
    path = chain(recipe, cls)
    drawn = draw_probability(recipe, cls)
    if drawn * samples < 3:
        return (
            f"its top-level class {path[0]!r} is asked for in only ~{drawn:.1%} of samples (weight "
            f"{next(c for c in recipe.taxonomy.classes if c.name == path[0]).weight:g}); raise the weight or the seeds"
        )
    if recipe.decode.type != "exact":
        return f"the {recipe.decode.type!r} decoder labeled none of its pixels: check the decoder's thresholds" + (
            " and that annotations contain it" if recipe.decode.type == "datasetgan" else ""
        )
    if len(path) > 1 and isinstance(recipe.generator, ScenesConfig):
        largest = recipe.generator.max_scale * recipe.image_size * PART_SCALE ** (len(path) - 1)
        return (
            f"a part at depth {len(path) - 1} ({' > '.join(path)}): drawn at most ~{max(largest, MIN_RADIUS):.1f} px "
            f"in radius and only over visible pixels of {path[-2]!r}; raise image_size or generator.max_scale"
        )
    return "the generator drew it but nothing of it stayed visible (occluded); check the generator's settings"
