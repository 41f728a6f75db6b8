"""``attention``: masks from Dataset Diffusion's refined class score maps.

Each class map is min-max normalised per image and upsampled (bicubic) to image size. A pixel whose best class
score reaches ``label_threshold`` gets that class; below ``background_threshold`` it is background; the band in
between is 255 (ignore), so uncertain boundaries never teach a model the wrong label.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

import numpy as np
from pydantic import Field

from synth.core.labels import IGNORE_ID
from synth.decode.base import Decoded, Decoder, DecoderConfig
from synth.errors import UserError
from synth.generate.base import Capability

if TYPE_CHECKING:
    from synth.core.dataset import DatasetContext
    from synth.store.records import SampleRecord


class AttentionDecoderConfig(DecoderConfig):
    type: Literal["attention"]
    why_needed: ClassVar[str] = "'attention' reads the class score maps the generator stores"
    label_threshold: float = Field(default=0.6, gt=0, le=1, description="Score at or above which a pixel is labeled.")
    background_threshold: float = Field(default=0.5, ge=0, le=1, description="Score below which a pixel is background.")

    def build(self, context: DatasetContext) -> Decoder:
        return AttentionDecoder(self, context)

    def needs(self) -> frozenset[Capability]:
        return frozenset({Capability.ATTENTION_SCORES})

    def problems(self, context: DatasetContext) -> list[tuple[str, str]]:
        out = super().problems(context)
        if self.background_threshold > self.label_threshold:
            out.append(
                (
                    "decode.background_threshold",
                    f"{self.background_threshold} is above label_threshold {self.label_threshold}",
                )
            )
        return out

    def never_produces(self, context: DatasetContext) -> dict[str, str]:
        # Score maps exist for the classes a prompt names, and prompts name top-level classes only.
        return {
            c.name: f"a part (of {c.parent!r}): prompts name top-level classes only, so the attention decoder has "
            "no score map for it"
            for c in context.taxonomy.classes
            if c.parent is not None
        }


def decode_scores(
    scores: np.ndarray, class_ids: np.ndarray, size: int, label_threshold: float, background_threshold: float
):
    """(K, r, r) score maps -> (mask, confidence) at ``size`` x ``size``. Pure numpy/torch math, tested directly."""
    import torch
    import torch.nn.functional as F

    maps = torch.from_numpy(scores.astype(np.float32))
    low = maps.amin(dim=(1, 2), keepdim=True)
    high = maps.amax(dim=(1, 2), keepdim=True)
    maps = (maps - low) / (high - low).clamp_min(1e-8)
    maps = F.interpolate(maps[None], size=(size, size), mode="bicubic", align_corners=False)[0].clamp(0.0, 1.0)
    best, index = maps.max(dim=0)
    best, index = best.numpy(), index.numpy()
    labels = np.asarray(class_ids, dtype=np.uint8)[index]
    mask = np.where(best >= label_threshold, labels, np.where(best < background_threshold, 0, IGNORE_ID)).astype(
        np.uint8
    )
    # Confidence in the decision taken: the score for a label, its complement for background, 0.5 in the band.
    confidence = np.where(best >= label_threshold, best, np.where(best < background_threshold, 1.0 - best, 0.5))
    return mask, confidence.astype(np.float32)


class AttentionDecoder(Decoder):
    def decode(self, record: SampleRecord) -> Decoded:
        cfg: AttentionDecoderConfig = self.config  # type: ignore[assignment]
        if "scores" not in record.array_bytes:
            raise UserError(f"{record.source}: seed {record.seed} has no attention scores; rerun `synth synthesize`")
        mask, confidence = decode_scores(
            record.array("scores"),
            record.array("class_ids"),
            self.context.image_size,
            cfg.label_threshold,
            cfg.background_threshold,
        )
        provenance = {
            "decoder": "attention",
            "label_threshold": cfg.label_threshold,
            "background_threshold": cfg.background_threshold,
        }
        return Decoded(mask=mask, confidence=confidence, provenance=provenance)
