"""Recipe settings of the ``evaluate`` stage: the usefulness score of a dataset for segmentation."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer

from synth.adapt.config import AdaptSettings
from synth.core.config import Strict
from synth.segment.config import SegmenterSettings

Variant = Literal["source", "stylized", "adapted", "real", "mixed"]
DEFAULT_VARIANTS: tuple[Variant, ...] = ("source", "stylized", "adapted")


class LabeledFile(Strict):
    """A labeled image set in one Parquet file, relative to the project root: a column of encoded images (PNG,
    JPEG, ...) and a column of single-channel PNG masks (value = class id, 255 ignore). Raw bytes or the Hub's
    ``{bytes, path}`` image struct are both read. ``real/fashion-mnist/eval.parquet`` is one."""

    path: str = Field(min_length=1)
    image_column: str = "image"
    mask_column: str = "mask"
    limit: int | None = Field(default=None, ge=1, description="Use only the first N rows.")


class EvaluateSettings(Strict):
    """Train a small segmentation network per variant, score mIoU on a labeled evaluation set: ``eval`` (a real
    labeled set named here) or, without it, the recipe's ``target.eval``.

    Variants: ``source`` (the dataset as made; samples a DatasetGAN decoder excluded are left out, as the build
    leaves them out), ``stylized`` (the stylize stage's images), ``adapted`` (stylized if the recipe stylizes,
    else source, plus CSA adaptation on the unlabeled target images), ``real`` (the ``reference`` set: real
    labeled training images, the upper bound synthetic data is measured against). Every variant starts from the
    same seed and trains the same number of steps, so differences are the data's; ``repeats`` > 1 trains each
    variant again from seeds ``seed + 1``, ... and reports the mean and every run.
    """

    variants: list[Variant] = Field(default_factory=lambda: list(DEFAULT_VARIANTS), min_length=1)
    eval: LabeledFile | None = Field(default=None, description="Real labeled evaluation set (instead of target.eval).")
    reference: LabeledFile | None = Field(default=None, description="Real labeled training set of the `real` variant.")
    segmenter: SegmenterSettings | None = Field(default=None, description="null: the tiny UNet.")
    image_size: int = Field(default=64, ge=16, le=1024, description="Training/eval resolution (resized).")
    steps: int = Field(default=300, ge=1)
    batch_size: int = Field(default=8, ge=1)
    lr: float = Field(default=2e-3, gt=0)
    width: int = Field(default=16, ge=4, le=256, description="Channels of the first UNet level.")
    seed: int = Field(default=0, ge=0)
    repeats: int = Field(default=1, ge=1, le=20, description="Training runs per variant (seeds seed, seed+1, ...).")
    device: Literal["auto", "cpu", "cuda"] = Field(default="auto", description="auto: the GPU if torch sees one.")
    adapt: AdaptSettings = Field(default_factory=AdaptSettings)

    @model_serializer(mode="wrap")
    def _omit_unused(self, handler: SerializerFunctionWrapHandler) -> dict:
        # Settings added for real evaluation sets stay out of the dump while unused, so recipes written before
        # them dump and hash exactly as they did.
        data = handler(self)
        for key in ("eval", "reference", "segmenter"):
            if data.get(key, 0) is None:
                data.pop(key)
        if data.get("repeats") == 1:
            data.pop("repeats")
        return data

    @property
    def architecture(self) -> SegmenterSettings:
        return self.segmenter or SegmenterSettings()
