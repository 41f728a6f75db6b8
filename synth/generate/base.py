"""What every generator is: a typed config that knows how to build it, and a batch-in, samples-out callable."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from synth.generate.prompts import SamplePlan
    from synth.recipe.schema import Recipe


@dataclass
class Sample:
    """One generated sample, before decoding.

    ``mask`` is set by generators that know the exact labels (``scenes``); learned generators leave it ``None``
    and put the raw label evidence a decoder needs (attention score maps, pixel features) in ``arrays``.
    """

    seed: int
    image: np.ndarray  # H x W x 3, uint8
    prompt: str
    mask: np.ndarray | None = None  # H x W, uint8: 0 background, 1..K classes, 255 ignore
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)


class Generator(ABC):
    """Makes samples for a batch of planned seeds. A sample must depend on its seed only, never on its batch."""

    def __init__(self, config: GeneratorConfig, recipe: Recipe):
        self.config = config
        self.recipe = recipe

    @property
    def batch_size(self) -> int:
        return 1

    @abstractmethod
    def generate(self, plans: list[SamplePlan]) -> list[Sample]: ...

    def close(self) -> None:
        """Release models and devices; a no-op for generators that hold none."""


def settings_hash(config: BaseModel) -> str:
    """16 hex digits identifying a generator's settings, recorded with every sample it makes."""
    from synth.recipe.load import canonical_hash

    return canonical_hash(config.model_dump(mode="json"))[:16]


class GeneratorConfig(BaseModel):
    """Base of every generator's settings (nerfstudio style: the config knows what it builds).

    Subclasses declare ``type: Literal["name"]`` and keep heavy imports (torch, diffusers) inside ``build`` so
    that loading a recipe stays fast.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    def build(self, recipe: Recipe) -> Generator:
        raise NotImplementedError

    def problems(self, recipe: Recipe) -> list[tuple[str, str]]:
        """Recipe-level problems only this generator can see (e.g. a class phrase its tokenizer cannot find)."""
        return []

    def notes(self, recipe: Recipe) -> list[tuple[str, str]]:
        """Things ``synth check`` could not verify and says so (e.g. a model that is not available locally)."""
        return []

    def never_produces(self, recipe: Recipe) -> dict[str, str]:
        """Classes this generator can never put in a mask, with the reason (``synth check`` notes them)."""
        return {}

    def provenance(self) -> dict[str, Any]:
        """Identity of the model behind the samples, recorded in every sample and in the dataset card."""
        return {"generator": getattr(self, "type", type(self).__name__), "model": None, "revision": None}
