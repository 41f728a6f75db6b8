"""``datasetgan``: masks from a few human annotations, via an MLP ensemble over the generator's pixel features.

Reads the checkpoint ``train-decoder`` wrote to ``data/NAME/decoder/``. Per sample: feature maps from the
configured source, the ensemble's majority vote (mask), its mean probability of the voted class (confidence)
and the image uncertainty (mean of the top ``top_pixels`` share of per-pixel Jensen-Shannon divergences),
recorded in the sample's masks provenance. After every shard is decoded, ``exclusions`` ranks all samples;
the decode stage writes the most uncertain ``exclude_uncertain`` share to ``data/NAME/masks/excluded.json``
(the contract the build stage reads; see docs/datasetgan.md); the report page shows them to people.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from synth.decode.base import Decoded, Decoder, DecoderConfig
from synth.decode.components import component_vote
from synth.decode.datasetgan.features.sources import FeatureSettings
from synth.decode.image_evidence import ImageEvidenceSettings
from synth.errors import UserError
from synth.generate.base import Capability

if TYPE_CHECKING:
    from pathlib import Path

    from synth.core.dataset import DatasetContext
    from synth.core.paths import DatasetPaths
    from synth.store.records import SampleRecord


class DatasetGANConfig(DecoderConfig, ImageEvidenceSettings):
    type: Literal["datasetgan"] = "datasetgan"
    features: FeatureSettings = Field(description="Where pixel features come from (captured, sd_unet, stylegan2).")
    ensemble: int = Field(default=10, ge=1, le=50, description="MLPs in the ensemble.")
    batch_size: int = Field(default=64, ge=2, description="Pixels per optimisation step.")
    lr: float = Field(default=1e-3, gt=0)
    max_epochs: int = Field(default=20, ge=1)
    patience: int = Field(default=3, ge=1, description="Epochs without validation improvement before stopping.")
    pixels_per_image: int = Field(default=4096, ge=16, description="Class-stratified training pixels per annotation.")
    max_feature_mb: int = Field(default=1024, ge=1, description="Cap on the float16 training-pixel matrix.")
    top_pixels: float = Field(default=0.1, gt=0, le=1, description="Image uncertainty = mean of this top share.")
    exclude_uncertain: float = Field(default=0.1, ge=0, lt=1, description="Most uncertain share of samples to exclude.")
    chunk_pixels: int = Field(default=16384, ge=256, description="Pixels labelled at once (bounds decode memory).")
    seed: int = Field(default=0, ge=0)
    vote: Literal["pixel", "component"] = Field(
        default="pixel",
        description="pixel: the ensemble's per-pixel vote (DatasetGAN); component: each connected foreground "
        "region then takes the class most of its pixels got.",
    )
    prompt_classes_only: bool = Field(
        default=False,
        description="With vote: component, count only votes for classes the sample's prompt names (its stored "
        "class_ids), so no mask holds a class the prompt does not name.",
    )

    def build(self, context: DatasetContext) -> Decoder:
        return DatasetGANDecoder(self, context)

    def train_settings(self):
        from synth.decode.datasetgan.ensemble import TrainSettings

        return TrainSettings(
            members=self.ensemble,
            batch_size=self.batch_size,
            lr=self.lr,
            max_epochs=self.max_epochs,
            patience=self.patience,
            seed=self.seed,
        )

    def needs(self) -> frozenset[Capability]:
        """What its feature source reads from the samples."""
        return self.features.needs()

    def problems(self, context: DatasetContext) -> list[tuple[str, str]]:
        out = list(self.features.problems(context))
        if self.prompt_classes_only and self.vote != "component":
            out.append(("decode.prompt_classes_only", "needs decode.vote: component"))
        return out + self.image_problems()

    def trained_state(self, paths: DatasetPaths) -> str | None:
        """Digest of the trained checkpoint's contents: part of every masks shard key, so retraining re-decodes
        and saving the same weights again (a header in another order) does not."""
        path = paths.decoder_checkpoint
        if not path.is_file():
            raise UserError(f"{path}: no trained decoder; run `synth train-decoder {paths.name}` first")
        from synth.decode.datasetgan.ensemble import Ensemble

        return Ensemble.content_digest(path)

    def lineage(self, root: Path, name: str) -> dict:
        from synth.decode.datasetgan.annotations import read_manifest

        seeds = sorted(int(e["seed"]) for e in read_manifest(root, name)["annotations"])
        return {"annotations": len(seeds), "annotated_seeds": seeds}

    def exclusions(self, context: DatasetContext, masks: Path) -> dict:
        return rank_exclusions(context.name, masks, self.exclude_uncertain, self.top_pixels)


class DatasetGANDecoder(Decoder):
    config: DatasetGANConfig

    def attach(self, paths: DatasetPaths) -> None:
        from synth.decode.datasetgan.ensemble import Ensemble

        self.ensemble, _ = Ensemble.load(paths.decoder_checkpoint)
        self.source = self.config.features.build(self.context)
        if self.source.dim != self.ensemble.dim:
            raise UserError(
                f"decode.features: {self.source.dim} dims but the decoder was trained on "
                f"{self.ensemble.dim}; rerun `synth train-decoder {paths.name}`"
            )

    def decode(self, record: SampleRecord) -> Decoded:
        from synth.decode.datasetgan.ensemble import label_image

        if not hasattr(self, "ensemble"):
            raise RuntimeError("DatasetGANDecoder.attach(paths) must run before decode")
        height, width = record.image.shape[:2]
        result = label_image(
            self.ensemble, self.source.maps(record), height, width, self.config.chunk_pixels, self.config.top_pixels
        )
        mask, confidence = self.config.read_image(result.mask, result.confidence, record.image)
        if self.config.vote == "component":
            allowed = None
            if self.config.prompt_classes_only:
                if "class_ids" not in record.array_bytes:
                    raise UserError(f"{record.source}: seed {record.seed} stores no class_ids for prompt_classes_only")
                allowed = record.array("class_ids")
            mask = component_vote(mask, allowed)
        return Decoded(
            mask=mask,
            confidence=confidence,
            provenance={
                "decoder": "datasetgan",
                "uncertainty": round(result.uncertainty, 6),
                "mean_js": round(float(result.js.mean()), 6),
            },
        )

    def close(self) -> None:
        if hasattr(self, "source"):
            self.source.close()


def rank_exclusions(name: str, masks: Path, share: float, top_pixels: float) -> dict:
    """Rank every decoded sample by uncertainty; the top ``share`` (rounded down) is excluded, by name."""
    from synth.store.shards import list_shards, read_shard

    scores = []
    for shard in list_shards(masks):
        table = read_shard(shard, ["seed", "provenance"])
        for seed, prov in zip(table.column("seed").to_pylist(), table.column("provenance").to_pylist()):
            scores.append((float(json.loads(prov).get("uncertainty", 0.0)), int(seed)))
    scores.sort(key=lambda item: (-item[0], item[1]))
    count = int(math.floor(share * len(scores) + 1e-9))
    excluded = [{"seed": seed, "uncertainty": score, "reason": "uncertain"} for score, seed in scores[:count]]
    return {
        "recipe": name,
        "rule": f"image uncertainty = mean of the top {top_pixels:g} pixel JS divergences; "
        f"the most uncertain {share:g} of samples are excluded",
        "share": share,
        "samples": len(scores),
        "excluded_count": len(excluded),
        "threshold": excluded[-1]["uncertainty"] if excluded else None,
        "excluded": sorted(excluded, key=lambda e: e["seed"]),
    }
