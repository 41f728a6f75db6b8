"""Where each stage of one dataset reads and writes, relative to the project root (the folder with dvc.yaml).

Every folder and file a stage writes is named here once: a stage, a decoder or a test that needs one asks
``DatasetPaths`` for it instead of spelling the path out again. dvc.yaml names the same outputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DatasetPaths:
    root: Path
    name: str

    # ------------------------------------------------------------------ data/NAME: shard folders (DVC outs)

    @property
    def data(self) -> Path:
        return self.root / "data" / self.name

    @property
    def samples(self) -> Path:
        """synthesize: images and raw label evidence."""
        return self.data / "samples"

    @property
    def masks(self) -> Path:
        """decode: masks, confidence and mask statistics."""
        return self.data / "masks"

    @property
    def excluded(self) -> Path:
        """decode (datasetgan): the samples build leaves out, with why; absent for other decoders."""
        return self.masks / "excluded.json"

    @property
    def decoder(self) -> Path:
        """A trained mask decoder (datasetgan's ensemble), written by train-decoder."""
        return self.data / "decoder"

    @property
    def decoder_checkpoint(self) -> Path:
        return self.decoder / "ensemble.safetensors"

    @property
    def decoder_meta(self) -> Path:
        """What the checkpoint was trained on (its key, seeds, feature identity)."""
        return self.decoder / "decoder.json"

    @property
    def decoder_not_applicable(self) -> Path:
        """train-decoder's constant output for decoders that train nothing."""
        return self.decoder / "not-applicable.json"

    @property
    def mixed(self) -> Path:
        """mix (HydraMix): composites, plus the learned mixer's ``mixer-KEY/`` folder."""
        return self.data / "mixed"

    @property
    def target(self) -> Path:
        """target: ``images/`` (unlabeled target domain) and ``eval/`` (labeled evaluation set)."""
        return self.data / "target"

    @property
    def target_images(self) -> Path:
        return self.target / "images"

    @property
    def target_eval(self) -> Path:
        return self.target / "eval"

    @property
    def stylized(self) -> Path:
        """stylize: the samples moved toward the target domain, masks unchanged."""
        return self.data / "stylized"

    # ------------------------------------------------------------------ reports/NAME: metrics and plots

    @property
    def reports(self) -> Path:
        return self.root / "reports" / self.name

    @property
    def validation(self) -> Path:
        """validate: DVC metrics."""
        return self.reports / "validation.json"

    @property
    def validation_details(self) -> Path:
        return self.reports / "validation_details.json"

    @property
    def label_scores(self) -> Path:
        """validate: every sample's label-check scores and flag reason (docs/validation.md)."""
        return self.reports / "label_scores.parquet"

    @property
    def data_docs(self) -> Path:
        """validate: the Great Expectations Data Docs site."""
        return self.reports / "data_docs"

    @property
    def variants_validation(self) -> Path:
        """validate-variants: DVC metrics, one entry per variant (``{}`` when the recipe has none)."""
        return self.reports / "validation-variants.json"

    @property
    def variant_reports(self) -> Path:
        """validate-variants: ``VARIANT/validation_details.json`` and ``VARIANT/data_docs`` per variant."""
        return self.reports / "variants"

    @property
    def preview(self) -> Path:
        return self.reports / "preview.png"

    @property
    def report(self) -> Path:
        """report: the self-contained HTML page and its images."""
        return self.reports / "report"

    @property
    def report_page(self) -> Path:
        return self.report / "index.html"

    @property
    def annotation_export(self) -> Path:
        """``synth annotate export``'s default folder: images and the guide handed to annotators."""
        return self.reports / "annotate"

    @property
    def stylize_metrics(self) -> Path:
        return self.reports / "stylize.json"

    @property
    def evaluation(self) -> Path:
        """evaluate: the usefulness score (mIoU per variant), DVC metrics."""
        return self.reports / "evaluate.json"

    # ------------------------------------------------------------------ build/NAME: what the Hub receives

    @property
    def build(self) -> Path:
        return self.root / "build" / self.name

    @property
    def build_data(self) -> Path:
        """One Parquet file per split and shard (``train-00003.parquet``)."""
        return self.build / "data"

    def build_variant(self, variant: str) -> Path:
        """A variant's config folder (``mixed/train-00000.parquet``), beside ``data/`` (the default config)."""
        return self.build / variant

    @property
    def lineage(self) -> Path:
        return self.build / "lineage.json"

    @property
    def card(self) -> Path:
        return self.build / "README.md"

    @property
    def id2label(self) -> Path:
        return self.build / "id2label.json"

    # ------------------------------------------------------------------ annotations/NAME: human masks (git)

    @property
    def annotations(self) -> Path:
        return self.root / "annotations" / self.name
