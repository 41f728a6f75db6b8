"""Feature sources, by the name a recipe's ``decode.features.type`` uses."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import Field

from synth.decode.datasetgan.features.base import FeatureSource, FeatureSourceConfig
from synth.decode.datasetgan.features.captured import CapturedFeaturesConfig
from synth.decode.datasetgan.features.sd_unet import SDUnetFeaturesConfig

if TYPE_CHECKING:
    import torch

    from synth.core.dataset import DatasetContext
    from synth.store.records import SampleRecord


class StyleGAN2FeaturesConfig(FeatureSourceConfig):
    """The outputs of every styled layer of a StyleGAN2 synthesis network (DatasetGAN's own features).

    Reads each sample's z from its ``arrays`` (written by the ``stylegan2`` generator), or draws it from the seed
    the same way the generator does; name the same checkpoint and truncation as the generator.
    """

    type: Literal["stylegan2"] = "stylegan2"
    checkpoint: str
    truncation_psi: float = Field(default=0.7, gt=0, le=1)
    allow_pickle: bool = False
    layers: list[int] | None = Field(default=None, description="Indices of styled layers to use; None = all.")
    device: str = "cpu"

    def build(self, context: DatasetContext | None = None) -> FeatureSource:
        return StyleGAN2Features(self)

    def problems(self, context: DatasetContext) -> list[tuple[str, str]]:
        from pathlib import Path

        if Path(self.checkpoint).suffix != ".safetensors" and not self.allow_pickle:
            return [
                (
                    "decode.features.checkpoint",
                    f"{self.checkpoint!r} is not .safetensors; pickled checkpoints "
                    "run arbitrary code and need allow_pickle: true",
                )
            ]
        return []


class StyleGAN2Features(FeatureSource):
    def __init__(self, config: StyleGAN2FeaturesConfig):
        from synth.generate.stylegan2_network import load_stylegan2

        self.config = config
        self.model = load_stylegan2(config.checkpoint, config.allow_pickle, where="decode.features.checkpoint")
        self.model.to(config.device)
        channels = self.model.layer_channels
        self.layers = list(range(len(channels))) if config.layers is None else list(config.layers)
        if any(not 0 <= i < len(channels) for i in self.layers):
            from synth.errors import UserError

            raise UserError(f"decode.features.layers: {self.layers} not in 0..{len(channels) - 1}")
        self._dim = sum(channels[i] for i in self.layers)

    @property
    def dim(self) -> int:
        return self._dim

    def identity(self) -> dict[str, Any]:
        from synth.generate.stylegan2 import checkpoint_digest

        return self.config.model_dump(mode="json", exclude={"device"}) | {
            "digest": checkpoint_digest(self.config.checkpoint)
        }

    def maps(self, record: SampleRecord) -> list[torch.Tensor]:
        import torch

        from synth.generate.stylegan2_network import latent_for_seed

        if "z" in record.array_bytes:
            z = torch.from_numpy(record.array("z")).float()[None]
        else:
            z = latent_for_seed(record.seed, self.model.z_dim)
        with torch.no_grad():
            _, features = self.model(z.to(self.config.device), self.config.truncation_psi, noise_seed=record.seed)
        return [features[i][0].float().cpu() for i in self.layers]


class RandomConvFeaturesConfig(FeatureSourceConfig):
    """A fixed, seeded random convolutional pyramid over the image: NOT features from inside a generator.

    For measurement and tests only, where the images come from ``scenes`` (exact masks): it shows what the
    decoder and its uncertainty do when features carry the pixels' colour and texture, next to what the
    random-weight tiny SD UNet carries. Recipes for real datasets use ``sd_unet`` or ``stylegan2``.
    """

    type: Literal["random_conv"] = "random_conv"
    channels: list[int] = Field(default_factory=lambda: [16, 32, 64], min_length=1)
    seed: int = 0

    def build(self, context: DatasetContext | None = None) -> FeatureSource:
        return RandomConvFeatures(self)


class RandomConvFeatures(FeatureSource):
    def __init__(self, config: RandomConvFeaturesConfig):
        import torch
        from torch import nn

        self.config = config
        torch.manual_seed(config.seed)
        widths = [3, *config.channels]
        self.convs = [nn.Conv2d(a, b, 3, padding=1).eval().requires_grad_(False) for a, b in zip(widths, widths[1:])]

    @property
    def dim(self) -> int:
        return sum(self.config.channels)

    def identity(self) -> dict[str, Any]:
        return self.config.model_dump(mode="json")

    def maps(self, record: SampleRecord) -> list[torch.Tensor]:
        import torch
        import torch.nn.functional as F

        from synth.decode.datasetgan.features.base import as_numpy_image

        x = torch.from_numpy(as_numpy_image(record).copy()).permute(2, 0, 1).float()[None] / 127.5 - 1.0
        out = []
        with torch.no_grad():
            for i, conv in enumerate(self.convs):
                x = F.relu(conv(x if i == 0 else F.avg_pool2d(x, 2)))
                out.append(x[0])
        return out


FEATURE_SOURCES: dict[str, type[FeatureSourceConfig]] = {
    "sd_unet": SDUnetFeaturesConfig,
    "stylegan2": StyleGAN2FeaturesConfig,
    "random_conv": RandomConvFeaturesConfig,
    "captured": CapturedFeaturesConfig,
}

if TYPE_CHECKING:  # a union built at run time is no type a checker reads: to it, any registered source
    FeatureSettings = FeatureSourceConfig
else:
    FeatureSettings = Annotated[Union[tuple(FEATURE_SOURCES.values())], Field(discriminator="type")]  # noqa: UP007 - built at run time
