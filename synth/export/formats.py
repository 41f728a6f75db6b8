"""The export formats, by name: the one list ``synth export`` accepts, its ``--help`` shows and the library runs.

A format is a module of ``synth.export`` with ``write(dataset, folder) -> (counts, notes)``. The registry names
the module rather than importing it, so ``synth --help`` stays fast; adding a format is one entry here and one
module beside it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ExportFormat:
    module: str  # synth.export.<module>
    summary: str  # one line for --help
    ignore: str  # what becomes of mask value 255 (ignore) in this format

    def writer(self) -> Callable:
        return importlib.import_module(f"synth.export.{self.module}").write


EXPORT_FORMATS: dict[str, ExportFormat] = {
    "coco": ExportFormat(
        "coco",
        "COCO instances: one RLE annotation per object (per connected region where the build has no instances)",
        "no ignore label in COCO: 255 pixels are an RLE in images[].ignore_rle (an extra key COCO readers skip)",
    ),
    "voc": ExportFormat(
        "voc",
        "Pascal VOC segmentation: JPEGImages/, palette SegmentationClass/, ImageSets/",
        "255, VOC's own void value, listed last in labelmap.txt",
    ),
    "cityscapes": ExportFormat(
        "cityscapes",
        "Cityscapes: leftImg8bit/ and gtFine/ *_labelIds.png",
        "255 in *_labelIds.png, listed in labels.json as ignore",
    ),
}


def export_format(name: str) -> ExportFormat:
    """The registered format, or ``KeyError`` (the caller turns it into one line naming the known ones)."""
    return EXPORT_FORMATS[name]
