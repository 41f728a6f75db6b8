"""Byte encodings for what goes into shards, chosen to be deterministic: same array, same bytes, always.

(``np.savez`` is not: its zip entries carry the current time. A map of names to ``.npy`` bytes is.)
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

PNG_COMPRESS_LEVEL = 1  # images are noisy; higher levels cost much time for a few percent of size


def encode_png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return buffer.getvalue()


JPEG_QUALITY = 95


def encode_image(array: np.ndarray, image_format: str = "png") -> bytes:
    """Images may be stored lossy (JPEG is ~20x faster to encode than PNG); masks never are."""
    if image_format == "png":
        return encode_png(array)
    buffer = io.BytesIO()
    if image_format == "jpeg":
        Image.fromarray(array).save(buffer, format="JPEG", quality=JPEG_QUALITY, subsampling=0)
    elif image_format == "webp":
        Image.fromarray(array).save(buffer, format="WEBP", lossless=True, method=0)
    else:
        raise ValueError(f"unknown image format {image_format!r}")
    return buffer.getvalue()


def encode_mask(mask: np.ndarray, palette: bytes) -> bytes:
    """A class-id mask as a palette PNG: values unchanged (``np.asarray`` gives the ids), colours for viewers.

    ``palette`` is 768 bytes (``synth.core.palette.palette_bytes``). Reading needs nothing special: ``decode_png`` and
    ``np.asarray(PIL.Image.open(...))`` return the ids for palette and for older greyscale masks alike.
    """
    image = Image.fromarray(np.ascontiguousarray(mask, dtype=np.uint8))
    image.putpalette(palette)  # "L" -> "P" with the pixel values kept
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return buffer.getvalue()


def decode_png(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image)


def encode_array(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def decode_array(data: bytes) -> np.ndarray:
    return np.load(io.BytesIO(data), allow_pickle=False)


def encode_confidence(confidence: np.ndarray) -> bytes:
    """Confidence in [0, 1] stored as an 8-bit PNG: 1/255 resolution is plenty for thresholds and previews."""
    return encode_png(np.clip(np.rint(confidence * 255.0), 0, 255).astype(np.uint8))


def decode_confidence(data: bytes) -> np.ndarray:
    return decode_png(data).astype(np.float32) / 255.0
