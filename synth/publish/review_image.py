"""The picture of a review: the same seeds before and after, side by side in one image (``reports/NAME/review.png``).

The head's data is the working tree's ``data/NAME``. The base's comes from a folder that holds it (``--base-root``: a
checkout of the base with its data, as the pull-request workflow builds) or else from DVC at the base revision:
only the shards that hold the chosen seeds are read, from the local DVC cache or, when they are not there, from the
DVC remote, so a reviewer needs no checkout. When neither has them the review says so in one line.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

from synth.core.atomic import write_atomic
from synth.core.paths import DatasetPaths
from synth.errors import UserError
from synth.recipe import Recipe
from synth.store.shards import list_shards, parse_name, read_shard

GAP = 16
HEADER = 24
BACKGROUND = (24, 24, 24)
COUNT = 6


@dataclass
class Panel:
    """One half of the picture: a contact sheet, or why there is none."""

    title: str
    sheet: Image.Image | None = None
    missing: str | None = None


def held_seeds(root: Path, name: str) -> set[int] | None:
    """The seeds whose samples and masks ``root/data/NAME`` holds, or None when it holds none."""
    paths = DatasetPaths(Path(root), name)
    samples, masks = list_shards(paths.samples), list_shards(paths.masks)
    if not samples or not masks:
        return None
    seeds: set[int] = set()
    for path in samples:
        seeds.update(read_shard(path, ["seed"]).column("seed").to_pylist())
    return seeds


def fetch_from_dvc(root: Path, rev: str, name: str, samples_per_shard: int, seeds: list[int], dest: Path) -> str | None:
    """Copy the base's shards that hold ``seeds`` into ``dest/data/NAME`` through DVC at ``rev``.

    Returns None when done, else one line saying why not and how to get the data.
    """
    from dvc.api import DVCFileSystem
    from dvc.exceptions import DvcException
    from dvc_data.index import DataIndexError

    wanted = {seed // samples_per_shard for seed in seeds}
    how = (
        f"check out `{rev}` and `dvc pull data/{name}` (or `dvc push` it where it was built), or pass "
        f"`--base-root` a checkout of `{rev}` with its data"
    )
    try:
        fs = DVCFileSystem(str(root), rev=rev)
        for part in ("samples", "masks"):
            folder = f"data/{name}/{part}"
            if not fs.isdir(folder):
                return f"the data of `{name}` at `{rev}` is not tracked by its `dvc.lock`: {how}"
            target = dest / "data" / name / part
            target.mkdir(parents=True, exist_ok=True)
            for entry in fs.ls(folder, detail=False):
                parsed = parse_name(Path(entry))
                if parsed is not None and parsed[0] in wanted:
                    fs.get_file(entry, str(target / Path(entry).name))
    except (OSError, DvcException, DataIndexError) as error:  # a missing file, directory manifest or remote
        reason = str(error).strip().splitlines()[0] if str(error).strip() else error.__class__.__name__
        return (
            f"the data of `{name}` at `{rev}` is neither in the DVC cache nor on a reachable remote ({reason}): {how}"
        )
    return None


def _missing_panel(panel: Panel, width: int, height: int) -> Image.Image:
    image = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    words, line, y = (panel.missing or "").split(), "", 8
    for word in words:  # wrap the reason to the panel's width
        if draw.textlength(f"{line} {word}") > width - 16 and line:
            draw.text((8, y), line, fill=(230, 160, 60))
            line, y = word, y + 14
        else:
            line = f"{line} {word}".strip()
    draw.text((8, y), line, fill=(230, 160, 60))
    return image


def side_by_side(left: Panel, right: Panel) -> Image.Image:
    """Both panels in one image under their titles; a missing panel is the reason, written where it would be."""
    sheets = [p.sheet for p in (left, right) if p.sheet is not None]
    width = max((s.width for s in sheets), default=480)
    height = max((s.height for s in sheets), default=200)
    halves = [p.sheet if p.sheet is not None else _missing_panel(p, width, height) for p in (left, right)]
    canvas = Image.new("RGB", (2 * width + GAP, HEADER + height), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    for index, (panel, half) in enumerate(zip((left, right), halves)):
        x = index * (width + GAP)
        draw.text((x + 4, 6), panel.title, fill=(240, 240, 240))
        canvas.paste(half, (x, HEADER))
    return canvas


def choose_seeds(before: set[int] | None, after: set[int] | None, count: int = COUNT) -> tuple[list[int], str | None]:
    """The same seeds on both sides where they share any; else each side's own, with a note saying so."""
    from synth.report.contact_sheet import pick_seeds

    if before and after:
        common = sorted(before & after)
        if common:
            return pick_seeds(common, count), None
        return (
            pick_seeds(sorted(before), count) + pick_seeds(sorted(after), count),
            "the two versions share no seed (the seed ranges moved): each side shows its own first seeds",
        )
    return pick_seeds(sorted(before or after or []), count), None


def render(recipe: Recipe, root: Path, seeds: list[int]) -> Image.Image:
    from synth.report.contact_sheet import contact_sheet

    return contact_sheet(recipe, root, seeds=seeds)


def review_image(
    root: Path,
    name: str,
    base_rev: str,
    base_recipe: Recipe | None,
    head_recipe: Recipe | None,
    base_root: Path | None = None,
    count: int = COUNT,
) -> tuple[Path | None, list[str]]:
    """Write ``reports/NAME/review.png``; returns its path (None when neither side has data) and note lines."""
    notes: list[str] = []
    from synth.publish.review_sides import short_rev

    left, right = Panel(f"before: {short_rev(root, base_rev)}"), Panel("after: this branch")
    after_seeds = held_seeds(root, name) if head_recipe is not None else None
    if head_recipe is None:
        right.missing = "the recipe is removed in this change"
    elif after_seeds is None:
        right.missing = f"no data in data/{name}: run `dvc repro` (or `dvc pull`)"
    with tempfile.TemporaryDirectory(prefix="synth-review-") as scratch:
        base_data = Path(base_root) if base_root is not None else Path(scratch)
        before_seeds = None
        if base_recipe is None:
            left.missing = f"`{name}` is new in this change: the base has no data"
        elif base_root is not None:
            before_seeds = held_seeds(base_data, name)
            if before_seeds is None:
                left.missing = f"no data in {base_data / 'data' / name}: build or `dvc pull` it there"
        else:
            before_seeds = set(base_recipe.all_seeds())  # what the base's data holds; fetched below
        seeds, note = choose_seeds(before_seeds, after_seeds, count)
        if note:
            notes.append(note)
        if base_recipe is not None and base_root is None and before_seeds:
            wanted = [s for s in seeds if s in before_seeds]
            left.missing = fetch_from_dvc(root, base_rev, name, base_recipe.samples_per_shard, wanted, base_data)
        try:
            if left.missing is None and base_recipe is not None:
                left.sheet = render(base_recipe, base_data, seeds)
            if right.missing is None and head_recipe is not None:
                right.sheet = render(head_recipe, root, seeds)
        except UserError as error:
            notes.append(f"preview: {error}")
            return None, notes
    notes += [f"{label}: {panel.missing}" for label, panel in (("before", left), ("after", right)) if panel.missing]
    if left.sheet is None and right.sheet is None:
        return None, notes
    out = DatasetPaths(Path(root), name).reports / "review.png"
    sheet = side_by_side(left, right)
    write_atomic(out, lambda tmp: sheet.save(tmp, format="PNG"))
    return out, [f"seeds {', '.join(map(str, sorted(seeds)))}", *notes]
