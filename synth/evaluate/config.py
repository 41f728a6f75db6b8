"""Recipe settings of the ``evaluate`` stage: the usefulness score of a dataset for segmentation."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from synth.adapt.config import AdaptSettings

Variant = Literal["source", "stylized", "adapted"]


class EvaluateSettings(BaseModel):
    """Train a small segmentation network per variant, score mIoU on the recipe's ``target.eval`` set.

    Variants: ``source`` (samples as made), ``stylized`` (the stylize stage's images), ``adapted`` (stylized if
    the recipe stylizes, else source, plus CSA adaptation on the unlabeled target images). Every variant starts
    from the same seed and trains the same number of steps, so differences are the data's.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    variants: list[Variant] = Field(default_factory=lambda: ["source", "stylized", "adapted"], min_length=1)
    image_size: int = Field(default=64, ge=16, le=1024, description="Training/eval resolution (resized).")
    steps: int = Field(default=300, ge=1)
    batch_size: int = Field(default=8, ge=1)
    lr: float = Field(default=2e-3, gt=0)
    width: int = Field(default=16, ge=4, le=256, description="Channels of the first UNet level.")
    seed: int = Field(default=0, ge=0)
    device: Literal["auto", "cpu", "cuda"] = Field(default="auto", description="auto: the GPU if torch sees one.")
    adapt: AdaptSettings = Field(default_factory=AdaptSettings)
