"""Human annotations of generated samples: pick which to label, hand out images and a guide, take masks back.

Stored form (git-tracked, small): ``annotations/NAME/seed-SSSSSS.png``, one single-channel index PNG per
annotated sample (value = class id, 0 background, 255 ignore), and ``annotations/NAME/manifest.json`` listing
each file's seed, sha256, where it came from and, when the sample was generated at import, a digest of the
image it annotates: an annotation is a mask of one image, so when the generator changes (new weights, a new
revision) and seed 4 draws something else, training on the old mask would teach the decoder wrong pixels;
``check_annotated_images`` refuses that. PNG because every annotation and image tool reads it, a diff
of one file is one sample, and at 16-40 samples a Parquet file would only hide them.

Import accepts three formats, checked file by file before anything is written (all or nothing):
- PNG index masks named after the exported image (``seed-000123.png``, mode L or P);
- LabelMe JSON (``seed-000123.json``: ``shapes`` of ``shape_type`` polygon/rectangle, labels = class names);
- CVAT "Segmentation mask 1.1" exports: a folder with ``labelmap.txt`` and ``SegmentationClass/*.png`` colour
  masks, colours mapped to labels through the labelmap.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, ImageDraw

from synth.core.atomic import write_bytes
from synth.core.labels import BACKGROUND_ID, IGNORE_ID
from synth.core.paths import DatasetPaths
from synth.errors import UserError

if TYPE_CHECKING:
    from collections.abc import Collection

    from synth.core.dataset import DatasetContext

MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1
_SEED_STEM = re.compile(r"^(?:seed[-_])?0*(\d+)$")
SKIP_NAMES = {"guide.json", MANIFEST, "labelmap.txt", "labelme-labels.txt", "GUIDE.md"}


def seed_stem(seed: int) -> str:
    return f"seed-{seed:06d}"


# ---------------------------------------------------------------- reading what is stored


def read_manifest(root: Path, name: str) -> dict:
    path = DatasetPaths(Path(root), name).annotations / MANIFEST
    if not path.is_file():
        return {"format": MANIFEST_FORMAT, "recipe": name, "annotations": []}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise UserError(f"{path}: not valid JSON ({error})") from None


def image_digest(image: np.ndarray) -> str:
    """sha256 of an image's pixels and shape (not its PNG bytes: the same pixels encoded otherwise match)."""
    pixels = np.ascontiguousarray(image, dtype=np.uint8)
    return hashlib.sha256(repr(pixels.shape).encode() + pixels.tobytes()).hexdigest()


def check_annotated_images(root: Path, name: str, images: dict[int, np.ndarray]) -> None:
    """Raise when a stored annotation was drawn on another image than the one its seed has now.

    ``images``: seed -> the generated image of each annotated seed. Entries imported before the samples existed
    (no ``image_sha256``) cannot be checked and pass."""
    folder = DatasetPaths(Path(root), name).annotations
    stale = [
        entry
        for entry in read_manifest(root, name)["annotations"]
        if entry.get("image_sha256")
        and int(entry["seed"]) in images
        and image_digest(images[int(entry["seed"])]) != entry["image_sha256"]
    ]
    if stale:
        seeds = [int(e["seed"]) for e in stale]
        raise UserError(
            f"{folder / stale[0]['file']}: annotates an image seed {seeds[0]} no longer makes "
            f"({len(stale)} of the annotations, seeds {seeds[:8]}: the generator changed since import); "
            f"annotate the new images (synth annotate export {name} / import)"
        )


def load_annotations(context: DatasetContext, root: Path = Path(".")) -> dict[int, np.ndarray]:
    """Seed -> index mask of every stored annotation, checked against its manifest hash."""
    folder = DatasetPaths(Path(root), context.name).annotations
    out = {}
    for entry in read_manifest(root, context.name)["annotations"]:
        path = folder / entry["file"]
        try:
            data = path.read_bytes()
        except OSError:
            raise UserError(f"{path}: listed in {MANIFEST} but missing") from None
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise UserError(f"{path}: changed since import (sha256 differs from {MANIFEST}); re-import it")
        with Image.open(io.BytesIO(data)) as image:
            out[int(entry["seed"])] = np.asarray(image)
    return out


# ---------------------------------------------------------------- export


def class_presence(context: DatasetContext, seed: int) -> set[int]:
    """Classes a sample is expected to show: those its plan asks for, plus their parts (car -> wheel)."""
    from synth.generate.prompts import plan_sample

    asked = set(plan_sample(context, seed).class_ids)
    names = {c.name: c.id for c in context.taxonomy.classes}
    present = set(asked)
    changed = True
    while changed:
        changed = False
        for cls in context.taxonomy.classes:
            if cls.parent is not None and names[cls.parent] in present and cls.id not in present:
                present.add(cls.id)
                changed = True
    return present


def pick_covering(presence: dict[int, Collection[int]], count: int, class_ids: list[int]) -> list[int]:
    """Greedy coverage: each pick maximises sum over its classes of 1 / (1 + times already picked).

    Rare classes get picked early and every class present anywhere is covered before any is covered twice;
    ties go to the lowest seed, so the choice is deterministic. ``presence`` may list a class once per item (a
    list of the sample's items' classes): then coverage counts items, and two items of a class count twice.
    """
    picked: list[int] = []
    counts = dict.fromkeys(class_ids, 0)
    candidates = sorted(presence)
    for _ in range(min(count, len(candidates))):
        best, best_gain = candidates[0], -1.0  # the first candidate always beats -1
        for seed in candidates:
            gain = sum(1.0 / (1 + counts[c]) for c in presence[seed] if c in counts)
            if gain > best_gain + 1e-12:
                best, best_gain = seed, gain
        picked.append(best)
        candidates.remove(best)
        for c in presence[best]:
            if c in counts:
                counts[c] += 1
    return sorted(picked)


def samples_shards(name: str, root: Path) -> list[Path]:
    """The recipe's samples shards, or one line saying to synthesize first (checked before any slow setup)."""
    from synth.store.shards import list_shards

    shards = list_shards(DatasetPaths(Path(root), name).samples)
    if not shards:
        raise UserError(f"data/{name}/samples: no samples shards; run `synth synthesize {name}` first")
    return shards


def export_for_annotation(
    context: DatasetContext,
    version: str,
    root: Path,
    count: int,
    out: Path,
    drawn: dict[int, list[int]] | None = None,
) -> list[int]:
    """Write the images of ``count`` samples that cover the taxonomy, and the guide annotators work from.

    Coverage is judged on what each sample's prompt asks for, or, given ``drawn`` (seed -> the class of each
    item someone has seen drawn in it, e.g. a pre-labelling pass), on what is drawn, among those seeds only.
    """
    from synth.store.shards import read_shard

    shards = samples_shards(context.name, root)
    done = set(load_annotations(context, root))
    seeds: list[int] = []
    for shard in shards:
        seeds.extend(int(s) for s in read_shard(shard, ["seed"]).column("seed").to_pylist())
    if drawn is None:
        presence: dict[int, Collection[int]] = {s: class_presence(context, s) for s in seeds if s not in done}
    else:
        presence = {s: drawn[s] for s in seeds if s not in done and s in drawn}
    chosen = set(pick_covering(presence, count, context.taxonomy.ids))
    images = Path(out) / "images"
    images.mkdir(parents=True, exist_ok=True)
    for shard in shards:
        table = read_shard(shard, ["seed", "image"])
        for seed, png in zip(table.column("seed").to_pylist(), table.column("image").to_pylist()):
            if seed in chosen:
                (images / f"{seed_stem(seed)}.png").write_bytes(png)
    write_guide(context, version, Path(out), sorted(chosen))
    return sorted(chosen)


def write_guide(context: DatasetContext, version: str, out: Path, seeds: list[int]) -> None:
    classes: list[dict[str, Any]] = [{"id": BACKGROUND_ID, "name": "background", "color": "#000000", "parent": None}]
    classes += [{"id": c.id, "name": c.name, "color": c.color, "parent": c.parent} for c in context.taxonomy.classes]
    guide = {
        "recipe": context.name,
        "version": version,
        "image_size": context.image_size,
        "ignore_id": IGNORE_ID,
        "classes": classes,
        "seeds": seeds,
    }
    (out / "guide.json").write_text(json.dumps(guide, indent=2) + "\n")
    # Pascal VOC / CVAT "Segmentation mask 1.1" label map: import it into a CVAT task to get these exact colours.
    lines = ["# label:color_rgb:parts:actions"]
    for c in classes:
        r, g, b = (int(c["color"][i : i + 2], 16) for i in (1, 3, 5))
        lines.append(f"{c['name']}:{r},{g},{b}::")
    (out / "labelmap.txt").write_text("\n".join(lines) + "\n")
    (out / "labelme-labels.txt").write_text("\n".join(c["name"] for c in classes) + "\n")  # labelme --labels FILE
    rows = "\n".join(f"| {c['id']} | {c['name']} | {c['color']} | {c['parent'] or ''} |" for c in classes)
    (out / "GUIDE.md").write_text(
        f"# Annotating {context.name} {version}\n\n"
        f"Label every pixel of each image in images/ ({context.image_size} x {context.image_size} px).\n"
        "Parts win over their whole: paint a wheel as wheel, not car. Unsure pixels: 255 (ignore).\n\n"
        "| id | name | colour | part of |\n|---|---|---|---|\n" + rows + "\n\n"
        "Hand back, named after the image (seed-000123.*), any of:\n"
        "- PNG index masks (one channel, value = class id);\n"
        "- LabelMe JSON (polygons/rectangles, labels = class names; `labelme images --labels labelme-labels.txt`);\n"
        "- a CVAT 'Segmentation mask 1.1' export (labelmap.txt + SegmentationClass/*.png).\n\n"
        f"Then: synth annotate import {context.name} DIR\n"
    )


# ---------------------------------------------------------------- import


@dataclass
class Parsed:
    seed: int
    mask: np.ndarray
    source: str


def _seed_of(stem: str) -> int | None:
    match = _SEED_STEM.match(stem)
    return int(match.group(1)) if match else None


def parse_index_png(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        if image.mode not in ("L", "P"):
            raise ValueError(
                f"PNG mode {image.mode}; expected a one-channel index mask (mode L or P) "
                "or a CVAT export with labelmap.txt"
            )
        return np.asarray(image).astype(np.uint8)


def parse_labelme(path: Path, names: dict[str, int]) -> tuple[np.ndarray, str | None]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("shapes"), list):
        raise ValueError("not a LabelMe file (no 'shapes' list)")
    height, width = data.get("imageHeight"), data.get("imageWidth")
    if not isinstance(height, int) or not isinstance(width, int):
        raise ValueError("LabelMe file without integer imageHeight/imageWidth")
    canvas = Image.new("L", (width, height), BACKGROUND_ID)
    draw = ImageDraw.Draw(canvas)
    for i, shape in enumerate(data["shapes"]):  # drawn in file order: later shapes cover earlier ones
        label = shape.get("label")
        if label not in names:
            raise ValueError(f"shapes[{i}]: unknown label {label!r} (known: {', '.join(sorted(names))})")
        points = [tuple(map(float, p)) for p in shape.get("points") or []]
        kind = shape.get("shape_type") or "polygon"
        if kind == "polygon" and len(points) >= 3:
            draw.polygon(points, fill=names[label])
        elif kind == "rectangle" and len(points) == 2:
            (x0, y0), (x1, y1) = points
            draw.rectangle([min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)], fill=names[label])
        else:
            raise ValueError(
                f"shapes[{i}]: shape_type {kind!r} with {len(points)} points is not a polygon or rectangle"
            )
    image_path = data.get("imagePath")
    return np.asarray(canvas), (Path(image_path).stem if isinstance(image_path, str) else None)


def parse_cvat_labelmap(path: Path) -> dict[tuple[int, int, int], str]:
    colours = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split(":")
        try:
            rgb = tuple(int(v) for v in parts[1].split(","))
            assert len(rgb) == 3
        except (IndexError, ValueError, AssertionError):
            raise UserError(f"{path}: line {number}: expected 'label:r,g,b:parts:actions'") from None
        colours[rgb] = parts[0]
    return colours


def parse_cvat_png(path: Path, colours: dict[tuple[int, int, int], int]) -> np.ndarray:
    with Image.open(path) as image:
        rgb = np.asarray(image.convert("RGB")).astype(np.int64)
    packed = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    mask = np.full(packed.shape, IGNORE_ID, np.uint8)
    known = np.zeros(packed.shape, bool)
    for (r, g, b), value in colours.items():
        hit = packed == ((r << 16) | (g << 8) | b)
        mask[hit] = value
        known |= hit
    if not known.all():
        bad = packed[~known][0]
        raise ValueError(
            f"{int((~known).sum())} pixels of colours not in labelmap.txt "
            f"(e.g. {bad >> 16},{(bad >> 8) & 255},{bad & 255})"
        )
    return mask


def parse_directory(context: DatasetContext, seeds: set[int], folder: Path) -> tuple[list[Parsed], list[str]]:
    """Every annotation file in ``folder`` parsed and checked; problems as 'file: what' lines."""
    names = {"background": BACKGROUND_ID, **{c.name: c.id for c in context.taxonomy.classes}}
    allowed = {BACKGROUND_ID, IGNORE_ID, *context.taxonomy.ids}
    size = (context.image_size, context.image_size)
    problems: list[str] = []
    parsed: list[Parsed] = []

    def check(path: Path, seed: int | None, mask: np.ndarray, source: str) -> None:
        if seed is None:
            problems.append(f"{path}: cannot tell the seed from the name; name it like seed-000123")
            return
        if seed not in seeds:
            problems.append(f"{path}: seed {seed} is not in recipe {context.name}'s seed ranges")
            return
        if mask.shape[:2] != size:
            problems.append(f"{path}: size {mask.shape[1]}x{mask.shape[0]} but the image is {size[1]}x{size[0]}")
            return
        unknown = sorted(set(np.unique(mask).tolist()) - allowed)
        if unknown:
            problems.append(
                f"{path}: class ids {unknown[:8]} not in the taxonomy (allowed: 0, {sorted(context.taxonomy.ids)}, 255)"
            )
            return
        parsed.append(Parsed(seed, mask, source))

    if not folder.is_dir():
        raise UserError(f"{folder}: no such directory")
    labelmap, cvat_dir = folder / "labelmap.txt", folder / "SegmentationClass"
    if labelmap.is_file() and cvat_dir.is_dir():
        colours = {}
        for rgb, label in parse_cvat_labelmap(labelmap).items():
            if label not in names:
                problems.append(f"{labelmap}: label {label!r} not in the taxonomy")
            else:
                colours[rgb] = names[label]
        for path in sorted(cvat_dir.glob("*.png")):
            try:
                mask = parse_cvat_png(path, colours)
            except (ValueError, OSError) as error:
                problems.append(f"{path}: {error}")
                continue
            check(path, _seed_of(path.stem), mask, f"cvat-mask-1.1:{path.name}")
    else:
        files = sorted(
            p for p in folder.iterdir() if p.is_file() and p.name not in SKIP_NAMES and not p.name.startswith(".")
        )
        for path in files:
            try:
                if path.suffix.lower() == ".png":
                    check(path, _seed_of(path.stem), parse_index_png(path), f"png:{path.name}")
                elif path.suffix.lower() == ".json":
                    mask, image_stem = parse_labelme(path, names)
                    seed = _seed_of(path.stem)
                    seed = seed if seed is not None else (_seed_of(image_stem) if image_stem else None)
                    check(path, seed, mask, f"labelme:{path.name}")
                else:
                    problems.append(f"{path}: not an annotation file (.png index mask or LabelMe .json)")
            except (ValueError, OSError, UnicodeDecodeError) as error:
                problems.append(f"{path}: {error}")
    by_seed: dict[int, str] = {}
    for item in parsed:
        if item.seed in by_seed:
            problems.append(
                f"{folder / item.source.split(':', 1)[1]}: seed {item.seed} also annotated by {by_seed[item.seed]}"
            )
        by_seed[item.seed] = item.source
    if not parsed and not problems:
        problems.append(
            f"{folder}: no annotation files (.png, LabelMe .json, or CVAT labelmap.txt + SegmentationClass/)"
        )
    return parsed, problems


def generated_images(root: Path, name: str, seeds: Collection[int]) -> dict[int, np.ndarray]:
    """Seed -> generated image, for those of ``seeds`` that ``data/NAME/samples`` holds."""
    from synth.store.codec import decode_png
    from synth.store.shards import list_shards, read_shard

    wanted, out = set(seeds), {}
    for shard in list_shards(DatasetPaths(Path(root), name).samples):
        table = read_shard(shard, ["seed", "image"])
        for seed, png in zip(table.column("seed").to_pylist(), table.column("image").to_pylist()):
            if seed in wanted:
                out[int(seed)] = decode_png(png)
    return out


def import_annotations(context: DatasetContext, seeds: set[int], root: Path, folder: Path) -> list[int]:
    """Check every file, then store all of them, or raise with one line per bad file and store nothing.

    Each entry records the digest of the image it annotates when the sample is generated already (the usual
    order: export, label, import), so a later generator change is caught before training."""
    from synth.store.codec import encode_png

    parsed, problems = parse_directory(context, seeds, Path(folder))
    if problems:
        raise UserError("\n".join(problems))
    images = generated_images(root, context.name, [item.seed for item in parsed])
    target = DatasetPaths(Path(root), context.name).annotations
    target.mkdir(parents=True, exist_ok=True)
    manifest = read_manifest(root, context.name)
    entries = {int(e["seed"]): e for e in manifest["annotations"]}
    for item in parsed:
        data = encode_png(item.mask.astype(np.uint8))
        name = f"{seed_stem(item.seed)}.png"
        write_bytes(target / name, data)
        entries[item.seed] = {
            "seed": item.seed,
            "file": name,
            "sha256": hashlib.sha256(data).hexdigest(),
            "source": item.source,
        }
        if item.seed in images:
            entries[item.seed]["image_sha256"] = image_digest(images[item.seed])
    manifest = {"format": MANIFEST_FORMAT, "recipe": context.name, "annotations": [entries[s] for s in sorted(entries)]}
    write_bytes(target / MANIFEST, (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode())
    return sorted(item.seed for item in parsed)
