"""One module per DVC stage, each a pure function of (recipe, project root) that the CLI wraps."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from synth.errors import UserError

if TYPE_CHECKING:
    from synth.recipe import Recipe


@dataclass
class StageReport:
    """What a shard-writing stage did; finished shards are ``skipped``, never rewritten; ``reused`` ones were
    taken from shards made before (synthesize: by any recipe, synth/store/shared.py), not made again."""

    written: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    samples: int = 0
    reused: list[str] = field(default_factory=list)

    def summary(self, stage: str) -> str:
        reused = f", {len(self.reused)} from the shared store" if self.reused else ""
        shards = len(self.written) + len(self.skipped) + len(self.reused)
        return (
            f"{stage}: {self.samples} samples in {shards} shards "
            f"({len(self.written)} written, {len(self.skipped)} up to date{reused}, {len(self.removed)} stale removed)"
        )


def require_section(recipe: Recipe, section: str, params_list: str):
    """The recipe's optional ``section`` (mix, target, stylize, evaluate), or one line saying how to fix it."""
    value = getattr(recipe, section)
    if value is None:
        raise UserError(
            f"recipes/{recipe.name}.yaml: {section}: no `{section}:` section; add one, or take {recipe.name} "
            f"off `{params_list}` in params.yaml"
        )
    return value
