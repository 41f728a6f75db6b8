"""``attention``: masks from Dataset Diffusion's refined class score maps.

Three steps, each a setting (docs/diffusion.md, "Decoding modes", says how the fashion default was chosen):

1. Class maps in [0, 1] (``normalise``). ``per_class`` is Dataset Diffusion as published: each map min-max
   normalised on its own, so every prompted class gets a region near 1 whether it was drawn or not; with Stable
   Diffusion's sharp attention that holds, with a weak model a class that is weak everywhere floods the image.
   ``contrast`` weights each normalised map by its raw range (max - min) relative to the sample's largest range,
   so a class that stands out less than another scores less everywhere. ``min_contrast`` drops a map whose
   relative contrast (max - min) / max is below it: a flat map labels nothing.
2. Thresholds, bicubic upsampling to image size: at or above ``label_threshold`` the best class, below
   ``background_threshold`` background, between them 255 (ignore).
3. The image's own evidence (``black_level``): an image with (almost) nothing brighter than the product
   photos' black gets a background mask; with ``clip_to_image`` every pixel at or below it is background and a
   bright pixel no class claims is ignore. ``vote: component`` gives each connected labelled region the class
   most of its pixels carry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

import numpy as np
from pydantic import Field

from synth.core.labels import IGNORE_ID
from synth.decode.base import Decoded, Decoder, DecoderConfig
from synth.decode.components import component_matching, component_vote
from synth.decode.image_evidence import ImageEvidenceSettings
from synth.errors import UserError
from synth.generate.base import Capability

if TYPE_CHECKING:
    from synth.core.dataset import DatasetContext
    from synth.store.records import SampleRecord


class AttentionDecoderConfig(DecoderConfig, ImageEvidenceSettings):
    type: Literal["attention"]
    why_needed: ClassVar[str] = "'attention' reads the class score maps the generator stores"
    label_threshold: float = Field(default=0.6, gt=0, le=1, description="Score at or above which a pixel is labeled.")
    background_threshold: float = Field(default=0.5, ge=0, le=1, description="Score below which a pixel is background.")
    normalise: Literal["per_class", "contrast"] = Field(
        default="per_class",
        description="per_class: each map min-max on its own (Dataset Diffusion); contrast: also weighted by its "
        "raw range relative to the sample's largest.",
    )
    min_contrast: float = Field(
        default=0.0, ge=0, lt=1, description="A map whose (max - min) / max is below this labels nothing."
    )
    vote: Literal["pixel", "component", "matched"] = Field(
        default="pixel",
        description="component: each connected labelled region takes its majority class; matched: the largest "
        "regions take distinct prompted classes by their mean scores (one item per asked class), fragments their best.",
    )

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
        return out + self.image_problems()

    def never_produces(self, context: DatasetContext) -> dict[str, str]:
        # Score maps exist for the classes a prompt names, and prompts name top-level classes only.
        return {
            c.name: f"a part (of {c.parent!r}): prompts name top-level classes only, so the attention decoder has "
            "no score map for it"
            for c in context.taxonomy.classes
            if c.parent is not None
        }


def class_maps(
    scores: np.ndarray, score_range: np.ndarray | None, normalise: str = "per_class", min_contrast: float = 0.0
) -> np.ndarray:
    """(K, r, r) stored scores (+ (K, 2) raw [min, max]) -> (K, r, r) float32 class maps in [0, 1]."""
    maps = scores.astype(np.float32)
    low = maps.min(axis=(1, 2), keepdims=True)
    high = maps.max(axis=(1, 2), keepdims=True)
    maps = (maps - low) / np.maximum(high - low, 1e-8)
    if normalise == "per_class" and not min_contrast:
        return maps
    if score_range is None:
        raise ValueError("needs each map's raw range (score_range)")
    raw_low, raw_high = score_range[:, 0].astype(np.float64), score_range[:, 1].astype(np.float64)
    spread = raw_high - raw_low
    weight = np.ones(len(maps))
    if normalise == "contrast":
        weight = spread / max(spread.max(), 1e-30)
    flat = spread < min_contrast * np.abs(raw_high)
    weight = np.where(flat | (spread <= 0), 0.0, weight)
    return (maps * weight[:, None, None]).astype(np.float32)


def upsample_maps(maps: np.ndarray, size: int):
    """(K, r, r) class maps -> a (K, size, size) torch tensor, bicubic, clamped to [0, 1]."""
    import torch
    import torch.nn.functional as F

    upsampled = F.interpolate(torch.from_numpy(maps)[None], size=(size, size), mode="bicubic", align_corners=False)
    return upsampled[0].clamp(0.0, 1.0)


def label_maps(upsampled, class_ids: np.ndarray, label_threshold: float, background_threshold: float):
    """(K, size, size) upsampled class maps in [0, 1] (``upsample_maps``) -> (mask, confidence) by thresholds."""
    top = upsampled.max(dim=0)
    best, index = top.values.numpy(), top.indices.numpy()
    labels = np.asarray(class_ids, dtype=np.uint8)[index]
    mask = np.where(best >= label_threshold, labels, np.where(best < background_threshold, 0, IGNORE_ID)).astype(
        np.uint8
    )
    # Confidence in the decision taken: the score for a label, its complement for background, 0.5 in the band.
    confidence = np.where(best >= label_threshold, best, np.where(best < background_threshold, 1.0 - best, 0.5))
    return mask, confidence.astype(np.float32)


def decode_scores(
    scores: np.ndarray, class_ids: np.ndarray, size: int, label_threshold: float, background_threshold: float
):
    """Dataset Diffusion as published: per-class min-max maps, thresholds. Pure numpy/torch, tested directly."""
    return label_maps(upsample_maps(class_maps(scores, None), size), class_ids, label_threshold, background_threshold)


def decode_evidence(
    arrays: dict[str, np.ndarray], image: np.ndarray | None, size: int, cfg: AttentionDecoderConfig
) -> tuple[np.ndarray, np.ndarray]:
    """One sample's stored evidence (``scores``, ``class_ids``, maybe ``score_range``) and image -> mask, confidence."""
    maps = class_maps(arrays["scores"], arrays.get("score_range"), cfg.normalise, cfg.min_contrast)
    upsampled = upsample_maps(maps, size)
    mask, confidence = label_maps(upsampled, arrays["class_ids"], cfg.label_threshold, cfg.background_threshold)
    if image is not None:
        mask, confidence = cfg.read_image(mask, confidence, image)
    if cfg.vote == "component":
        mask = component_vote(mask, arrays["class_ids"])
    elif cfg.vote == "matched":
        mask = component_matching(mask, upsampled.numpy(), arrays["class_ids"])
    return mask, confidence


class AttentionDecoder(Decoder):
    config: AttentionDecoderConfig

    def decode(self, record: SampleRecord) -> Decoded:
        cfg = self.config
        if "scores" not in record.array_bytes:
            raise UserError(f"{record.source}: seed {record.seed} has no attention scores; rerun `synth synthesize`")
        needs_range = cfg.normalise != "per_class" or cfg.min_contrast > 0
        if needs_range and "score_range" not in record.array_bytes:
            raise UserError(
                f"{record.source}: seed {record.seed} has no score_range (samples made before it was stored), which "
                f"decode.normalise {cfg.normalise!r} / min_contrast needs; rerun `synth synthesize`"
            )
        names = ["scores", "class_ids"] + (["score_range"] if needs_range else [])
        arrays = {name: record.array(name) for name in names}
        image = record.image if cfg.black_level is not None else None
        mask, confidence = decode_evidence(arrays, image, self.context.image_size, cfg)
        provenance = {"decoder": "attention"} | cfg.model_dump(exclude={"type"})
        return Decoded(mask=mask, confidence=confidence, provenance=provenance)
