"""Fashion-MNIST (Zalando, MIT licence) as segmentation scenes: 64x64 canvases of 1-3 real product photos.

A Fashion-MNIST item sits on a black background, so its pixel mask is exact (pixel > 0, holes filled) and its
class is the image's label. Compositions place items at random sizes and positions, later items on top, with a
caption that names the items (never where they are). Training compositions draw from the train split only and
the real evaluation set from the test split only; ``source_indices`` records which split images made a canvas,
so that disjointness can be checked on pixel content.

Class ids are the Fashion-MNIST label + 1 (0 background, 255 ignore), as in every synthetic fashion recipe.
``CLASS_NAMES`` are the words captions use; each is one CLIP BPE token ("ankle boot" two), and "tshirt" is
spelled so that Fashion-MNIST's "T-shirt/top" does not share the token "shirt" with the shirt class.
"""

from __future__ import annotations

import gzip
import io
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np

from synth.core.atomic import write_atomic
from synth.errors import UserError

CLASS_NAMES: tuple[str, ...] = (
    "tshirt",
    "trousers",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "ankle boot",
)
DEFAULT_ROOT = Path("/usr/share/datasets/fashion-mnist")
LICENSE_NOTICE = (
    "Fashion-MNIST: Copyright (c) 2017 Zalando SE, https://github.com/zalandoresearch/fashion-mnist, "
    "released under the MIT License."
)
_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
_IMAGE_MAGIC, _LABEL_MAGIC = 2051, 2049
# Captions vary their wording so the text encoder learns the class words, not one sentence; none says where.
_TEMPLATES = (
    "{items}",
    "a photo of {items}",
    "{items} on a black background",
    "a product photo of {items}",
    "a picture with {items}",
    "a grayscale image of {items}",
    "{items}, studio shot",
)
_NUMBERS = ("", "one", "two", "three")
_PLURALS = {"trousers": "trousers", "dress": "dresses"}


@dataclass(frozen=True)
class Composition:
    image: np.ndarray  # uint8 [size, size, 3], grey (R = G = B)
    mask: np.ndarray  # uint8 [size, size], class ids (label + 1), later items on top
    caption: str
    labels: list[int]  # Fashion-MNIST labels in drawing order
    source_indices: list[int]  # indices into the split the items came from


@dataclass(frozen=True)
class RealSet:
    images: np.ndarray  # uint8 [N, H, W, 3]
    masks: np.ndarray  # uint8 [N, H, W]
    captions: list[str]
    labels: list[list[int]]
    source_indices: list[list[int]]
    source_split: list[str]

    def __len__(self) -> int:
        return len(self.captions)


def _read_idx(path: Path, magic: int, dims: int) -> np.ndarray:
    try:
        data = gzip.decompress(path.read_bytes())
    except FileNotFoundError:
        raise UserError(f"{path}: Fashion-MNIST file not found (apt-get install dataset-fashion-mnist)") from None
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        raise UserError(f"{path}: not a readable gzip file ({error})") from None
    header = 4 + 4 * dims
    if len(data) < header or int.from_bytes(data[:4], "big") != magic:
        raise UserError(f"{path}: not an idx file (bad magic number)")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    if len(data) != header + int(np.prod(shape)):
        raise UserError(f"{path}: truncated or corrupt idx file ({len(data) - header} bytes for shape {shape})")
    return np.frombuffer(data, np.uint8, offset=header).reshape(shape)


@lru_cache(maxsize=4)
def _load(split: str, root: str) -> tuple[np.ndarray, np.ndarray]:
    image_file, label_file = _FILES[split]
    images = _read_idx(Path(root) / image_file, _IMAGE_MAGIC, 3)
    labels = _read_idx(Path(root) / label_file, _LABEL_MAGIC, 1).astype(np.int64)
    if images.shape[1:] != (28, 28) or len(images) != len(labels):
        raise UserError(f"{Path(root) / image_file}: expected N x 28 x 28 images matching {len(labels)} labels")
    if labels.max(initial=0) > 9:
        raise UserError(f"{Path(root) / label_file}: labels must be 0..9")
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


def load_split(split: Literal["train", "test"], root: Path | str = DEFAULT_ROOT) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images [N, 28, 28] and int64 labels [N] of one split (read-only arrays, cached per process)."""
    if split not in _FILES:
        raise UserError(f"split: {split!r} is not 'train' or 'test'")
    return _load(split, os.fspath(root))


def item_mask(image28: np.ndarray) -> np.ndarray:
    """Foreground of a product photo: every non-black pixel, with enclosed holes filled (a bag's handle opening
    stays background only where it touches the border)."""
    from scipy.ndimage import binary_fill_holes

    return binary_fill_holes(np.asarray(image28) > 0)


def _resize(image28: np.ndarray, side: int) -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image

    pixels = np.asarray(Image.fromarray(image28).resize((side, side), Image.Resampling.BILINEAR))
    mask = np.asarray(
        Image.fromarray(item_mask(image28).astype(np.uint8) * 255).resize((side, side), Image.Resampling.BILINEAR)
    )
    return pixels, mask >= 128


def _phrase(label: int, count: int) -> str:
    name = CLASS_NAMES[label]
    if count > 1:
        return f"{_NUMBERS[count]} {_PLURALS.get(name, name + 's')}"
    if name == "trousers":
        return "a pair of trousers"
    return ("an " if name[0] in "aeiou" else "a ") + name


def caption_for(labels: list[int], rng: np.random.Generator) -> str:
    """A caption naming every item once (repeats counted: "two bags"), in a random order and wording."""
    counts: dict[int, int] = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    order = list(counts)
    rng.shuffle(order)
    phrases = [_phrase(label, counts[label]) for label in order]
    items = phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]
    return _TEMPLATES[int(rng.integers(len(_TEMPLATES)))].format(items=items)


def compose(
    images: np.ndarray,
    labels: np.ndarray,
    rng: np.random.Generator,
    size: int = 64,
    items: tuple[int, int] = (1, 3),
    item_px: tuple[int, int] = (18, 36),
) -> Composition:
    """One canvas of ``items[0]..items[1]`` items drawn from ``images`` (inclusive), each ``item_px`` wide.

    Each item tries a few positions and keeps the one that covers the fewest already-drawn item pixels, so
    that every named item stays mostly visible (a caption naming a hidden item would teach the model nothing).
    """
    canvas = np.zeros((size, size), np.uint8)
    mask = np.zeros((size, size), np.uint8)
    n = int(rng.integers(items[0], items[1] + 1))
    picks = [int(i) for i in rng.integers(0, len(images), size=n)]
    for index in picks:
        side = int(rng.integers(item_px[0], min(item_px[1], size) + 1))
        pixels, fg = _resize(images[index], side)
        best: tuple[int, int, int] | None = None  # (covered pixels, y, x)
        for _ in range(8):
            y, x = (int(v) for v in rng.integers(0, size - side + 1, size=2))
            covered = int(np.count_nonzero(mask[y : y + side, x : x + side][fg]))
            if best is None or covered < best[0]:
                best = (covered, y, x)
            if covered == 0:
                break
        assert best is not None  # eight tries made
        _, y, x = best
        canvas[y : y + side, x : x + side][fg] = pixels[fg]
        mask[y : y + side, x : x + side][fg] = int(labels[index]) + 1
    drawn = [int(labels[i]) for i in picks]
    return Composition(np.repeat(canvas[:, :, None], 3, axis=2), mask, caption_for(drawn, rng), drawn, picks)


def make_compositions(
    split: Literal["train", "test"],
    count: int,
    seed: int,
    root: Path | str = DEFAULT_ROOT,
    **compose_args,
) -> list[Composition]:
    """``count`` compositions from one split; the same (split, count, seed) always gives the same canvases,
    and composition ``i`` does not depend on ``count`` (each has its own random stream)."""
    images, labels = load_split(split, root)
    return [compose(images, labels, np.random.default_rng([seed, i]), **compose_args) for i in range(count)]


# --- committed Parquet sets -------------------------------------------------------------------------------------


def _png(array: np.ndarray, mode: str) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array, mode=mode).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def write_real_set(compositions: list[Composition], split: str, path: Path) -> Path:
    """Write compositions as one Parquet file (atomic rename: a reader never sees half a file)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "image": pa.array([_png(c.image, "RGB") for c in compositions], pa.binary()),
            "mask": pa.array([_png(c.mask, "L") for c in compositions], pa.binary()),
            "caption": pa.array([c.caption for c in compositions], pa.string()),
            "labels": pa.array([c.labels for c in compositions], pa.list_(pa.int16())),
            "source_indices": pa.array([c.source_indices for c in compositions], pa.list_(pa.int32())),
            "source_split": pa.array([split] * len(compositions), pa.string()),
        }
    )
    write_atomic(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"))
    return path


def load_real_set(path: Path | str) -> RealSet:
    """Read a set written by ``write_real_set``; a missing, corrupt or foreign file is a ``UserError``."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from PIL import Image

    path = Path(path)
    try:
        table = pq.read_table(path)
    except FileNotFoundError:
        raise UserError(f"{path}: real set not found (synth real-data fashion-mnist writes it)") from None
    except (OSError, pa.ArrowException) as error:
        raise UserError(f"{path}: not a readable Parquet file ({error})") from None
    needed = {"image", "mask", "caption", "labels", "source_indices", "source_split"}
    if missing := needed - set(table.column_names):
        raise UserError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
    try:
        images = np.stack([np.asarray(Image.open(io.BytesIO(b)).convert("RGB")) for b in table["image"].to_pylist()])
        masks = np.stack([np.asarray(Image.open(io.BytesIO(b))) for b in table["mask"].to_pylist()])
    except (OSError, ValueError) as error:
        raise UserError(f"{path}: an image or mask does not decode ({error})") from None
    if masks.ndim != 3 or masks.dtype != np.uint8 or masks.shape != images.shape[:3]:
        raise UserError(f"{path}: masks must be single-channel uint8 PNGs of the images' size")
    return RealSet(
        images=images,
        masks=masks,
        captions=table["caption"].to_pylist(),
        labels=table["labels"].to_pylist(),
        source_indices=table["source_indices"].to_pylist(),
        source_split=table["source_split"].to_pylist(),
    )


README = """# Real Fashion-MNIST scenes

Written by `synth real-data fashion-mnist --out {out}` (deterministic: the same command gives the same files).

- `eval.parquet`: {n_eval} 64x64 canvases composed from the Fashion-MNIST **test** split only (the real
  evaluation set every synthetic fashion dataset is scored on).
- `train.parquet`: {n_train} canvases composed from the **train** split only (the real-data upper bound).

Each canvas holds 1-3 items of 18-36 px at random places, later items on top. Columns: `image` (PNG, RGB),
`mask` (PNG, mode L: 0 background, class id = Fashion-MNIST label + 1), `caption`, `labels`, `source_indices`
(indices into `source_split`), `source_split`. Classes: {classes}.

## Licence

{notice}

MIT License: Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
associated documentation files (the "Software"), to deal in the Software without restriction, including without
limitation the rights to use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies of the
Software, and to permit persons to whom the Software is furnished to do so, subject to the following conditions:
The above copyright notice and this permission notice shall be included in all copies or substantial portions of
the Software. THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED.
"""

EVAL_SEED, TRAIN_SEED = 20_171_000, 20_171_001


def write_real_sets(out: Path, count: int = 1000, root: Path | str = DEFAULT_ROOT) -> list[Path]:
    """The committed real sets: ``eval.parquet`` from the test split and ``train.parquet`` from the train split."""
    if count < 1:
        raise UserError(f"--count: must be at least 1, got {count}")
    out = Path(out)
    paths = [
        write_real_set(make_compositions("test", count, EVAL_SEED, root), "test", out / "eval.parquet"),
        write_real_set(make_compositions("train", count, TRAIN_SEED, root), "train", out / "train.parquet"),
    ]
    classes = ", ".join(f"{i + 1} {name}" for i, name in enumerate(CLASS_NAMES))
    text = README.format(out=out, n_eval=count, n_train=count, classes=classes, notice=LICENSE_NOTICE)
    (out / "README.md").write_text(text)
    return [*paths, out / "README.md"]
