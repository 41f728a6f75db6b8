"""Rows of a built dataset, one split file at a time, with the pixels each format needs decoded on demand."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from PIL import Image

from synth.errors import UserError
from synth.recipe import Recipe
from synth.splits import SPLIT_NAMES
from synth.store.codec import decode_png


@dataclass
class BuiltRow:
    split: str
    seed: int
    prompt: str
    image_bytes: bytes
    image_name: str  # "00000003.jpg": the build's own file name, whose suffix says how the bytes are encoded
    mask_bytes: bytes
    instances_bytes: bytes | None = None  # the build's ``instances`` column, where the generator knew its objects

    @property
    def stem(self) -> str:
        return f"{self.seed:08d}"

    @property
    def suffix(self) -> str:
        return Path(self.image_name).suffix.lower() or ".png"

    def mask(self) -> np.ndarray:
        return decode_png(self.mask_bytes)

    def instances(self) -> np.ndarray | None:
        """Which object each pixel shows (0: none), or None when the build has no ``instances`` column."""
        return None if self.instances_bytes is None else decode_png(self.instances_bytes)

    def image(self) -> Image.Image:
        with Image.open(io.BytesIO(self.image_bytes)) as image:
            return image.convert("RGB")


@dataclass
class BuiltDataset:
    recipe: Recipe
    folder: Path
    files: dict[str, list[Path]]  # split -> its Parquet files

    @cached_property
    def has_instances(self) -> bool:
        """Whether the build holds instance maps (every file of a build has the same columns)."""
        first = next(path for files in self.files.values() for path in files)
        try:
            return "instances" in pq.read_schema(first).names
        except Exception as error:
            raise UserError(
                f"{first}: unreadable build file ({error}); rerun `synth build {self.recipe.name}`"
            ) from None

    def rows(self, split: str) -> Iterator[BuiltRow]:
        columns = ["image", "mask", "seed", "prompt", *(["instances"] if self.has_instances else [])]
        for path in self.files[split]:
            try:
                table = pq.read_table(path, columns=columns)
            except Exception as error:
                raise UserError(
                    f"{path}: unreadable build file ({error}); rerun `synth build {self.recipe.name}`"
                ) from None
            for r in table.to_pylist():
                if r["mask"] is None or r["image"] is None:
                    raise UserError(
                        f"{path}: seed {r['seed']} has no image or mask; rerun `synth build {self.recipe.name}`"
                    )
                instances = r.get("instances")
                yield BuiltRow(
                    split,
                    r["seed"],
                    r["prompt"],
                    r["image"]["bytes"],
                    r["image"]["path"] or "",
                    r["mask"]["bytes"],
                    None if instances is None else instances["bytes"],
                )

    @property
    def splits(self) -> list[str]:
        return [s for s in SPLIT_NAMES if self.files.get(s)]


def built_configs(folder: Path) -> list[str]:
    """The dataset configs of a build: ``default`` (``data/``) and each variant folder (``mixed/``, ...)."""
    found = ["default"] if (folder / "data").is_dir() else []
    return found + sorted(
        p.name for p in folder.iterdir() if p.is_dir() and p.name != "data" and any(p.glob("*.parquet"))
    )


def first_missing_step(recipe: Recipe, folder: Path) -> str:
    """Advice that runs: the first pipeline command whose output is missing (``synth build`` alone fails when
    nothing was synthesized; a recipe that needs model weights then says so itself)."""
    from synth.core.paths import DatasetPaths

    paths = DatasetPaths(folder.parent.parent, recipe.name)
    steps = [
        (paths.samples, "synthesize"),
        (paths.masks, "decode"),
        (paths.validation, "validate"),
    ]
    for path, command in steps:
        if not (path.is_dir() and any(path.glob("*.parquet"))) and not path.is_file():
            return f"{path} is missing: run `synth {command} {recipe.name}` and the stages after it, up to build"
    return f"run `synth build {recipe.name}` first"


def open_build(recipe: Recipe, folder: Path, config: str = "default") -> BuiltDataset:
    data = folder / ("data" if config == "default" else config)
    if not (folder / "data").is_dir():
        raise UserError(f"{folder}: not built; {first_missing_step(recipe, folder)}")
    if config not in built_configs(folder):
        raise UserError(f"--config {config}: {folder} has no such config; it has {', '.join(built_configs(folder))}")
    files: dict[str, list[Path]] = {}
    for path in sorted(data.glob("*.parquet")):
        files.setdefault(path.name.split("-")[0], []).append(path)
    if not files:
        raise UserError(f"{data}: no split files; rerun `synth build {recipe.name}`")
    try:
        id2label = json.loads((folder / "id2label.json").read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise UserError(
            f"{folder / 'id2label.json'}: unreadable ({error}); rerun `synth build {recipe.name}`"
        ) from None
    if {int(k): v for k, v in id2label.items()} != recipe.taxonomy.id2label():
        raise UserError(
            f"{folder}: built from a different taxonomy than recipes/{recipe.name}.yaml; "
            f"rerun `synth build {recipe.name}`"
        )
    return BuiltDataset(recipe, folder, files)
