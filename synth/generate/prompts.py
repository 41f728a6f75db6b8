"""Per-seed plans: which classes a sample shows and the caption that asks for them.

Every generator consumes the same plan, so the class balance a recipe asks for is a property of the recipe,
not of whichever generator happens to draw the pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from synth.core.dataset import DatasetContext

_PLAN_STREAM = 0x504C414E  # "PLAN": keeps plan draws independent of the generator's own random stream


@dataclass(frozen=True)
class SamplePlan:
    seed: int
    class_ids: tuple[int, ...]  # top-level classes asked for, in prompt order
    caption: str
    negative: str


def join_phrases(phrases: list[str]) -> str:
    if len(phrases) == 1:
        return phrases[0]
    return ", ".join(phrases[:-1]) + " and " + phrases[-1]


def plan_sample(context: DatasetContext, seed: int) -> SamplePlan:
    rng = np.random.default_rng([_PLAN_STREAM, seed])
    roots = [c for c in context.taxonomy.classes if c.parent is None]
    cps = context.prompts.classes_per_sample
    k = int(rng.integers(cps.min, min(cps.max, len(roots)) + 1))
    weights = np.array([c.weight for c in roots], dtype=np.float64)
    chosen = rng.choice(len(roots), size=k, replace=False, p=weights / weights.sum())
    classes = [roots[i] for i in sorted(chosen)]
    template = context.prompts.templates[int(rng.integers(len(context.prompts.templates)))]
    caption = template.format(classes=join_phrases([c.phrase for c in classes]))
    return SamplePlan(seed, tuple(c.id for c in classes), caption, context.prompts.negative)
