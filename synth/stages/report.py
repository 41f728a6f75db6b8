"""The report stage: validation results, lineage, class statistics and chosen samples -> ``reports/NAME/report/``.

``index.html`` and the PNGs it shows (``img/``) are written to a staging folder and swapped in by rename, so a
failed run leaves the previous report. The page has no timestamp: the same inputs give the same bytes. Each PNG
is named by a hash of its pixels, so a re-run links the previous page's unchanged images instead of encoding them
(DVC persists the folder for that; the swap still leaves nothing stale).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
from PIL import Image

from synth import __version__
from synth.card.lineage import model_revision
from synth.core.atomic import link_or_copy, publish_folder
from synth.core.palette import palette_bytes, palette_rgb
from synth.core.paths import DatasetPaths
from synth.errors import UserError
from synth.recipe import Recipe, recipe_hash
from synth.report import charts, page
from synth.report.label_checks import likely_wrong_html, score_notes, worst_seeds
from synth.report.samples import (
    SampleView,
    class_examples,
    evenly_spaced,
    least_confident,
    load_views,
    sample_index,
)
from synth.store.exclusions import read_build_exclusions
from validation.outcome import absent_line

GALLERY = 8
PER_CLASS = 4
PER_FAILURE = 4
MAX_FAILING = 24
UNCERTAIN = 8
EXCLUDED_SHOWN = 12
RENDER_FORMAT = 1  # bump when the same pixels would be drawn or encoded differently: no old PNG is reused then


def _read_json(path: Path, what: str, rerun: str) -> dict | None:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise UserError(f"{path}: not valid JSON ({error}); rerun `{rerun}`") from None


def _lineage(recipe: Recipe, paths: DatasetPaths) -> list[tuple[str, object]]:
    built = _read_json(paths.build / "lineage.json", "lineage", f"synth build {recipe.name}")
    if built is None:
        gen = recipe.generator.provenance()
        return [
            ("version", recipe.version),
            ("recipe hash", recipe_hash(recipe)),
            ("build", "not built yet"),
            ("generator", gen.get("generator")),
            ("model", gen.get("model")),
            ("model revision", model_revision(gen)),
        ]
    gen = built.get("generator", {})
    return [
        ("version", built.get("version")),
        ("recipe hash", built.get("recipe_hash")),
        ("git commit", built.get("git_commit")),
        ("content hash", built.get("content_hash")),
        ("generator", gen.get("generator")),
        ("model", gen.get("model")),
        ("model revision", model_revision(gen)),
        ("generator settings hash", gen.get("settings_hash")),
        ("decoder", built.get("decoder")),
        ("synth-datasets", built.get("synth_version")),
        ("splits", built.get("splits")),
        ("hub repo", recipe.hub_repo or "none"),
    ]


def _write_images(view: SampleView, lut: np.ndarray, palette: bytes, folder: Path, previous: Path) -> dict[str, str]:
    """The sample's PNGs, each named by a hash of its pixels: one the previous page already has is linked, not
    encoded again (encoding was most of a re-run: a change of a few samples re-encodes only theirs)."""
    stem = f"{view.seed:08d}"
    colours = lut[view.mask]
    labeled = (view.mask != 0)[..., None]
    overlay = np.where(labeled, 0.45 * view.image + 0.55 * colours, view.image).astype(np.uint8)
    arrays = {"image": (view.image, None), "overlay": (overlay, None), "mask": (view.mask, palette)}
    if view.confidence is not None:
        arrays["confidence"] = (np.clip(np.rint(view.confidence * 255), 0, 255).astype(np.uint8), None)
    out = {}
    for kind, (pixels, colour_table) in arrays.items():
        name = f"img/{stem}-{kind}-{_pixels_hash(pixels, colour_table)}.png"
        if not _link_previous(previous / name, folder / name):
            image = Image.fromarray(pixels)
            if colour_table is not None:
                image.putpalette(colour_table)  # the same palette PNG the dataset stores: the browser shows colours
            image.save(folder / name, format="PNG", compress_level=6)
        out[kind] = name
    return out


def _pixels_hash(pixels: np.ndarray, palette: bytes | None) -> str:
    digest = hashlib.sha256(f"{RENDER_FORMAT}{pixels.dtype.str}{pixels.shape}".encode())
    digest.update(np.ascontiguousarray(pixels).tobytes())
    digest.update(palette or b"")
    return digest.hexdigest()[:12]


def _link_previous(source: Path, target: Path) -> bool:
    """Hard-link (or copy) a file the previous page rendered from the same pixels; False when it has none."""
    if not source.is_file():
        return False
    link_or_copy(source, target)
    return True


def _exclusion_rule(paths: DatasetPaths) -> str:
    """The decoder's own words for why it excluded samples (DatasetGAN writes its rule next to the list)."""
    listing = _read_json(paths.excluded, "exclusions", f"synth decode {paths.name}") or {}
    return str(listing.get("rule") or "the decoder's exclusion rule")


def _class_charts(recipe: Recipe, classes: list[dict]) -> list[str]:
    def rows(key: str) -> list:
        return [(c["name"], c["color"], [c[key]]) for c in classes]

    return [
        charts.bar_chart(
            "Class pixel frequency vs target weight",
            [(c["name"], c["color"], [c["frequency"], c["target"]]) for c in classes],
            [("observed frequency", ""), ("target (recipe weight)", "#bbbbbb")],
        ),
        charts.bar_chart("Pixel share of images", rows("pixel_share"), [("mean share of pixels", "")], fmt="{:.4f}"),
        charts.bar_chart(
            "Presence: share of samples with the class",
            rows("presence"),
            [("presence", "")],
            scale_max=1.0,
            marker=(recipe.validation.min_class_presence, f"min {recipe.validation.min_class_presence:g}"),
        ),
    ]


def report(recipe: Recipe, root: Path = Path(".")) -> Path:
    """Write ``reports/NAME/report/index.html``; needs decoded shards and ``synth validate`` results."""
    root = Path(root)
    paths = DatasetPaths(root, recipe.name)
    validation = _read_json(paths.validation, "validation", f"synth validate {recipe.name}")
    if validation is None:
        raise UserError(f"{paths.validation}: no validation results; run `synth validate {recipe.name}` first")
    details = _read_json(paths.validation_details, "details", f"synth validate {recipe.name}") or {}
    evaluate = _read_json(paths.evaluation, "evaluate", f"synth evaluate {recipe.name}")

    pairs, rows = sample_index(recipe, root)
    excluded = read_build_exclusions(paths)
    known = {r.seed for r in rows}
    stats = validation.get("classes", {})
    classes = [
        {
            "id": c.id,
            "name": c.name,
            "color": c.color,
            "parent": c.parent,
            "weight": c.weight,
            **{k: float(stats.get(c.name, {}).get(k, 0.0)) for k in ("presence", "pixel_share", "frequency", "target")},
        }
        for c in recipe.taxonomy.classes
    ]
    failures = list(details.get("failures", []))
    failing: list[int] = []
    for f in failures:
        seeds = [e["seed"] for e in f.get("examples", []) if isinstance(e.get("seed"), int) and e["seed"] in known]
        failing += [s for s in seeds[:PER_FAILURE] if s not in failing]
    failing = failing[:MAX_FAILING]
    # What the dataset looks like is what it ships: left-out samples have their own section, never the gallery's.
    shipped = [r for r in rows if r.seed not in excluded]
    gallery = evenly_spaced(sorted(r.seed for r in shipped), GALLERY)
    per_class = class_examples(recipe, shipped, PER_CLASS)
    uncertain, ranked_by = least_confident(shipped, UNCERTAIN)
    excluded_shown = sorted(excluded)[:EXCLUDED_SHOWN]
    notes = score_notes(paths)  # the label checks' scores, shown beside every sample
    likely_wrong = [s for s in worst_seeds(details) if s in known]
    wanted = (
        set(gallery)
        | set(failing)
        | set(uncertain)
        | set(excluded_shown)
        | set(likely_wrong)
        | {s for v in per_class.values() for s in v}
    )
    views = load_views(pairs, rows, wanted)

    with publish_folder(paths.report) as staging:
        (staging / "img").mkdir()
        lut, palette = palette_rgb(recipe.taxonomy), palette_bytes(recipe.taxonomy)
        files = {seed: _write_images(view, lut, palette, staging, paths.report) for seed, view in sorted(views.items())}
        by_seed = {r.seed: r for r in rows}

        def card(seed: int, note: str = "") -> dict:
            scores = notes.get(seed, "")
            note = f"{note} · {scores}" if note and scores else note or scores
            return {"seed": seed, "prompt": views[seed].prompt, "files": files[seed], "note": note}

        def confidence_note(seed: int) -> str:
            r = by_seed[seed]
            if r.uncertainty is not None:
                return f"uncertainty {r.uncertainty:.4f}"
            return "" if r.mean_confidence is None else f"mean confidence {r.mean_confidence:.3f}"

        ctx = {
            "name": recipe.name,
            "version": recipe.version,
            "description": recipe.description.strip(),
            "generator": recipe.generator.type,
            "decoder": recipe.decode.type,
            "synth_version": __version__,
            "validation": validation,
            "lineage": _lineage(recipe, paths),
            "classes": classes,
            "charts": _class_charts(recipe, classes),
            "failures": failures,
            "absent": [absent_line(a, validation.get("samples", 0)) for a in details.get("absent_classes", [])],
            "class_anchor": {c.name: f"class-{c.id}" for c in recipe.taxonomy.classes},
            "failing_seeds": set(failing),
            "failing": [card(s) for s in failing],
            "gallery": [card(s) for s in gallery],
            "per_class": [
                {"id": c.id, "name": c.name, "color": c.color, "cards": [card(s) for s in per_class[c.id]]}
                for c in recipe.taxonomy.classes
            ],
            "has_confidence": any(r.mean_confidence is not None for r in rows),
            "uncertain": {"by": ranked_by, "cards": [card(s, confidence_note(s)) for s in uncertain]},
            "excluded": {
                "count": len(excluded),
                "rule": _exclusion_rule(paths),
                "cards": [card(s, excluded[s]) for s in excluded_shown if s in views],
            },
            "evaluate": evaluate,
            "likely_wrong": likely_wrong_html(details, [card(s) for s in likely_wrong], page.gallery),
        }
        (staging / "index.html").write_text(page.render(ctx), encoding="utf-8")
        _icon(lut, staging / "icon.png")
    return paths.report / "index.html"


def _icon(lut: np.ndarray, path: Path) -> None:
    """A favicon beside the page (the first four class colours): the browser asks for a file here, nothing else."""
    cells = np.array([[1, 2], [3, 4]], dtype=np.uint8).repeat(8, 0).repeat(8, 1)
    Image.fromarray(lut[cells]).save(path, format="PNG")
