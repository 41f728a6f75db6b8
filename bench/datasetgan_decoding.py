"""DatasetGAN's per-pixel vote against the per-component vote, on held-out generated samples.

The recipe's trained ensemble (``data/NAME/decoder``, from ``synth train-decoder``) labels ``--held-out``
samples that were not annotated; each mask is scored, as bench/attention_decoding.py scores attention masks,
against the scripted annotator (synth/realdata/annotator.py): share of garment pixels on black, foreground IoU,
binding, mIoU, and masks holding more classes than the sample's prompt names. Rows: the ensemble's per-pixel
vote (DatasetGAN as published), ``vote: component``, and ``vote: component`` + ``prompt_classes_only``.

    python bench/datasetgan_decoding.py --held-out 200
    python bench/datasetgan_decoding.py --train 3 4   # first train a 3-member, 4-epoch decoder here (quick reading)
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
    ("component vote + clip_to_image", {"vote": "component", "black_level": 24, "clip_to_image": True}),
    (
        "component, prompt only + clip_to_image",
        {"vote": "component", "prompt_classes_only": True, "black_level": 24, "clip_to_image": True},
    ),
]


def main() -> None:
    from attention_decoding import add_common_arguments, print_checks, scripted_annotator

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="fashion-datasetgan")
    parser.add_argument("--held-out", type=int, default=200)
    parser.add_argument(
        "--train",
        type=int,
        nargs=2,
        metavar=("MEMBERS", "EPOCHS"),
        default=None,
        help="train the decoder here first with this ensemble size and epoch cap (rows say so)",
    )
    parser.add_argument(
        "--also-exclude",
        type=int,
        nargs="*",
        default=[],
        help="seeds to leave out of the held-out set as well "
        "(e.g. another annotation set's, so two runs score the same samples)",
    )
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
    if args.train:
        from synth.stages.train_decoder import train_decoder

        members, epochs = args.train
        recipe = recipe.model_copy(
            update={"decode": recipe.decode.model_copy(update={"ensemble": members, "max_epochs": epochs})}
        )
        print(train_decoder(recipe, args.root, log=print, force=True).summary(recipe.name), flush=True)
    paths = DatasetPaths(args.root, recipe.name)
    annotated = set(load_annotations(recipe.context(), args.root))
    skipped = annotated | set(args.also_exclude)
    seeds = [s for shard in list_shards(paths.samples) for s in read_shard(shard, ["seed"]).column("seed").to_pylist()]
    held_out = sorted(s for s in seeds if s not in skipped)[: args.held_out]
    records = records_for_seeds(args.root, recipe.name, set(held_out))
    rows = [records[s] for s in held_out]
    images = np.stack([r.image for r in rows])
    truth = np.stack(annotator.annotate_many(list(images)))
    prompted = [r.array("class_ids").tolist() for r in rows]
    print(
        f"== {recipe.name}: {len(annotated)} annotations, decoder of {recipe.decode.ensemble} MLPs (<= "
        f"{recipe.decode.max_epochs} epochs), {len(rows)} held-out samples (seeds {held_out[0]}.."
        f"{held_out[-1]}) against the scripted annotator",
        flush=True,
    )
    # DatasetGAN as published, whatever the recipe selects; every row starts from it.
    plain = {"vote": "pixel", "prompt_classes_only": False, "black_level": None, "clip_to_image": False}
    decoder = recipe.decode.model_copy(update=plain).build(recipe.context())
    decoder.attach(paths)
    try:
        pixel_masks = np.stack([decoder.decode(r).mask for r in rows])
    finally:
        decoder.close()
    for label, settings in ROWS:  # the decoder's steps after the ensemble, applied to these same labels
        config = recipe.decode.model_copy(update=plain | settings)
        masks = []
        for mask, row, prompt in zip(pixel_masks, rows, prompted):
            mask, _ = config.read_image(mask, np.ones(mask.shape, np.float32), row.image)
            if config.vote == "component":
                mask = component_vote(mask, np.array(prompt) if config.prompt_classes_only else None)
            masks.append(mask)
        print_checks(label, np.stack(masks), images, truth, prompted)


if __name__ == "__main__":
    main()
