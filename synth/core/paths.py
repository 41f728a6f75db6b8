"""Where each stage of one dataset reads and writes, relative to the project root (the folder with dvc.yaml)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DatasetPaths:
    root: Path
    name: str

    @property
    def samples(self) -> Path:
        return self.root / "data" / self.name / "samples"

    @property
    def masks(self) -> Path:
        return self.root / "data" / self.name / "masks"

    @property
    def decoder(self) -> Path:
        """A trained mask decoder (datasetgan's ensemble), written by train-decoder."""
        return self.root / "data" / self.name / "decoder"

    @property
    def reports(self) -> Path:
        return self.root / "reports" / self.name

    @property
    def validation(self) -> Path:
        return self.reports / "validation.json"

    @property
    def preview(self) -> Path:
        return self.reports / "preview.png"

    @property
    def build(self) -> Path:
        return self.root / "build" / self.name
