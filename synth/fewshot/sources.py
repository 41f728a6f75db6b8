"""Feature sources, by the name a recipe's ``decode.features.type`` uses."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import Field

from synth.fewshot.features import FeatureSource, FeatureSourceConfig
from synth.fewshot.sd_unet import SDUnetFeaturesConfig

if TYPE_CHECKING:
    import torch

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

    def build(self) -> FeatureSource:
        return StyleGAN2Features(self)


class StyleGAN2Features(FeatureSource):
    def __init__(self, config: StyleGAN2FeaturesConfig):
        from synth.fewshot.stylegan2 import load_stylegan2

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

        return self.config.model_dump(mode="json", exclude={"device"}) | {"digest": checkpoint_digest(self.config.checkpoint)}

    def maps(self, record: SampleRecord) -> list[torch.Tensor]:
        import torch

        from synth.fewshot.stylegan2 import latent_for_seed

        if "z" in record.array_bytes:
            z = torch.from_numpy(record.array("z")).float()[None]
        else:
            z = latent_for_seed(record.seed, self.model.z_dim)
        with torch.no_grad():
            _, features = self.model(z.to(self.config.device), self.config.truncation_psi, noise_seed=record.seed)
        return [features[i][0].float().cpu() for i in self.layers]


FEATURE_SOURCES: dict[str, type[FeatureSourceConfig]] = {
    "sd_unet": SDUnetFeaturesConfig,
    "stylegan2": StyleGAN2FeaturesConfig,
}

FeatureSettings = Annotated[Union[tuple(FEATURE_SOURCES.values())], Field(discriminator="type")]  # noqa: UP007
