"""The feature-source interface: per-pixel features from inside a generator, for one sample.

A source returns its feature *maps* at their native resolutions (a UNet decoder block at 16x16, a StyleGAN
layer at 8x8, ...). The per-pixel feature the method talks about (all maps upsampled bilinearly to the image
size and concatenated: H x W x D) is then read only at the pixels a caller asks for, with ``grid_sample``
giving exactly what ``F.interpolate(mode="bilinear", align_corners=False)`` would give there. That is what
keeps memory bounded: for SD-2.1 at 512 px, D is about 10,000 and the dense H x W x D tensor of one image
would take 11 GB; the maps take a few MB and a chunk of pixels a few more.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

from synth.core.config import Strict
from synth.generate.base import Capability, capability_problems

if TYPE_CHECKING:
    import numpy as np
    import torch

    from synth.core.dataset import DatasetContext
    from synth.store.records import SampleRecord


class FeatureSource(ABC):
    """Computes a sample's feature maps; everything else (sampling pixels, dense features) is shared."""

    @property
    @abstractmethod
    def dim(self) -> int:
        """D: the channels of all maps together."""

    @abstractmethod
    def maps(self, record: SampleRecord) -> list[torch.Tensor]:
        """Feature maps (C_i x h_i x w_i, float32, CPU) of one sample, deterministic in the sample."""

    def identity(self) -> dict[str, Any]:
        """What the features depend on besides the sample (model, revision, layers, timesteps)."""
        return {}

    def close(self) -> None:
        """Release models; a no-op for sources that hold none."""


def pixel_features(maps: list[torch.Tensor], ys, xs, height: int, width: int) -> torch.Tensor:
    """N x D features of the pixels (ys[i], xs[i]) of the H x W image the maps belong to.

    Equal to upsampling every map to H x W (bilinear, align_corners=False, edges clamped), concatenating the
    channels and indexing the pixels, without ever building the H x W x D tensor.
    """
    import torch
    import torch.nn.functional as F

    ys = torch.as_tensor(ys, dtype=torch.float32)
    xs = torch.as_tensor(xs, dtype=torch.float32)
    grid = torch.stack([(2 * xs + 1) / width - 1, (2 * ys + 1) / height - 1], dim=-1).view(1, 1, -1, 2)
    parts = []
    for fmap in maps:
        sampled = F.grid_sample(fmap[None].float(), grid, mode="bilinear", padding_mode="border", align_corners=False)
        parts.append(sampled[0, :, 0, :].T)
    return torch.cat(parts, dim=1)


def dense_features(maps: list[torch.Tensor], height: int, width: int) -> torch.Tensor:
    """H x W x D: the method's per-pixel features in full. Only for small images (tests, inspection)."""
    import torch
    import torch.nn.functional as F

    up = [F.interpolate(m[None].float(), size=(height, width), mode="bilinear", align_corners=False)[0] for m in maps]
    return torch.cat(up, dim=0).permute(1, 2, 0).contiguous()


def iter_pixel_chunks(maps: list[torch.Tensor], height: int, width: int, chunk: int = 16384):
    """Yield (flat pixel slice, N x D features) over the whole image, ``chunk`` pixels at a time."""
    import torch

    total = height * width
    for start in range(0, total, chunk):
        flat = torch.arange(start, min(total, start + chunk))
        yield slice(start, start + len(flat)), pixel_features(maps, flat // width, flat % width, height, width)


class FeatureSourceConfig(Strict):
    """Base of every feature source's settings; ``type`` names it in ``FEATURE_SOURCES``."""

    why_needed: ClassVar[str] = ""  # what it reads of the generator's output, for the error when that is missing

    def build(self, context: DatasetContext | None = None) -> FeatureSource:
        """The recipe is needed only by sources whose shape the generator decides (``captured``)."""
        raise NotImplementedError

    def needs(self) -> frozenset[Capability]:
        """What the generator must put in every sample for this source to read; most re-encode the image."""
        return frozenset()

    def problems(self, context: DatasetContext) -> list[tuple[str, str]]:
        """Recipe problems only this source can see: by default, a generator that does not produce what it
        needs. Subclasses that add their own call this first."""
        who = f"decode.features.type {getattr(self, 'type', '?')!r}"
        return capability_problems(self.needs(), context.generator, "decode.features.type", who, self.why_needed)


def as_numpy_image(record: SampleRecord) -> np.ndarray:
    image = record.image
    if image.ndim == 2:
        import numpy as np

        image = np.repeat(image[..., None], 3, axis=2)
    return image[..., :3]
