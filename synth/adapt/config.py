"""Recipe settings of the target domain, the ``stylize`` stage and CSA adaptation; all off by default."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from synth.core.config import Strict


class FolderImages(Strict):
    """Image files in a local folder (png/jpg/jpeg/bmp/webp, sorted by name); with ``masks``, a folder of
    single-channel PNG masks with the same file stems (value = class id, 255 ignore)."""

    type: Literal["folder"] = "folder"
    path: str = Field(min_length=1)
    masks: str | None = None
    limit: int | None = Field(default=None, ge=1)


class HubImages(Strict):
    """A dataset on the Hugging Face Hub (or a local dataset folder), read with ``datasets.load_dataset``."""

    type: Literal["hub"] = "hub"
    id: str = Field(min_length=1)
    split: str = "train"
    revision: str | None = None
    image_column: str = "image"
    mask_column: str | None = None
    limit: int | None = Field(default=None, ge=1)


class SeedSpan(Strict):
    """Half-open ``[start, stop)``."""

    start: int = Field(ge=0)
    stop: int = Field(gt=0)


class ScenesImages(Strict):
    """Images with exact labels from the ``scenes`` generator in another appearance: a target domain with known
    answers. ``generator`` overrides fields of the recipe's scenes settings (background_palette, hue_shift, ...)."""

    type: Literal["scenes"] = "scenes"
    seeds: SeedSpan = Field(description="Must not overlap the recipe's own seeds (nor the other target set's).")
    generator: dict[str, Any] = Field(default_factory=dict)


ImageSource = Annotated[FolderImages | HubImages | ScenesImages, Field(discriminator="type")]


class TargetSettings(Strict):
    """The target ("real") domain: unlabeled ``images`` for stylization and adaptation, a labeled ``eval`` set
    for the usefulness score."""

    images: ImageSource
    eval: ImageSource | None = None


class CutTranslator(Strict):
    """A small CUT (Contrastive Unpaired Translation, Park et al. ECCV 2020) trained here without labels: a
    ResNet generator maps source images to the target domain under a PatchGAN (LSGAN) loss, while PatchNCE keeps
    each output patch closer to its own input patch than to other patches of the image, so content stays where
    it was and the masks stay usable. The defaults are CPU-sized; the paper's: width 64, residual_blocks 9,
    patches 256, batch_size 1, 400 epochs at 256 px.
    """

    width: int = Field(default=16, ge=4, le=256, description="Channels of the generator's first layer.")
    residual_blocks: int = Field(default=3, ge=1, le=12)
    steps: int = Field(default=1500, ge=1, description="Optimiser steps (batches of source and target images).")
    batch_size: int = Field(default=4, ge=1)
    lr: float = Field(default=2e-4, gt=0)
    patches: int = Field(default=128, ge=2, le=1024, description="Patches per image and layer in PatchNCE.")
    temperature: float = Field(default=0.07, gt=0)
    nce_weight: float = Field(default=1.0, ge=0, description="PatchNCE on source->translated and identity on target.")
    gan_weight: float = Field(default=1.0, ge=0)
    train_images: int = Field(
        default=400, ge=2, description="Source images it learns from: the first N by seed (extending seeds keeps it)."
    )
    seed: int = Field(default=0, ge=0)
    device: Literal["auto", "cpu", "cuda"] = Field(default="auto", description="auto: the GPU if torch sees one.")


class StylizeSettings(Strict):
    """Appearance transfer that keeps geometry, so each stylized sample keeps its mask byte for byte.

    ``reinhard``: match each image's LAB mean/std to the target set's. ``fda``: replace the low-frequency
    Fourier amplitude with a target image's (Yang & Soatto 2020). Both are training-free. ``cut``: a learned
    translator (``cut:`` settings) trained on this dataset's images and the unlabeled target images, what CSA's
    authors use. ``strength`` blends 0 (unchanged) to 1 (full).
    """

    method: Literal["reinhard", "fda", "reinhard+fda", "cut"] = "reinhard"
    strength: float = Field(default=1.0, ge=0, le=1)
    fda_beta: float = Field(default=0.05, gt=0, le=0.5, description="Half-width of the swapped band / image side.")
    seed: int = Field(default=0, ge=0, description="Which target image each sample is paired with (fda).")
    cut: CutTranslator = Field(default_factory=CutTranslator, description="The translator of method cut.")

    def recorded(self) -> dict:
        """The settings the stylized bytes depend on (the shard key and the provenance): the translator's only
        for method cut, so adding it left the other methods' shards and provenance as they were."""
        return self.model_dump(mode="json", exclude=None if self.method == "cut" else {"cut"})


class AdaptSettings(Strict):
    """CSA feature-level adaptation: ClassMix onto target images, EMA teacher pseudo-labels, class prototypes
    from the top-k most confident pixels (EMA), pixel-to-prototype contrastive loss, and the consistency term
    between the original and the stylized images' prototype-similarity maps."""

    teacher_ema: float = Field(default=0.999, ge=0, lt=1, description="0.999 at full size; ~0.99 for short runs.")
    prototype_ema: float = Field(default=0.99, ge=0, lt=1)
    top_k: int = Field(default=32, ge=1, description="Most confident pixels per class that make a prototype.")
    temperature: float = Field(default=0.1, gt=0)
    contrastive_weight: float = Field(default=0.1, ge=0)
    pseudo_threshold: float = Field(default=0.968, ge=0, le=1, description="Teacher confidence that counts.")
    warmup_steps: int = Field(default=0, ge=0, description="Supervised-only steps before adaptation starts.")
    prototype_weighting: Literal["confidence", "mean"] = Field(
        default="confidence",
        description="confidence: each top-k pixel's feature weighs by its class score (CSA's CAM weighting); mean: plain mean.",
    )
    consistency_weight: float = Field(
        default=0.1, ge=0, description="Original vs stylized prototype-similarity maps (needs a stylized recipe)."
    )
