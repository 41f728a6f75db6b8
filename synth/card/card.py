"""The dataset card (``README.md``): YAML metadata the Hub indexes, and a body a person reads."""

from __future__ import annotations

import yaml

from synth.recipe import Recipe

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
    has_confidence: bool,
    variants: dict | None = None,
) -> dict:
    """The card's YAML. ``variants`` (lineage ``variants``) adds one config per variant (``mixed/``, ...) and makes
    ``dataset_info`` a list with one entry per config, as the Hub's card spec has it for several configs."""
    features = [
        {"name": "image", "dtype": "image"},
        {"name": "mask", "dtype": "image"},
        *([{"name": "confidence", "dtype": "image"}] if has_confidence else []),
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
                "features": [dict(f) for f in features if f["name"] != "confidence"],  # copies: no YAML aliases
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
        "source_datasets": ["original"],
        "size_categories": [size_category(total)],
        "tags": ["synthetic", f"generator:{recipe.generator.type}", f"decoder:{recipe.decode.type}"],
        "configs": configs,
        "dataset_info": infos if variants else info,
    }


def render_card(
    recipe: Recipe, lineage: dict, split_counts: dict[str, int], split_bytes: dict[str, int], has_confidence: bool
) -> str:
    variants = lineage.get("variants", {})
    meta = yaml.safe_dump(
        card_metadata(recipe, split_counts, split_bytes, has_confidence, variants), sort_keys=False, allow_unicode=True
    )
    validation = lineage["validation"]
    generator = lineage["generator"]
    rows = "\n".join(
        f"| {c.id} | {c.name} | `{c.color}` | {c.phrase} | {c.parent or ''} | {c.weight:g} |"
        for c in recipe.taxonomy.classes
    )
    verdict = "passed" if validation.get("success") else "**FAILED — this build is unvalidated**"
    load_id = recipe.hub_repo or f"<org>/{recipe.name}"
    settings = yaml.safe_dump(recipe.generator.model_dump(mode="json"), sort_keys=True).strip()
    decode = yaml.safe_dump(recipe.decode.model_dump(mode="json"), sort_keys=True).strip()
    splits = ", ".join(f"{s}: {n}" for s, n in split_counts.items())
    dropped = lineage.get("excluded", [])
    excluded = (
        f"\n## Excluded samples\n\n{len(dropped)} generated samples are not in this dataset; the decoder excluded them "
        f"(seeds and reasons in `lineage.json`): "
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

```python
from datasets import load_dataset

ds = load_dataset("{load_id}", revision="v{recipe.version}")
```

Masks are single-channel palette ("P" mode) PNGs: the pixel value is the class id below, `0` is background and
`255` is ignore (pixels the decoder was not confident about); `np.asarray(row["mask"])` gives the ids.
`id2label.json` maps ids to names. The PNG palette is the taxonomy's colours (`0` black, `255` white, every
class the colour in the table below), so image viewers and the Hub's dataset viewer show the masks in colour;
convert with `np.asarray`, never with `.convert("RGB")`, to train on them.

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
| model revision | `{generator.get("revision")}` |
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

Great Expectations suites `class_balance` and `mask_quality`: {verdict}, against these thresholds:

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
    "move no pixel; a learned translator (method cut) keeps the layout through its training loss only, so check "
    "`edge_agreement` in the stage's `stylize.json` (1: no edge moved).",
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

Besides the default config (`data/`), this dataset has {names}, each its own config with the same columns
(`image`, `mask`, `seed`, `prompt`) and the same masks format:

```python
ds = load_dataset("{load_id}", "{next(iter(variants))}", revision="v{recipe.version}")
```

""" + "\n".join(blocks)


def annotated_row(lineage: dict) -> str:
    """A lineage table row for decoders that learned from annotations (DatasetGAN), else nothing."""
    count = lineage.get("decoder", {}).get("annotations")
    return "" if count is None else f"\n| annotated samples (decoder trained on) | {count} |"
