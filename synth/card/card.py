"""The dataset card (``README.md``): YAML metadata the Hub indexes, and a body a person reads."""

from __future__ import annotations

from collections.abc import Collection

import yaml

from synth.card.lineage import model_revision
from synth.recipe import Recipe
from validation.outcome import verdict as verdict_of

PREVIEW = "preview.png"  # a few samples (image | overlay | mask) inside the build, shown by the card
OPTIONAL_COLUMNS = ("confidence", "instances")  # image columns only some builds have, in their column order

SIZE_CATEGORIES = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")]


def size_category(n: int) -> str:
    for bound, label in SIZE_CATEGORIES:
        if n < bound:
            return label
    return "1M<n<10M"


def card_metadata(
    recipe: Recipe,
    split_counts: dict[str, int],
    split_bytes: dict[str, int],
    optional: Collection[str] = (),
    variants: dict | None = None,
    trained_on: list[str] | None = None,
) -> dict:
    """The card's YAML. ``optional``: which of ``OPTIONAL_COLUMNS`` the default config has. ``variants`` (lineage
    ``variants``) adds one config per variant (``mixed/``, ...) and makes ``dataset_info`` a list with one entry
    per config, as the Hub's card spec has it for several configs; variants have none of the optional columns."""
    features = [
        {"name": "image", "dtype": "image"},
        {"name": "mask", "dtype": "image"},
        *({"name": name, "dtype": "image"} for name in OPTIONAL_COLUMNS if name in optional),
        {"name": "seed", "dtype": "int64"},
        {"name": "prompt", "dtype": "string"},
    ]
    splits = [s for s, n in split_counts.items() if n]
    info = {
        "features": features,
        "splits": [{"name": s, "num_bytes": split_bytes[s], "num_examples": split_counts[s]} for s in splits],
        "dataset_size": sum(split_bytes[s] for s in splits),
    }
    configs = [{"config_name": "default", "data_files": [{"split": s, "path": f"data/{s}-*.parquet"} for s in splits]}]
    infos = [{"config_name": "default", **info}]
    for variant, made in (variants or {}).items():
        counts, sizes = made["splits"], made["split_bytes"]
        configs.append(
            {"config_name": variant, "data_files": [{"split": s, "path": f"{variant}/{s}-*.parquet"} for s in counts]}
        )
        infos.append(
            {
                "config_name": variant,
                "features": [dict(f) for f in features if f["name"] not in OPTIONAL_COLUMNS],  # copies: no YAML aliases
                "splits": [{"name": s, "num_bytes": sizes[s], "num_examples": n} for s, n in counts.items()],
                "dataset_size": sum(sizes.values()),
            }
        )
    total = sum(split_counts.values()) + sum(sum(m["splits"].values()) for m in (variants or {}).values())
    return {
        "license": recipe.license,
        "pretty_name": recipe.name,
        "task_categories": ["image-segmentation"],
        "task_ids": ["semantic-segmentation"],
        "annotations_creators": ["machine-generated"],
        # New images, unless the generator was trained on a dataset (its model card's `datasets:`): then they
        # derive from it, in the Hub's `extended|NAME` form.
        "source_datasets": [f"extended|{d}" for d in trained_on] if trained_on else ["original"],
        "size_categories": [size_category(total)],
        "tags": ["synthetic", f"generator:{recipe.generator.type}", f"decoder:{recipe.decode.type}"],
        "configs": configs,
        "dataset_info": infos if variants else info,
    }


def render_card(
    recipe: Recipe,
    lineage: dict,
    split_counts: dict[str, int],
    split_bytes: dict[str, int],
    optional: Collection[str] = (),
    usefulness: dict | None = None,
    preview: bool = False,
) -> str:
    """``optional``: which of ``OPTIONAL_COLUMNS`` the build has; ``usefulness``: the evaluate stage's scores
    (``{}`` when the recipe is not scored); ``preview``: the build holds ``preview.png``."""
    variants = lineage.get("variants", {})
    generator = lineage["generator"]
    meta = yaml.safe_dump(
        card_metadata(recipe, split_counts, split_bytes, optional, variants, generator.get("trained_on")),
        sort_keys=False,
        allow_unicode=True,
    )
    validation = lineage["validation"]
    scores = usefulness or {}
    rows = "\n".join(
        f"| {c.id} | {c.name} | `{c.color}` | {c.phrase} | {c.parent or ''} | {c.weight:g} |"
        for c in recipe.taxonomy.classes
    )
    said = verdict_of(bool(validation.get("success")), validation.get("expectations", {}))
    verdict = said if validation.get("success") else f"**{said} — this build is unvalidated**"
    load_id = recipe.hub_repo or f"<org>/{recipe.name}"
    settings = yaml.safe_dump(recipe.generator.model_dump(mode="json"), sort_keys=True).strip()
    decode = yaml.safe_dump(recipe.decode.model_dump(mode="json"), sort_keys=True).strip()
    splits = ", ".join(f"{s}: {n}" for s, n in split_counts.items())
    dropped = lineage.get("excluded", [])
    excluded = (
        f"\n## Excluded samples\n\n{len(dropped)} generated samples are not in this dataset: "
        f"{_exclusion_counts(dropped)} (seeds and reasons in `lineage.json`): "
        + ", ".join(f"{e['seed']} ({e['reason']})" for e in dropped[:50])
        + (" ..." if len(dropped) > 50 else "")
        + "\n"
        if dropped
        else ""
    )
    thresholds = yaml.safe_dump(recipe.validation.model_dump(mode="json"), sort_keys=True).strip()
    classes = validation.get("classes", {})
    presence = "\n".join(
        f"| {name} | {v.get('presence', 0):.3f} | {v.get('pixel_share', 0):.4f} | {v.get('target', 0):.3f} |"
        for name, v in classes.items()
    )
    return f"""---
{meta}---

# {recipe.name}

{recipe.description.strip() or "A synthetic semantic-segmentation dataset."}

Machine-generated: images by `{generator["generator"]}`, masks by the `{recipe.decode.type}` decoder, built by
synth-datasets from the recipe `recipes/{recipe.name}.yaml`. No pixel was labeled by hand.
{"" if not preview else chr(10) + f"![samples: image, overlay, mask]({PREVIEW})" + chr(10)}
```python
from datasets import load_dataset

ds = load_dataset("{load_id}", revision="v{recipe.version}")
```

## Columns

{columns_section(recipe, optional)}

## Labels

Masks are single-channel palette ("P" mode) PNGs: the pixel value is the class id below, `0` is background and
`255` is ignore (pixels the decoder was not confident about); `np.asarray(row["mask"])` gives the ids.
`id2label.json` maps ids to names, `0: background` included. The PNG palette is the taxonomy's colours (`0` black,
`255` white, every class the colour in the table below), so image viewers and the Hub's dataset viewer show the
masks in colour; convert with `np.asarray`, never with `.convert("RGB")`, to train on them.

With transformers (`SegformerImageProcessor`, `Mask2FormerImageProcessor`, ...) keep `do_reduce_labels=False`:
background is class 0 here, and reducing labels would turn it into 255 and shift every class id down by one, so
the model would learn the wrong names. Pass `ignore_index=255` to the loss (SegFormer's default
`semantic_loss_ignore_index` is already 255) and `id2label` from `id2label.json`.
{instances_section(recipe.name) if "instances" in optional else ""}
## Usefulness

{usefulness_section(recipe, scores)}

## Known limitations

{limitations_section(recipe, validation, scores)}

## Taxonomy

| id | name | colour | prompt | part of | target weight |
|---:|---|---|---|---|---:|
{rows}

## Lineage

| | |
|---|---|
| version | `{recipe.version}` |
| recipe hash | `{lineage["recipe_hash"]}` |
| git commit | `{lineage["git_commit"]}` |
| generator | `{generator["generator"]}` |
| model | `{generator.get("model")}` |
| model revision | {model_revision(generator)} |
| generator settings hash | `{generator.get("settings_hash")}` |
| synth-datasets | `{lineage["synth_version"]}` |
| samples | {splits} |{annotated_row(lineage)}

Generator settings:

```yaml
{settings}
```

Mask decoding:

```yaml
{decode}
```

## Validation

Great Expectations suites `class_balance` and `mask_quality`: {verdict} (warnings are reported and never block;
an error-severity expectation that fails does), against these thresholds:

```yaml
{thresholds}
```

Class KL divergence from the target weights: {validation.get("class_kl", "n/a")};
empty masks: {validation.get("empty_fraction", "n/a")}; near-duplicates: {validation.get("duplicate_fraction", "n/a")};
mean ignore fraction: {validation.get("mean_ignore_fraction", "n/a")}.

| class | present in share of samples | share of pixels | target |
|---|---:|---:|---:|
{presence}
{excluded}{variants_section(recipe, load_id, variants)}"""


VARIANT_TEXT = {
    "mixed": "HydraMix composites (the `mix` stage): each composite takes the pixels and the labels of one of its "
    "source samples at every pixel, so its mask is exact by construction. `seed` is the composite's index; a "
    "composite's sources all come from one split and the composite is in that split, so no image of one split "
    "reaches another through a composite.",
    "stylized": "The samples moved toward a target image domain (the `stylize` stage); every mask is the default "
    "config's mask for the same seed, byte for byte, and every sample keeps its seed's split. Reinhard and FDA "
    "move no pixel; a learned translator (method cut) keeps the layout through its training loss only: the stylize "
    "stage measures how many edges stay in place (`edge_agreement`, 1: none moved) in the project that built this "
    "dataset; compare image and mask before relying on its boundaries.",
}


def variants_section(recipe: Recipe, load_id: str, variants: dict) -> str:
    """How each extra config was made and whether it passed validation; empty without variants."""
    if not variants:
        return ""
    blocks = []
    for variant, info in variants.items():
        validation = info["validation"]
        verdict = "passed" if validation.get("success") else "**FAILED — this config is unvalidated**"
        splits = ", ".join(f"{s}: {n}" for s, n in info["splits"].items()) or "none"
        left = "; ".join(f"{n} left out ({reason})" for reason, n in info["left_out"].items())
        made = yaml.safe_dump(info["made"], sort_keys=True).strip()
        blocks.append(
            f"""### `{variant}`

{VARIANT_TEXT.get(variant, "")}

Samples: {splits}{f"; {left}" if left else ""}.

Validation (the default config's suites and thresholds, on all {validation.get("samples", "n/a")} {variant} samples):
{verdict}; class KL divergence {validation.get("class_kl", "n/a")}, empty masks
{validation.get("empty_fraction", "n/a")}, near-duplicates {validation.get("duplicate_fraction", "n/a")}.

How it was made:

```yaml
{made}
```
"""
        )
    names = ", ".join(f"`{v}`" for v in variants)
    return f"""
## Configs

Besides the default config (`data/`), this dataset has {names}, each its own config with the columns `image`,
`mask`, `seed` and `prompt` (no `confidence` or `instances`) and the same masks format:

```python
ds = load_dataset("{load_id}", "{next(iter(variants))}", revision="v{recipe.version}")
```

""" + "\n".join(blocks)


def _exclusion_counts(dropped: list[dict]) -> str:
    """'N by the decoder, M by the label checks' (a sample both name counts in both)."""
    checks = sum("label checks:" in e["reason"] for e in dropped)
    decoder = sum(not e["reason"].startswith("label checks:") for e in dropped)
    parts = [f"{decoder} excluded by the decoder"] if decoder else []
    parts += [f"{checks} by the label checks, which score each mask against its image"] if checks else []
    return ", ".join(parts)


COLUMNS = {
    "image": "the generated image (RGB; stored as {fmt})",
    "mask": "class id per pixel: a palette PNG, `0` background, `1..{k}` the classes below, `255` ignore",
    "confidence": "the decoder's confidence in each pixel's label, as an 8-bit greyscale ('L' mode) PNG: value / 255 "
    "(128 is 0.5, 255 certain). Where it fell below the decoder's threshold the mask says 255 (ignore). Only for "
    "decoders that give one (exact masks have no such column)",
    "instances": "which object each pixel shows, as a greyscale PNG ('L' mode; 16-bit only past 255 objects): `0` "
    "where the mask is background, `1, 2, ...` one number per object the generator drew, in drawing order (a "
    "number can be missing where an object was hidden entirely). Every object has one class, the mask's value "
    "under it; a part (e.g. a wheel) is its own object, cut out of its parent. Only for generators that know "
    "their objects (see Instances below)",
    "seed": "the generator seed: the sample's identity; its split is a hash of the seed alone",
    "prompt": "the text prompt the image was generated from (for procedural generators: the classes drawn)",
}


def columns_section(recipe: Recipe, optional: Collection[str]) -> str:
    """Every column of the default config, what it holds and how it is encoded."""
    fmt = {"png": "PNG, lossless", "webp": "WebP, lossless", "jpeg": "JPEG, quality 95"}[recipe.image_format]
    names = [n for n in COLUMNS if n not in OPTIONAL_COLUMNS or n in optional]
    k = len(recipe.taxonomy.classes)
    return "\n".join(f"- `{n}`: {COLUMNS[n].format(fmt=fmt, k=k)}." for n in names)


def instances_section(name: str) -> str:
    """How to train instance segmentation from the ``instances`` column without shifting the classes."""
    return f"""
## Instances

The generator knows which object each pixel shows, so `instances` holds one number per object: two touching cars
are two objects although the mask shows one car region. `synth export {name} --format coco` writes one COCO
annotation per object from it. For instance segmentation with transformers' `Mask2FormerImageProcessor` (or
`MaskFormerImageProcessor`), pass the instance map with each object's class, keep `do_reduce_labels=False` as
above, and drop the no-object pixels with `ignore_index=0`:

```python
instances, mask = np.asarray(row["instances"]), np.asarray(row["mask"])
ids = {{int(i): int(mask[instances == i][0]) for i in np.unique(instances) if i}}
inputs = processor(row["image"], segmentation_maps=instances, instance_id_to_semantic_id=ids, ignore_index=0,
                   do_reduce_labels=False, return_tensors="pt")  # mask_labels: one per object; class_labels: ids
```
"""


def usefulness_section(recipe: Recipe, scores: dict) -> str:
    """The evaluate stage's scores, as written to ``reports/NAME/evaluate.json``; says so when not scored."""
    if not scores.get("miou"):
        return (
            "Not measured: the recipe has no `evaluate:` section, so no segmenter was trained on this data and scored "
            "on labeled images. Measure it before relying on the data for training."
        )
    runs = scores.get("runs", {})
    rows = "\n".join(
        f"| {variant} | {miou:.4f} | {', '.join(f'{r:.4f}' for r in runs.get(variant, [])) or 'one run'} |"
        for variant, miou in sorted(scores["miou"].items())
    )
    ratio = scores.get("synthetic_to_real")
    tail = (
        f"\n\nTrained on this data (`source`), the segmenter reaches **{ratio:.2f}** of the mIoU of the same "
        "segmenter trained on real labeled images (`real`)."
        if ratio is not None
        else ""
    )
    return (
        f"A small segmentation network trained on each variant for {scores.get('steps')} steps, scored by mIoU on "
        f"{scores.get('eval_samples')} labeled evaluation images (recipe section `evaluate:`; per class in the "
        f"project's `reports/{recipe.name}/evaluate.json`).\n\n"
        f"| variant | mIoU | runs |\n|---|---:|---|\n{rows}{tail}"
    )


DECODER_LIMITS = {
    "exact": "Masks are exact: the generator draws them with the image.",
    "attention": "Masks are read from the model's attention maps, computed at a few times lower resolution and "
    "upsampled: boundaries are coarse, thin parts get lost, and an object can be given the class of another word "
    "in its prompt. Pixels the decoder is unsure of are `255` (ignore).",
    "datasetgan": "Masks come from a label decoder trained on a few hand-annotated samples (`lineage.json`, "
    "`decoder`): classes rare in those annotations are rarely predicted, and the most uncertain samples are "
    "left out (listed below when any).",
}
GENERATOR_LIMITS = {
    "scenes": "Images are procedural compositions of textured shapes, not photographs: for demos and tests of "
    "tooling, not for training a model meant for real images.",
}


def limitations_section(recipe: Recipe, validation: dict, scores: dict) -> str:
    """What a user should know before training on this data: generator, decoder, validation warnings,
    classes that are rare or absent, and the usefulness score where it was measured."""
    items = [
        GENERATOR_LIMITS.get(
            recipe.generator.type,
            "Images come from a generative model: they carry its failure modes and biases, and the model may draw "
            "something other than what the prompt asks for while the mask follows the prompt.",
        ),
        DECODER_LIMITS.get(recipe.decode.type, f"Masks come from the `{recipe.decode.type}` decoder."),
    ]
    counts = validation.get("expectations", {}).get("warning", {})
    warned = counts.get("failed", 0) + counts.get("errored", 0)
    if warned:
        items.append(
            f"{warned} of {counts.get('evaluated', 0)} warning-severity checks failed (listed in the project's "
            "Great Expectations Data Docs): they do not block the build, but say where the masks are unusual."
        )
    classes = validation.get("classes", {})
    absent = [n for n, v in classes.items() if not v.get("presence")]
    if absent:
        items.append(f"Never in a mask: {', '.join(absent)}.")
    rare = rare_classes(classes, recipe.validation.min_class_presence)
    if rare:
        items.append(rare)
    ratio = scores.get("synthetic_to_real")
    if ratio is not None and ratio < 1:
        items.append(
            f"A segmenter trained on this data reaches {ratio:.2f} of the mIoU that real labeled images give "
            "(Usefulness, above): use it for pre-training or augmentation, not instead of real labels."
        )
    return "\n".join(f"- {item}" for item in items)


NEAR_RARE = 2.0  # a class in fewer than this many times the validation threshold's share of samples is named


def rare_classes(classes: dict, min_presence: float) -> str:
    """The classes under, or near, the validation threshold on class presence, each with its share of samples,
    rarest first; '' when none. Near counts: a class at 2.2% passes a 2% threshold, yet a segmenter sees it in a
    few dozen samples of a thousand, and a user must know that before relying on it."""
    bound = NEAR_RARE * min_presence
    rare = sorted((v["presence"], n) for n, v in classes.items() if 0 < v.get("presence", 0) < bound)
    if not rare:
        return ""
    listed = ", ".join(f"{n} {p:.1%}{' (under it)' if p < min_presence else ''}" for p, n in rare)
    return (
        f"Rare classes, in fewer than {bound:.1%} of the samples (twice the validation threshold of "
        f"{min_presence:.1%}): {listed}. A segmenter trained on this data sees them seldom."
    )


def annotated_row(lineage: dict) -> str:
    """A lineage table row for decoders that learned from annotations (DatasetGAN), else nothing."""
    count = lineage.get("decoder", {}).get("annotations")
    return "" if count is None else f"\n| annotated samples (decoder trained on) | {count} |"
