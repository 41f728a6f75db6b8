"""``exact``: the generator already knows every pixel's label (it produces exact masks), so the mask passes
through."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from synth.decode.base import Decoded, Decoder, DecoderConfig
from synth.errors import UserError
from synth.generate.base import Capability

if TYPE_CHECKING:
    from synth.core.dataset import DatasetContext
    from synth.store.records import SampleRecord


class ExactConfig(DecoderConfig):
    type: Literal["exact"]
    why_needed: ClassVar[str] = "'exact' passes through the masks the generator knows"

    def build(self, context: DatasetContext) -> Decoder:
        return ExactDecoder(self, context)

    def needs(self) -> frozenset[Capability]:
        return frozenset({Capability.EXACT_MASKS})


class ExactDecoder(Decoder):
    def decode(self, record: SampleRecord) -> Decoded:
        if record.mask is None:
            raise UserError(f"{record.source}: seed {record.seed} has no exact mask to pass through")
        return Decoded(mask=record.mask, confidence=None, provenance={"decoder": "exact"})
