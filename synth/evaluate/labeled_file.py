"""Read a labeled image set kept in one Parquet file (``evaluate.eval`` / ``evaluate.reference``).

Real evaluation sets are small enough to commit (``real/fashion-mnist/*.parquet``: 1,000 PNG pairs, a few MB),
so a fresh clone scores datasets without downloading anything. Both raw bytes and the Hub's ``{bytes, path}``
image struct are accepted, so a split file of a built dataset (``build/NAME/data/*.parquet``) reads too.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from synth.errors import UserError
from synth.segment.arrays import Arrays

if TYPE_CHECKING:
    from synth.evaluate.config import LabeledFile


def _bytes(value: object) -> bytes:
    """A Parquet cell: raw bytes, or the Hub's image struct ``{bytes, path}``."""
    if isinstance(value, dict):
        value = value.get("bytes")
    if not isinstance(value, (bytes, bytearray)):
        raise TypeError(f"expected encoded image bytes, got {type(value).__name__}")
    return bytes(value)


def _decode(data: bytes, mode: str, size: int) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as opened:
        if mode == "L" and opened.mode not in ("L", "P"):
            raise ValueError(f"a mask must be a single-channel PNG, got mode {opened.mode}")
        image: Image.Image = opened.convert(mode) if mode == "RGB" else opened
        if image.size != (size, size):
            image = image.resize((size, size), Image.Resampling.BILINEAR if mode == "RGB" else Image.Resampling.NEAREST)
        return np.asarray(image, dtype=np.uint8)


def read_labeled_file(root: Path, source: LabeledFile, size: int) -> Arrays:
    """Images ``N x size x size x 3`` and masks ``N x size x size`` (nearest-neighbour resized)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from PIL import UnidentifiedImageError

    path = Path(root) / source.path
    if not path.is_file():
        raise UserError(f"{source.path}: no such file (a labeled set named in the recipe's `evaluate:` section)")
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as error:
        raise UserError(f"{source.path}: not a readable Parquet file ({error})") from error
    for column in (source.image_column, source.mask_column):
        if column not in table.column_names:
            raise UserError(f"{source.path}: has no column {column!r} (columns: {', '.join(table.column_names)})")
    rows = table.num_rows if source.limit is None else min(source.limit, table.num_rows)
    if rows == 0:
        raise UserError(f"{source.path}: has no rows")
    images, masks = [], []
    cells = zip(table[source.image_column].to_pylist()[:rows], table[source.mask_column].to_pylist()[:rows])
    for i, (image, mask) in enumerate(cells):
        try:
            images.append(_decode(_bytes(image), "RGB", size))
            masks.append(_decode(_bytes(mask), "L", size))
        except (OSError, TypeError, ValueError, UnidentifiedImageError) as error:
            raise UserError(f"{source.path}: row {i}: cannot decode image or mask ({error})") from error
    return Arrays(np.stack(images), np.stack(masks))
