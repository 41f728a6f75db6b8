"""``exact``: the generator already knows every pixel's label (``scenes``), so the mask passes through."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from synth.decode.base import Decoded, Decoder, DecoderConfig
from synth.errors import UserError

if TYPE_CHECKING:
    from synth.core.dataset import DatasetContext
    from synth.store.records import SampleRecord


class ExactConfig(DecoderConfig):
    type: Literal["exact"]

    def build(self, context: DatasetContext) -> Decoder:
        return ExactDecoder(self, context)

    def problems(self, context: DatasetContext) -> list[tuple[str, str]]:
        if context.generator.type not in EXACT_GENERATORS:
            return [("decode.type", f"'exact' needs a generator that knows its masks, not {context.generator.type!r}")]
        return []


EXACT_GENERATORS = {"scenes"}


class ExactDecoder(Decoder):
    def decode(self, record: SampleRecord) -> Decoded:
        if record.mask is None:
            raise UserError(f"{record.source}: seed {record.seed} has no exact mask to pass through")
        return Decoded(mask=record.mask, confidence=None, provenance={"decoder": "exact"})
