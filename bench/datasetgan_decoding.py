"""DatasetGAN's per-pixel vote against the per-component vote, on held-out generated samples.

The recipe's trained ensemble (``data/NAME/decoder``, from ``synth train-decoder``) labels ``--held-out``
samples that were not annotated; each mask is scored, as bench/attention_decoding.py scores attention masks,
against the scripted annotator (synth/realdata/annotator.py): share of garment pixels on black, foreground IoU,
binding, mIoU, and masks holding more classes than the sample's prompt names. Rows: the ensemble's per-pixel
vote (DatasetGAN as published), ``vote: component``, and ``vote: component`` + ``prompt_classes_only``.

    python bench/datasetgan_decoding.py --held-out 200
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

ROWS = [
    ("per-pixel vote (DatasetGAN, before)", {"vote": "pixel"}),
    ("component vote", {"vote": "component"}),
    ("component vote, prompt classes only", {"vote": "component", "prompt_classes_only": True}),
]


def main() -> None:
    from attention_decoding import add_common_arguments, print_checks, scripted_annotator

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="fashion-datasetgan")
    parser.add_argument("--held-out", type=int, default=200)
    add_common_arguments(parser)
    args = parser.parse_args()
    annotator = scripted_annotator(args)
    from synth.core.paths import DatasetPaths
    from synth.decode.components import component_vote
    from synth.decode.datasetgan.annotations import load_annotations
    from synth.recipe import load_recipe
    from synth.stages.train_decoder import records_for_seeds
    from synth.store.shards import list_shards, read_shard

    recipe = load_recipe(args.recipe, args.root)
    paths = DatasetPaths(args.root, recipe.name)
    annotated = set(load_annotations(recipe.context(), args.root))
    seeds = [s for shard in list_shards(paths.samples) for s in read_shard(shard, ["seed"]).column("seed").to_pylist()]
    held_out = sorted(s for s in seeds if s not in annotated)[: args.held_out]
    records = records_for_seeds(args.root, recipe.name, set(held_out))
    rows = [records[s] for s in held_out]
    images = np.stack([r.image for r in rows])
    truth = np.stack(annotator.annotate_many(list(images)))
    prompted = [r.array("class_ids").tolist() for r in rows]
    print(
        f"== {recipe.name}: {len(annotated)} annotations, {len(rows)} held-out samples (seeds {held_out[0]}.."
        f"{held_out[-1]}) against the scripted annotator",
        flush=True,
    )
    decoder = recipe.decode.model_copy(update={"vote": "pixel"}).build(recipe.context())
    decoder.attach(paths)
    try:
        pixel_masks = np.stack([decoder.decode(r).mask for r in rows])
    finally:
        decoder.close()
    for label, settings in ROWS:  # the decoder's vote: component is component_vote on these same labels
        allowed = [np.array(p) if settings.get("prompt_classes_only") else None for p in prompted]
        masks = (
            pixel_masks
            if settings["vote"] == "pixel"
            else np.stack([component_vote(m, a) for m, a in zip(pixel_masks, allowed)])
        )
        print_checks(label, masks, images, truth, prompted)


if __name__ == "__main__":
    main()
