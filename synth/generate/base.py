"""What every generator is: a typed config that knows how to build it, and a batch-in, samples-out callable.

A generator gets its own settings and a ``DatasetContext`` (name, taxonomy, image size, prompts), never the
whole recipe: what it may read is what the synthesize stage's shard key and DVC params cover.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from synth.core.config import Strict
from synth.core.hashing import settings_hash
from synth.core.sample import Sample

if TYPE_CHECKING:
    from synth.core.dataset import DatasetContext
    from synth.generate.prompts import SamplePlan

__all__ = [
    "Capability",
    "Generator",
    "GeneratorConfig",
    "Sample",
    "SideRecording",
    "capability_problems",
    "settings_hash",
]


class Capability(StrEnum):
    """What a generator puts in every sample besides its image: what decoders (and feature sources) ask for,
    instead of naming the generators they work with."""

    EXACT_MASKS = "exact masks"  # Sample.mask: every pixel's label, known by construction
    ATTENTION_SCORES = "attention scores"  # arrays "scores" (K x r x r) and "class_ids" (K)
    FEATURES = "features"  # arrays "features": activations recorded during the generation pass
    LATENTS = "latents"  # arrays "z": the latent the image was synthesized from
    INSTANCES = "instances"  # arrays "instances" (H x W): which object each pixel shows, 0 none (COCO export)


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

    if TYPE_CHECKING:  # declared by every subclass as ``Literal["its name"]``; the base itself has no field
        type: str

    def build(self, context: DatasetContext) -> Generator:
        raise NotImplementedError

    def capabilities(self) -> frozenset[Capability]:
        """What every sample of this configuration carries besides its image (the contract test checks it)."""
        return frozenset()

    def how_to_add(self, capability: Capability) -> tuple[str, str] | None:
        """``(field, what to set)`` when this generator produces ``capability`` once configured to; None when
        it never can."""
        return None

    def problems(self, context: DatasetContext) -> list[tuple[str, str]]:
        """Recipe problems only this generator can see from its settings."""
        return []

    def model_problems(self, context: DatasetContext) -> list[tuple[str, str]]:
        """Recipe problems found by reading the model's own files (a class phrase its tokenizer cannot find).

        Kept apart because reading them costs seconds of imports (transformers): ``synth synthesize`` runs them
        while its worker processes start, instead of before."""
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

    def evidence_format(self) -> int | None:
        """Version of the label evidence (``Sample.arrays``) this generator stores beside the image; the samples
        shard key adds it, so a change in what is stored regenerates this generator's shards and no others.
        None: the shards' bytes follow from the settings alone."""
        return None

    def provenance(self) -> dict[str, Any]:
        """Identity of the model behind the samples, recorded in every sample and in the dataset card."""
        return {"generator": getattr(self, "type", type(self).__name__), "model": None, "revision": None}

    def side_recording(self) -> SideRecording | None:
        """What this configuration records beside samples that its plain form makes byte for byte alike; None
        when it records nothing on the side. Lets a recipe without the recording take the shards of one with it
        (synth/store/shared.py) instead of generating the same images again."""
        return None


@dataclass(frozen=True)
class SideRecording:
    """Arrays a generator records during generation without changing anything else it makes (DDPM-Seg features:
    forward hooks that only read activations). A shard made with the recording, less ``arrays`` in every row and
    with the provenance ``plain`` records, is the shard ``plain`` makes: tests/test_shared_shards.py checks it."""

    plain: GeneratorConfig  # the same generator recording nothing on the side
    arrays: tuple[str, ...]  # the ``Sample.arrays`` only the recording writes
    provenance: tuple[str, ...]  # the provenance entries only the recording writes

    def provenance_changes(self) -> dict[str, Any]:
        """Provenance entries that differ in ``plain``'s samples; None: the entry is absent there. Every generator
        records its config's ``settings_hash``, which the recording's settings are part of."""
        return dict.fromkeys(self.provenance) | {"settings_hash": settings_hash(self.plain)}


def capability_problems(
    needs: Iterable[Capability], generator: GeneratorConfig, field: str, who: str, why: str
) -> list[tuple[str, str]]:
    """One ``(field, problem)`` per capability in ``needs`` that ``generator`` does not produce. ``who`` names the
    asking decoder as the recipe spells it (``decode.type 'exact'``), ``why`` says what it reads. A generator
    that could produce it once configured says which field to set instead."""
    produced = generator.capabilities()
    out = []
    for capability in sorted(set(needs) - produced):
        hint = generator.how_to_add(capability)
        if hint is not None:
            out.append((hint[0], f"required by {who}: {hint[1]}"))
            continue
        makes = ", ".join(sorted(produced)) or "images only"
        kind = getattr(generator, "type", type(generator).__name__)
        out.append((field, f"{why}: it needs {capability}, and generator {kind!r} makes {makes}"))
    return out
