"""What every mask decoder is: raw label evidence in, a mask (and maybe a per-pixel confidence) out.

A decoder gets its own settings and a ``DatasetContext`` (taxonomy, image size, the generator's settings),
never the whole recipe; trained state comes from the dataset's folders (``attach``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from pydantic import Field, SerializerFunctionWrapHandler, model_serializer

from synth.core.config import Strict
from synth.generate.base import Capability, capability_problems
from synth.labelcheck.config import JudgeLabelsSettings

if TYPE_CHECKING:
    from pathlib import Path

    from synth.core.dataset import DatasetContext
    from synth.core.paths import DatasetPaths
    from synth.store.records import SampleRecord


@dataclass
class Decoded:
    mask: np.ndarray  # H x W uint8: 0 background, 1..K classes, 255 ignore
    confidence: np.ndarray | None = None  # H x W float32 in [0, 1], when the decoder has a notion of it
    provenance: dict[str, Any] = field(default_factory=dict)


class Decoder(ABC):
    def __init__(self, config: DecoderConfig, context: DatasetContext):
        self.config = config
        self.context = context

    def attach(self, paths: DatasetPaths) -> None:
        """Load trained state that lives in the dataset's folders (e.g. a label decoder); most decoders have none."""

    @abstractmethod
    def decode(self, record: SampleRecord) -> Decoded: ...

    def close(self) -> None:
        """Release models; a no-op for decoders that hold none."""


class DecoderConfig(Strict):
    """Base of every decoder's settings; ``type`` names it in the ``DECODERS`` registry."""

    if TYPE_CHECKING:  # declared by every subclass as ``Literal["its name"]``; the base itself has no field
        type: str

    why_needed: ClassVar[str] = ""  # what it reads of the generator's output, for the error when that is missing

    # Judge-checked labels, for every decoder: the decode stage judges each decoded mask (synth.labelcheck.gate),
    # so build, evaluate and the report all see the checked masks and the samples left out.
    judge_labels: JudgeLabelsSettings | None = Field(
        default=None, description="Judge-checked labels (rejected regions -> ignore, low agreement -> excluded)."
    )

    @model_serializer(mode="wrap")
    def _omit_unused(self, handler: SerializerFunctionWrapHandler) -> dict:
        # Off, the setting stays out of the dump: recipes without it hash, key their shards and record provenance
        # exactly as before it existed (byte-identical masks and builds).
        data = handler(self)
        if data.get("judge_labels", 0) is None:
            data.pop("judge_labels")
        return data

    def build(self, context: DatasetContext) -> Decoder:
        raise NotImplementedError

    def needs(self) -> frozenset[Capability]:
        """What the generator must put in every sample for this decoder to read (never a generator's name)."""
        return frozenset()

    def problems(self, context: DatasetContext) -> list[tuple[str, str]]:
        """Problems only this decoder can see: by default, a generator that does not produce what it needs.
        Subclasses that add their own call this first."""
        who = f"decode.type {getattr(self, 'type', '?')!r}"
        return capability_problems(self.needs(), context.generator, "decode.type", who, self.why_needed)

    def never_produces(self, context: DatasetContext) -> dict[str, str]:
        """Classes this decoder can never label, with the reason (``synth check`` notes them)."""
        return {}

    def lineage(self, root: Path, name: str) -> dict:
        """What the dataset's lineage (and card) records of this decoder beyond its settings, e.g. how many
        annotations it learned from; empty for decoders that learn nothing."""
        return {}

    def trained_state(self, paths: DatasetPaths) -> str | None:
        """Digest of trained state the masks depend on (joins the masks shard key); None when there is none."""
        return None

    def exclusions(self, context: DatasetContext, masks: Path) -> dict | None:
        """Samples to leave out, decided over the whole decoded dataset in ``masks`` (the decode stage asks once
        every shard is decoded, also when all were up to date, and writes the listing build reads). None: this
        decoder excludes nothing."""
        return None
