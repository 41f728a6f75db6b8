"""Features the generator recorded while it made the image: the decoder reads them, it never reruns a model.

The ``diffusion`` generator with ``generator.features`` stores, per sample, a ``dim x r x r`` fp16 map in the
samples shard (``arrays["features"]``: its UNet up-block activations at the chosen timesteps, randomly
projected; ``synth/generate/unet_features.py``). Training and decoding read that map and upsample it
bilinearly to the image like any other feature map, so new annotations retrain and re-decode without a second
UNet pass over the finished image (which ``sd_unet`` does for images no diffusion model made).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

from synth.decode.datasetgan.features.base import FeatureSource, FeatureSourceConfig
from synth.errors import UserError
from synth.generate.base import Capability

if TYPE_CHECKING:
    import torch

    from synth.core.dataset import DatasetContext
    from synth.store.records import SampleRecord

ARRAY = "features"


class CapturedFeaturesConfig(FeatureSourceConfig):
    type: Literal["captured"] = "captured"
    why_needed: ClassVar[str] = (
        "'captured' reads the UNet features a generator records while generating "
        "(sd_unet re-encodes finished images instead)"
    )

    def build(self, context: DatasetContext | None = None) -> FeatureSource:
        settings = getattr(context.generator, "features", None) if context is not None else None
        if settings is None:
            raise UserError("generator.features: required by decode.features.type 'captured'")
        return CapturedFeatures(settings.model_dump(mode="json"))

    def needs(self) -> frozenset[Capability]:
        return frozenset({Capability.FEATURES})


class CapturedFeatures(FeatureSource):
    def __init__(self, settings: dict[str, Any]):
        self.settings = settings

    @property
    def dim(self) -> int:
        return int(self.settings["dim"])

    def identity(self) -> dict[str, Any]:
        return {"type": "captured", "generator.features": self.settings}

    def maps(self, record: SampleRecord) -> list[torch.Tensor]:
        import torch

        if ARRAY not in record.array_bytes:
            raise UserError(f"{record.source}: seed {record.seed} has no captured features; rerun `synth synthesize`")
        array = record.array(ARRAY)
        if array.ndim != 3 or array.shape[0] != self.dim:
            raise UserError(
                f"{record.source}: seed {record.seed} has features of shape {array.shape}, expected "
                f"{self.dim} channels; rerun `synth synthesize`"
            )
        return [torch.from_numpy(array.astype("float32"))]
