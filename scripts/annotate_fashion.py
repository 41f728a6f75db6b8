"""Play the annotator for a Fashion-MNIST DatasetGAN recipe: export, label, import — as a person would.

No person annotates in this project, so this script does what one would do with ``synth annotate``:

1. ``synth annotate export NAME --count N --out WORK``: the samples to label and the guide; with ``--by drawn``
   (the default) the samples are picked by what is drawn in them, as a person skimming the images would:
   the annotator pre-labels every sample, only samples with 1 to ``--max-items`` separate items qualify (three
   prompted items mostly touch and merge), and the pick covers every class in as many items as it can;
2. label every exported image with ``synth.realdata.annotator`` (foreground threshold of the generated image,
   connected components, each named by a small CNN trained on the real Fashion-MNIST *train* split) and write
   one-channel index PNGs ``WORK/masks/seed-SSSSSS.png``, the format a labelling tool exports;
3. ``synth annotate import NAME WORK/masks``: the project's own checks, then ``annotations/NAME/``.

It never reads what the generator or a decoder made of the sample besides its image. Run it from the project
root after ``synth synthesize NAME`` (or ``dvc repro synthesize@NAME``), then commit ``annotations/NAME``::

    rm -r annotations/fashion-datasetgan   # to start over; otherwise new annotations add to the old
    python scripts/annotate_fashion.py fashion-datasetgan --count 30

The classifier is trained once (a few CPU minutes) and kept in ``--classifier`` (default
``data/annotator/classifier.safetensors``, not tracked) so later runs, and ``bench/real_usefulness.py``, reuse it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import nn

DEFAULT_CLASSIFIER = Path("data/annotator/classifier.safetensors")


def classifier(path: Path, log: Callable[[str], object] = print) -> nn.Module:
    """The annotator's CNN from ``path``, trained on the train split and saved there first if missing."""
    from synth.realdata.annotator import (
        classifier_accuracy,
        load_classifier,
        save_classifier,
        train_classifier,
    )

    if path.is_file():
        return load_classifier(path)
    log(f"training the annotator's classifier on the Fashion-MNIST train split -> {path}")
    model = train_classifier()
    log(f"classifier accuracy on the (framed) test split: {classifier_accuracy(model):.4f}")
    save_classifier(model, path)
    return model


def drawn_items(name: str, annotator, root: Path, max_items: int) -> dict[int, list[int]]:
    """Seed -> the annotator's class of each item (connected component) drawn in it, for samples showing 1 to
    ``max_items`` items."""
    import numpy as np
    from scipy.ndimage import label

    from synth.core.paths import DatasetPaths
    from synth.store.codec import decode_png
    from synth.store.shards import list_shards, read_shard

    out = {}
    for shard in list_shards(DatasetPaths(root, name).samples):
        table = read_shard(shard, ["seed", "image"])
        images = [decode_png(png) for png in table.column("image").to_pylist()]
        for seed, mask in zip(table.column("seed").to_pylist(), annotator.annotate_many(images)):
            regions, count = label(mask > 0)
            if 1 <= count <= max_items:
                out[int(seed)] = [int(np.bincount(mask[regions == r]).argmax()) for r in range(1, count + 1)]
    return out


def annotate_recipe(
    name: str,
    count: int,
    work: Path,
    classifier_path: Path,
    root: Path = Path("."),
    by: str = "drawn",
    max_items: int = 2,
) -> list[int]:
    import numpy as np
    import torch
    from PIL import Image

    from synth.decode.datasetgan.annotations import export_for_annotation, import_annotations, samples_shards
    from synth.realdata.annotator import Annotator
    from synth.recipe import load_recipe

    torch.set_num_threads(1)
    recipe = load_recipe(name, root)
    samples_shards(name, root)  # before the classifier's minutes of training
    annotator = Annotator(classifier(classifier_path))
    drawn = drawn_items(name, annotator, root, max_items) if by == "drawn" else None
    seeds = export_for_annotation(recipe.context(), recipe.version, root, count, work, drawn)
    masks_dir = work / "masks"
    masks_dir.mkdir(parents=True, exist_ok=True)
    for path in sorted((work / "images").glob("seed-*.png")):
        image = np.asarray(Image.open(path).convert("RGB"))
        Image.fromarray(annotator.annotate(image), mode="L").save(masks_dir / path.name)
    stored = import_annotations(recipe.context(), set(recipe.all_seeds()), root, masks_dir)
    print(f"annotated {len(stored)} samples of {name} (seeds {seeds}); stored in annotations/{name}")
    if drawn is not None:
        items = {c.name: sum(drawn[s].count(c.id) for s in seeds) for c in recipe.taxonomy.classes}
        print("items per class in the picked samples: " + ", ".join(f"{k} {v}" for k, v in items.items()))
    return stored


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name", help="recipe name (recipes/NAME.yaml), e.g. fashion-datasetgan")
    parser.add_argument("--count", type=int, default=16, help="samples to annotate (default 16)")
    parser.add_argument("--work", type=Path, default=None, help="export/mask folder (default reports/NAME/annotate)")
    parser.add_argument("--classifier", type=Path, default=DEFAULT_CLASSIFIER, help="cached classifier weights")
    parser.add_argument("--by", choices=["drawn", "prompt"], default="drawn", help="pick by what is drawn or asked")
    parser.add_argument("--max-items", type=int, default=2, help="with --by drawn: most items a picked sample shows")
    args = parser.parse_args(argv)
    from synth.errors import UserError

    try:
        work = args.work or Path("reports") / args.name / "annotate"
        annotate_recipe(args.name, args.count, work, args.classifier, by=args.by, max_items=args.max_items)
    except UserError as error:
        print(error, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
