"""Recipe settings of the target domain, the ``stylize`` stage and CSA adaptation; all off by default."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FolderImages(_Strict):
    """Image files in a local folder (png/jpg/jpeg/bmp/webp, sorted by name); with ``masks``, a folder of
    single-channel PNG masks with the same file stems (value = class id, 255 ignore)."""

    type: Literal["folder"] = "folder"
    path: str = Field(min_length=1)
    masks: str | None = None
    limit: int | None = Field(default=None, ge=1)


class HubImages(_Strict):
    """A dataset on the Hugging Face Hub (or a local dataset folder), read with ``datasets.load_dataset``."""

    type: Literal["hub"] = "hub"
    id: str = Field(min_length=1)
    split: str = "train"
    revision: str | None = None
    image_column: str = "image"
    mask_column: str | None = None
    limit: int | None = Field(default=None, ge=1)


class SeedSpan(_Strict):
    """Half-open ``[start, stop)``."""

    start: int = Field(ge=0)
    stop: int = Field(gt=0)


class ScenesImages(_Strict):
    """Images with exact labels from the ``scenes`` generator in another appearance: a target domain with known
    answers. ``generator`` overrides fields of the recipe's scenes settings (background_palette, hue_shift, ...)."""

    type: Literal["scenes"] = "scenes"
    seeds: SeedSpan = Field(description="Must not overlap the recipe's own seeds (nor the other target set's).")
    generator: dict[str, Any] = Field(default_factory=dict)


ImageSource = Annotated[FolderImages | HubImages | ScenesImages, Field(discriminator="type")]


class TargetSettings(_Strict):
    """The target ("real") domain: unlabeled ``images`` for stylization and adaptation, a labeled ``eval`` set
    for the usefulness score."""

    images: ImageSource
    eval: ImageSource | None = None


class StylizeSettings(_Strict):
    """Training-free appearance transfer that keeps geometry, so masks stay valid byte for byte.

    ``reinhard``: match each image's LAB mean/std to the target set's. ``fda``: replace the low-frequency
    Fourier amplitude with a target image's (Yang & Soatto 2020). ``strength`` blends 0 (unchanged) to 1 (full).
    """

    method: Literal["reinhard", "fda", "reinhard+fda"] = "reinhard"
    strength: float = Field(default=1.0, ge=0, le=1)
    fda_beta: float = Field(default=0.05, gt=0, le=0.5, description="Half-width of the swapped band / image side.")
    seed: int = Field(default=0, ge=0, description="Which target image each sample is paired with (fda).")
