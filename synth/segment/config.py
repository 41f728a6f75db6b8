"""Which segmentation network is trained (the recipe's ``evaluate.segmenter``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from synth.core.config import Strict


class SegmenterSettings(Strict):
    """Which segmentation network is trained. ``unet``: the project's tiny 3-level UNet (width = ``width``).
    ``segformer``: transformers' ``SegformerForSemanticSegmentation`` built from a config with random weights —
    a standard architecture, what a user would train on ``load_dataset`` output. Its decode head predicts at
    1/``strides[0]`` of the input side; logits are upsampled bilinearly to the input (as transformers' own loss
    does) for training and prediction."""

    type: Literal["unet", "segformer"] = "unet"
    hidden_sizes: list[int] = Field(default_factory=lambda: [16, 32, 64, 128], min_length=4, max_length=4)
    depths: list[int] = Field(default_factory=lambda: [1, 1, 1, 1], min_length=4, max_length=4)
    strides: list[int] = Field(default_factory=lambda: [4, 2, 2, 2], min_length=4, max_length=4)
    decoder_hidden_size: int = Field(default=64, ge=8)
