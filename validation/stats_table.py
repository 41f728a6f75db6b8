"""The per-sample statistics table that validation, reports and reviews read: one row per seed.

Decode already stored the mask statistics in ``data/NAME/masks`` and synthesize the image statistics in
``data/NAME/samples``; this module only joins those columns (never the pixels) and adds what needs the whole
dataset at once: near-duplicates by perceptual hash, image/mask size agreement, unknown label ids.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from synth.core.paths import DatasetPaths
from synth.errors import UserError
from synth.recipe import Recipe
from synth.store.shards import list_shards, read_shard

MASK_STAT_COLUMNS = [
    "seed",
    "mask_height",
    "mask_width",
    "background_fraction",
    "ignore_fraction",
    "unknown_id_pixels",
    "empty",
    "class_fraction",
    "class_components",
    "class_min_component",
    "mean_confidence",
    "boundary_fscore",
    "boundary_precision",
    "labels_off_content",
]
IMAGE_STAT_COLUMNS = ["seed", "height", "width", "phash"]

# Per-class list columns of the masks shards -> the prefix of their one-column-per-class expansion.
PER_CLASS = {"class_fraction": "fraction", "class_components": "components", "class_min_component": "min_component"}


def class_column(stat: str, class_name: str) -> str:
    """``fraction__car``: one column per class and statistic, so expectations can name the class."""
    return f"{stat}__{class_name}"


def _read_columns(directory: Path, columns: list[str], what: str, stage: str, name: str) -> pa.Table:
    shards = list_shards(directory)
    if not shards:
        raise UserError(f"{directory}: no {what} shards; run `synth {stage} {name}` first")
    tables = []
    for path in shards:
        table = read_shard(path, columns)  # a damaged file becomes a one-line UserError naming it
        tables.append(table)
    try:
        return pa.concat_tables(tables)
    except pa.ArrowInvalid as error:
        raise UserError(
            f"{directory}: shards disagree on their columns ({error}); rerun `synth {stage} {name}`"
        ) from None


def load_stats_table(recipe: Recipe, root: Path = Path("."), duplicate_distance: int | None = None) -> pd.DataFrame:
    """Join the stored statistics of every sample into one DataFrame, one row per seed, sorted by seed.

    Columns: ``seed``, ``height``/``width`` (image), ``mask_height``/``mask_width``, ``ignore_fraction``,
    ``background_fraction``, ``unknown_id_pixels``, ``empty``, ``mean_confidence`` (NaN without a decoder
    confidence), per class ``fraction__C``, ``present__C`` (0/1), ``components__C``, ``min_component__C`` (NaN
    where the class is absent, so "smallest component" rules only look at samples that have the class), and the
    derived ``sizes_match``, ``unknown_ids`` and ``near_duplicate``.
    """
    paths = DatasetPaths(Path(root), recipe.name)
    masks = _read_columns(paths.masks, MASK_STAT_COLUMNS, "masks", "decode", recipe.name).to_pandas()
    images = _read_columns(paths.samples, IMAGE_STAT_COLUMNS, "samples", "synthesize", recipe.name).to_pandas()
    return stats_table(recipe, masks, images, paths.masks, paths.samples, "decode", duplicate_distance)


def load_variant_stats_table(recipe: Recipe, directory: Path, stage: str) -> pd.DataFrame:
    """The same table for a variant's shards (mixed, stylized: samples schema with the mask filled in).

    Variant shards store no mask statistics, so they are computed here from each mask, with the function decode
    uses (``synth.stats.mask_stats``): the suites then see exactly the columns they see for the base dataset.
    """
    from synth.agreement import agreement_stats
    from synth.stats import mask_stats
    from synth.store.codec import decode_png

    columns = _read_columns(directory, ["mask", "image", *IMAGE_STAT_COLUMNS], "variant", stage, recipe.name)
    class_ids = recipe.taxonomy.ids
    rows = []
    for seed, png, image in zip(
        columns.column("seed").to_pylist(), columns.column("mask").to_pylist(), columns.column("image").to_pylist()
    ):
        if png is None:
            raise UserError(f"{directory}: sample {seed} has no mask; rerun `synth {stage} {recipe.name}`")
        mask = decode_png(png)
        rows.append({"seed": seed, **mask_stats(mask, class_ids), **agreement_stats(decode_png(image), mask)})
    masks = pd.DataFrame(rows, columns=MASK_STAT_COLUMNS)
    images = columns.select(IMAGE_STAT_COLUMNS).to_pandas()
    return stats_table(recipe, masks, images, directory, directory, stage)


def stats_table(
    recipe: Recipe,
    masks: pd.DataFrame,
    images: pd.DataFrame,
    masks_dir: Path,
    images_dir: Path,
    stage: str,
    duplicate_distance: int | None = None,
) -> pd.DataFrame:
    """Join mask statistics and image statistics (one row per seed each) into the table the suites read."""
    for frame, directory in ((masks, masks_dir), (images, images_dir)):
        repeated = frame["seed"][frame["seed"].duplicated()]
        if len(repeated):
            raise UserError(
                f"{directory}: seed {int(repeated.iloc[0])} is stored in more than one row; rerun the stage"
            )
    missing = sorted(set(images["seed"]) ^ set(masks["seed"]))
    if missing:
        raise UserError(
            f"{masks_dir}: masks and samples disagree on {len(missing)} seeds (first: {missing[0]}); "
            f"rerun `synth {stage} {recipe.name}`"
        )

    names = [c.name for c in recipe.taxonomy.classes]
    width = len(names)
    for column in PER_CLASS:
        lengths = masks[column].map(len)
        if (lengths != width).any():
            raise UserError(
                f"{masks_dir}: {column} has {int(lengths[lengths != width].iloc[0])} entries, the taxonomy has "
                f"{width} classes; rerun `synth {stage} {recipe.name}`"
            )

    table = masks.drop(columns=list(PER_CLASS)).merge(images, on="seed", how="inner").sort_values("seed")
    table = table.reset_index(drop=True)
    order = masks.set_index("seed").loc[table["seed"]]
    expanded = {}
    for column, stat in PER_CLASS.items():
        values = np.asarray(order[column].tolist(), dtype=np.float64).reshape(len(table), width)
        for i, name in enumerate(names):
            expanded[class_column(stat, name)] = values[:, i]
    for name in names:
        fraction = expanded[class_column("fraction", name)]
        present = fraction > 0
        expanded[class_column("present", name)] = present.astype(np.float64)
        expanded[class_column("components", name)] = expanded[class_column("components", name)].astype(np.int64)
        expanded[class_column("min_component", name)] = np.where(
            present, expanded[class_column("min_component", name)], np.nan
        )
    table = pd.concat([table, pd.DataFrame(expanded)], axis=1)

    table["mean_confidence"] = table["mean_confidence"].astype(np.float64)
    for column in ("boundary_fscore", "boundary_precision", "labels_off_content"):
        table[column] = table[column].astype(np.float64)
    table["ignore_fraction"] = table["ignore_fraction"].astype(np.float64)
    table["background_fraction"] = table["background_fraction"].astype(np.float64)
    table["empty"] = table["empty"].astype(bool)
    table["sizes_match"] = (table["height"] == table["mask_height"]) & (table["width"] == table["mask_width"])
    table["unknown_ids"] = table["unknown_id_pixels"] > 0
    distance = recipe.validation.duplicate_max_distance if duplicate_distance is None else duplicate_distance
    table["near_duplicate"] = near_duplicates(phash_array(table["phash"]), distance)
    return table


def phash_array(hashes) -> np.ndarray:
    """Hex pHash strings -> uint64, the form bit arithmetic wants."""
    try:
        return np.array([int(h, 16) for h in hashes], dtype=np.uint64)
    except (TypeError, ValueError) as error:
        raise UserError(f"samples shards: invalid perceptual hash ({error}); rerun synthesize") from None


def _popcount(values: np.ndarray) -> np.ndarray:
    return np.bitwise_count(values)


def near_duplicates(hashes: np.ndarray, max_distance: int, block: int = 1024) -> np.ndarray:
    """Flag every hash within ``max_distance`` bits (Hamming) of some *other* hash.

    Pigeonhole: split the 64 bits into ``max_distance + 1`` bands; two hashes at distance <= d agree exactly on at
    least one band. So only hashes sharing a band value are compared, bit-counted with numpy, which keeps 10k
    hashes to a few milliseconds instead of 50M Python comparisons. Exact copies are found by ``np.unique``.
    """
    hashes = np.asarray(hashes, dtype=np.uint64)
    flags = np.zeros(len(hashes), dtype=bool)
    if len(hashes) < 2:
        return flags
    unique, inverse, counts = np.unique(hashes, return_inverse=True, return_counts=True)
    near = counts > 1
    if max_distance > 0 and len(unique) > 1:
        if max_distance >= 64:
            near[:] = True
        else:
            edges = np.linspace(0, 64, max_distance + 2).astype(np.uint64)
            for lo, hi in zip(edges[:-1], edges[1:]):
                key = (unique >> lo) & np.uint64((1 << int(hi - lo)) - 1)
                order = np.argsort(key, kind="stable")
                sorted_key = key[order]
                starts = np.flatnonzero(np.r_[True, sorted_key[1:] != sorted_key[:-1]])
                ends = np.r_[starts[1:], len(order)]
                for start, end in zip(starts[ends - starts > 1], ends[ends - starts > 1]):
                    members = order[start:end]
                    near[members[_has_close(unique[members], max_distance, block)]] = True
    flags = near[inverse]
    return flags


def _has_close(group: np.ndarray, max_distance: int, block: int) -> np.ndarray:
    """Which members of a group of distinct hashes have another member within ``max_distance`` bits."""
    out = np.zeros(len(group), dtype=bool)
    for start in range(0, len(group), block):
        rows = group[start : start + block]
        distance = _popcount(rows[:, None] ^ group[None, :])
        # distinct hashes are never at distance 0 from each other, so 0 marks each row's own column
        out[start : start + len(rows)] = ((distance > 0) & (distance <= max_distance)).any(axis=1)
    return out


def class_summary(table: pd.DataFrame, recipe: Recipe) -> pd.DataFrame:
    """One row per class: presence share, pixel share, the share among classes, and the recipe's target share."""
    classes = recipe.taxonomy.classes
    weights = np.array([c.weight for c in classes], dtype=np.float64)
    pixel = np.array([table[class_column("fraction", c.name)].mean() if len(table) else 0.0 for c in classes])
    presence = np.array([table[class_column("present", c.name)].mean() if len(table) else 0.0 for c in classes])
    total = pixel.sum()
    frequency = pixel / total if total > 0 else np.zeros_like(pixel)
    return pd.DataFrame(
        {
            "class_name": [c.name for c in classes],
            "class_id": [c.id for c in classes],
            "presence": presence,
            "pixel_share": pixel,
            "frequency": frequency,
            "target": weights / weights.sum(),
        }
    )


def kl_divergence(observed: np.ndarray, target: np.ndarray) -> float:
    """KL(observed || target) in nats; 0 * log 0 = 0, and target shares are always positive (weights > 0)."""
    observed = np.asarray(observed, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if observed.sum() <= 0:
        return float("inf")
    mask = observed > 0
    return float(np.sum(observed[mask] * np.log(observed[mask] / target[mask])))
