"""Recipe settings of the ``mix`` stage (HydraMix). Plain pydantic: loading a recipe never imports torch."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from synth.core.config import Strict


class FelzenszwalbMask(Strict):
    """Regions are Felzenszwalb segments of the first source; each region is given to a random source.

    HydraMix uses scale/min_size about 60 for 32 px images and about 400 for 96 px ones; the defaults suit 64 px.
    """

    type: Literal["felzenszwalb"] = "felzenszwalb"
    scale: float = Field(default=100.0, gt=0, description="skimage felzenszwalb scale: larger, bigger segments.")
    sigma: float = Field(default=0.8, ge=0, description="Gaussian smoothing before segmenting.")
    min_size: int = Field(default=50, ge=1, description="Smallest segment in pixels.")


class ClassMasksMask(Strict):
    """Regions are the sources' own class masks (ClassMix-style): each later source pastes a random subset of
    the classes it shows over the composite so far, so whole objects move with their exact labels."""

    type: Literal["class-masks"] = "class-masks"
    fraction: float = Field(default=0.5, gt=0, le=1, description="Share of a source's classes it pastes.")


class WholeItemsMask(Strict):
    """No region is cut: the first source with every item (connected labeled region) of the later sources pasted
    whole where it touches no item already there, at its own place or else at one of ``tries`` random shifts.

    Not HydraMix's segments: for data whose classes are whole silhouettes (garments, products), where cutting an
    object teaches shapes no real image has (docs/mixing-and-adaptation.md, few-shot bench). Pixel space only.
    """

    type: Literal["whole-items"] = "whole-items"
    tries: int = Field(default=8, ge=0, le=100, description="Random shifts tried for an item whose place is taken.")


MixMask = Annotated[FelzenszwalbMask | ClassMasksMask | WholeItemsMask, Field(discriminator="type")]


class LossWeights(Strict):
    reconstruction: float = Field(default=1.0, ge=0)
    laplacian: float = Field(default=1.0, ge=0)
    adversarial: float = Field(default=0.1, ge=0)


class LearnedMixer(Strict):
    """HydraMix's learned mode: an encoder-decoder trained from scratch on this dataset; composites are mixed in
    its feature space (the mixing mask at feature resolution) and drawn by its decoder.

    The defaults are the CPU-sized demo; docs/mixing-and-adaptation.md lists the full GPU sizes
    (width 64, downsamplings 2, residual_blocks 6, epochs 200, batch_size 32).
    """

    width: int = Field(default=16, ge=4, le=256, description="Channels of the first encoder layer.")
    downsamplings: int = Field(default=2, ge=1, le=4, description="Feature map is image_size / 2**downsamplings.")
    residual_blocks: int = Field(default=1, ge=0, le=12)
    epochs: int = Field(default=5, ge=1)
    batch_size: int = Field(default=16, ge=2)
    lr: float = Field(default=2e-4, gt=0)
    pyramid_levels: int = Field(default=3, ge=1, le=6, description="Laplacian-pyramid levels of the perceptual loss.")
    weights: LossWeights = Field(default_factory=LossWeights)
    train_limit: int | None = Field(default=None, ge=2, description="Train on the first N samples only.")
    device: Literal["auto", "cpu", "cuda"] = Field(default="auto", description="auto: the GPU if torch sees one.")


class MixSettings(Strict):
    """New samples from N >= 2 source samples; off unless the recipe has a ``mix:`` section."""

    sources: int = Field(default=2, ge=2, le=8, description="N: how many source samples make one composite.")
    count: int = Field(ge=1, le=10_000_000, description="How many composites to make.")
    pairing: Literal["same-class", "cross-class"] = Field(
        default="same-class",
        description="same-class: all sources share their dominant class; cross-class: all dominant classes differ.",
    )
    mask: MixMask = Field(default_factory=FelzenszwalbMask)
    seed: int = Field(default=0, ge=0, description="Mixing seed: with the sources it fixes every composite.")
    samples_per_shard: int = Field(default=250, ge=1, le=100_000)
    learned: LearnedMixer | None = Field(default=None, description="Mix in a learned feature space (HydraMix).")

    def problems(self, context) -> list[tuple[str, str]]:
        out = []
        roots = len(context.taxonomy.classes)
        if self.pairing == "cross-class" and self.sources > roots:
            out.append(
                (
                    "mix.sources",
                    f"cross-class needs {self.sources} different dominant classes, the taxonomy has {roots}",
                )
            )
        if self.learned is not None and self.mask.type == "whole-items":
            out.append(
                (
                    "mix.learned",
                    "the learned mixer mixes by regions that stay in place; whole-items moves items (pixel space "
                    "only): drop `learned` or use felzenszwalb or class-masks",
                )
            )
        if self.learned is not None and context.image_size % (2**self.learned.downsamplings):
            out.append(
                (
                    "mix.learned.downsamplings",
                    f"image_size {context.image_size} is not divisible by 2**{self.learned.downsamplings}",
                )
            )
        return out
