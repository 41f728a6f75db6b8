"""Cross-field rules of the optional sections (mix, target, stylize, evaluate), each naming its exact field."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from synth.evaluate.config import EvaluateSettings
    from synth.recipe.schema import Recipe


def optional_stage_problems(recipe: Recipe) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if recipe.mix is not None:
        problems.extend(recipe.mix.problems(recipe.context()))
    if recipe.target is not None:
        problems.extend(_target_problems(recipe))
    if recipe.stylize is not None and recipe.target is None:
        problems.append(("stylize", "needs a `target:` section (the images to move toward)"))
    if recipe.evaluate is not None:
        problems.extend(_evaluate_problems(recipe, recipe.evaluate))
    return problems


def _evaluate_problems(recipe: Recipe, ev: EvaluateSettings) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if ev.eval is None and (recipe.target is None or recipe.target.eval is None):
        out.append(("evaluate", "needs `target.eval` or `evaluate.eval` (a labeled evaluation set)"))
    for i, variant in enumerate(ev.variants):
        if variant == "stylized" and recipe.stylize is None:
            out.append((f"evaluate.variants[{i}]", "'stylized' needs a `stylize:` section"))
        if variant == "mixed" and recipe.mix is None:
            out.append((f"evaluate.variants[{i}]", "'mixed' needs a `mix:` section (the composites it adds)"))
        if variant == "real" and ev.reference is None:
            out.append((f"evaluate.variants[{i}]", "'real' needs `evaluate.reference` (a real labeled training set)"))
        if variant == "adapted" and ev.architecture.type != "unet":
            out.append(
                (f"evaluate.variants[{i}]", "'adapted' (CSA) trains the tiny UNet only; drop `evaluate.segmenter`")
            )
        if variant == "adapted" and recipe.target is None:
            out.append((f"evaluate.variants[{i}]", "'adapted' needs `target.images` (unlabeled target images)"))
    if len(set(ev.variants)) != len(ev.variants):
        out.append(("evaluate.variants", "lists a variant twice"))
    if ev.reference is not None and "real" not in ev.variants:
        out.append(("evaluate.reference", "is read only by the 'real' variant; add it to `evaluate.variants`"))
    return out


def _target_problems(recipe: Recipe) -> list[tuple[str, str]]:
    from pydantic import ValidationError

    from synth.generate.scenes import ScenesConfig

    out: list[tuple[str, str]] = []
    spans = []
    for kind in ("images", "eval"):
        source = getattr(recipe.target, kind)
        where = f"target.{kind}"
        if source is None:
            continue
        if source.type == "folder" and kind == "eval" and source.masks is None:
            out.append((f"{where}.masks", "an evaluation set needs masks"))
        if source.type == "hub" and kind == "eval" and source.mask_column is None:
            out.append((f"{where}.mask_column", "an evaluation set needs masks"))
        if source.type != "scenes":
            continue
        if source.seeds.stop <= source.seeds.start:
            out.append((f"{where}.seeds", f"stop {source.seeds.stop} must be greater than start {source.seeds.start}"))
        base = recipe.generator.model_dump() if recipe.generator.type == "scenes" else {}
        try:
            ScenesConfig.model_validate(base | dict(source.generator) | {"type": "scenes"})
        except ValidationError as error:
            for item in error.errors(include_url=False):
                loc = ".".join(str(p) for p in item["loc"])
                msg = "unknown field (check the spelling)" if item["type"] == "extra_forbidden" else item["msg"]
                out.append((f"{where}.generator.{loc}", msg))
        for r in recipe.seeds:
            if source.seeds.start < r.stop and r.start < source.seeds.stop:
                out.append(
                    (f"{where}.seeds", f"overlaps the recipe's seeds [{r.start}, {r.stop}): same layouts would leak")
                )
                break
        spans.append((where, source.seeds))
    if len(spans) == 2 and spans[0][1].start < spans[1][1].stop and spans[1][1].start < spans[0][1].stop:
        out.append(("target.eval.seeds", "overlaps target.images.seeds"))
    return out
