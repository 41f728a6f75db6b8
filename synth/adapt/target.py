"""Target-domain images from wherever a recipe says: a local folder, a Hub dataset, or ``scenes`` in another look.

Every image is brought to the recipe's square ``image_size`` (shorter side resized, centre crop; masks with
nearest neighbour), so stylization and evaluation compare like with like.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from synth.errors import UserError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


def fit_square(image: Image.Image, size: int, resample: int) -> np.ndarray:
    w, h = image.size
    scale = size / min(w, h)
    nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
    image = image.resize((nw, nh), resample)
    left, top = (nw - size) // 2, (nh - size) // 2
    return np.asarray(image.crop((left, top, left + size, top + size)))


def load_source(source, context, root: Path, where: str) -> list[tuple[str, np.ndarray, np.ndarray | None]]:
    """``(id, image HxWx3 uint8, mask HxW uint8 or None)`` in a fixed order."""
    if source.type == "folder":
        return _folder(source, context.image_size, Path(root), where)
    if source.type == "hub":
        return _hub(source, context.image_size, where)
    return _scenes(source, context)


def folder_files(source, root: Path, where: str) -> tuple[list[Path], Path | None]:
    """The image files a ``folder`` source reads, in order, and its masks folder (None without masks)."""
    folder = Path(source.path) if Path(source.path).is_absolute() else root / source.path
    if not folder.is_dir():
        raise UserError(f"recipes: {where}.path: {source.path!r} is not a folder")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)[: source.limit]
    if not files:
        raise UserError(f"recipes: {where}.path: no images ({', '.join(IMAGE_SUFFIXES)}) in {source.path!r}")
    masks_dir = (
        None
        if source.masks is None
        else (Path(source.masks) if Path(source.masks).is_absolute() else root / source.masks)
    )
    return files, masks_dir


def _folder(source, size: int, root: Path, where: str):
    files, masks_dir = folder_files(source, root, where)
    out = []
    for path in files:
        try:
            with Image.open(path) as img:
                image = fit_square(img.convert("RGB"), size, Image.Resampling.BICUBIC)
        except OSError as error:
            raise UserError(f"{path}: not a readable image ({error})") from None
        mask = None
        if masks_dir is not None:
            mask_path = masks_dir / f"{path.stem}.png"
            if not mask_path.is_file():
                raise UserError(f"{mask_path}: missing mask for {path.name} ({where}.masks)")
            with Image.open(mask_path) as m:
                if m.mode not in ("L", "P"):
                    raise UserError(f"{mask_path}: a mask must be single-channel (L or P), not {m.mode}")
                mask = fit_square(m, size, Image.Resampling.NEAREST)
        out.append((path.name, image, mask))
    return out


def _hub(source, size: int, where: str):
    import datasets

    try:
        ds = datasets.load_dataset(source.id, split=source.split, revision=source.revision)
    except Exception as error:
        raise UserError(f"recipes: {where}.id: cannot load {source.id!r} split {source.split!r}: {error}") from None
    for column in (source.image_column, source.mask_column):
        if column is not None and column not in ds.column_names:
            raise UserError(f"recipes: {where}: dataset {source.id!r} has no column {column!r} (has {ds.column_names})")
    if source.limit is not None:
        ds = ds.select(range(min(source.limit, len(ds))))
    out = []
    for i, row in enumerate(ds):
        image = fit_square(_as_pil(row[source.image_column]).convert("RGB"), size, Image.Resampling.BICUBIC)
        mask = (
            None
            if source.mask_column is None
            else fit_square(_as_pil(row[source.mask_column]), size, Image.Resampling.NEAREST)
        )
        out.append((f"{source.id}:{source.split}:{i}", image, mask))
    return out


def _as_pil(value) -> Image.Image:
    return value if isinstance(value, Image.Image) else Image.fromarray(np.asarray(value))


def _scenes(source, context):
    from synth.generate.prompts import plan_sample
    from synth.generate.scenes import ScenesConfig

    base = context.generator.model_dump() if context.generator.type == "scenes" else {}
    config = ScenesConfig.model_validate(base | dict(source.generator) | {"type": "scenes"})
    generator = config.build(context)
    plans = [plan_sample(context, seed) for seed in range(source.seeds.start, source.seeds.stop)]
    return [(f"scenes:{s.seed}", s.image, s.mask) for s in generator.generate(plans)]


def export_photos(folder: Path) -> list[Path]:
    """Real photographs that ship with scikit-image, as unlabeled target images for demos (no download)."""
    import skimage.data

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name in ("astronaut", "chelsea", "coffee", "rocket"):
        path = folder / f"{name}.png"
        Image.fromarray(getattr(skimage.data, name)()).save(path)
        out.append(path)
    return out
