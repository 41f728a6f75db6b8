"""What every generator is: a typed config that knows how to build it, and a batch-in, samples-out callable.

A generator gets its own settings and a ``DatasetContext`` (name, taxonomy, image size, prompts), never the
whole recipe: what it may read is what the synthesize stage's shard key and DVC params cover.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

from synth.core.config import Strict
from synth.core.hashing import settings_hash
from synth.core.sample import Sample

if TYPE_CHECKING:
    from synth.core.dataset import DatasetContext
    from synth.generate.prompts import SamplePlan

__all__ = ["Generator", "GeneratorConfig", "Sample", "settings_hash"]


class Generator(ABC):
    """Makes samples for a batch of planned seeds. A sample must depend on its seed only, never on its batch."""

    def __init__(self, config: GeneratorConfig, context: DatasetContext):
        self.config = config
        self.context = context

    @property
    def batch_size(self) -> int:
        return 1

    @abstractmethod
    def generate(self, plans: list[SamplePlan]) -> list[Sample]: ...

    def close(self) -> None:
        """Release models and devices; a no-op for generators that hold none."""


class GeneratorConfig(Strict):
    """Base of every generator's settings (nerfstudio style: the config knows what it builds).

    Subclasses declare ``type: Literal["name"]`` and keep heavy imports (torch, diffusers) inside ``build`` so
    that loading a recipe stays fast.
    """

    def build(self, context: DatasetContext) -> Generator:
        raise NotImplementedError

    def problems(self, context: DatasetContext) -> list[tuple[str, str]]:
        """Recipe problems only this generator can see (e.g. a class phrase its tokenizer cannot find)."""
        return []

    def notes(self, context: DatasetContext) -> list[tuple[str, str]]:
        """Things ``synth check`` could not verify and says so (e.g. a model that is not available locally)."""
        return []

    def never_produces(self, context: DatasetContext) -> dict[str, str]:
        """Classes this generator can never put in a mask, with the reason (``synth check`` notes them)."""
        return {}

    def weights_digest(self) -> str | None:
        """Digest of local weight files the recipe names by path: a path says nothing of what is in it, so the
        samples shard key adds this and retrained weights make new shards. None: no local weights (a pinned Hub
        revision, or no model at all)."""
        return None

    def provenance(self) -> dict[str, Any]:
        """Identity of the model behind the samples, recorded in every sample and in the dataset card."""
        return {"generator": getattr(self, "type", type(self).__name__), "model": None, "revision": None}
