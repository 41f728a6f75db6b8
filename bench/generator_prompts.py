"""Do negative prompts or the captions' wording make models/fashion-sd draw the asked class more often?

Sampling knobs a recipe could change without retraining, probed on the bare diffusers pipeline (the same
model, DDIM 20 steps, guidance 4, 64 px) against a judge trained on REAL photos only (the scripted annotator's
CNN, as bench/fashion_generator.py). Each row uses the same seeds:

- ``--negatives``: single-item prompts "a photo of a <class>" with the negative prompt empty (``none``), naming
  the nine other classes (``all``), or the other classes of the asked one's family (``family``: tops, shoes);
- ``--captions``: single-item and two-item prompts worded as bench/fashion_generator.py does ("a photo of
  tshirt and bag", ``noart``), as recipes/fashion.yaml's first template does ("a photo of a tshirt and bag",
  ``recipe``) or as the training captions do ("a photo of a tshirt and a bag", ``trained``); for two-item
  prompts, how often the judge names the two largest items as the two asked classes.

Prints one line per row: recognisable (the judge names the largest item as the asked class), per class.

    python bench/generator_prompts.py --negatives none,all,family --per-class 20
    python bench/generator_prompts.py --captions noart,recipe,trained --per-class 20 --pairs 100
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FAMILY = {
    "tshirt": "top",
    "pullover": "top",
    "coat": "top",
    "shirt": "top",
    "dress": "top",
    "sandal": "shoe",
    "sneaker": "shoe",
    "ankle boot": "shoe",
    "trousers": "trousers",
    "bag": "bag",
}


def with_article(name: str) -> str:
    """The training captions' phrase for one item (synth/realdata/fashion_mnist.py ``_phrase``)."""
    if name == "trousers":
        return "a pair of trousers"
    return ("an " if name[0] in "aeiou" else "a ") + name


def join(phrases: list[str]) -> str:
    return phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]


def caption(form: str, names: list[str]) -> str:
    if form == "noart":
        return "a photo of " + join(names)
    if form == "recipe":
        return "a photo of a " + join(names)
    if form == "trained":
        return "a photo of " + join([with_article(n) for n in names])
    raise SystemExit(f"--captions: unknown form {form!r} (noart, recipe, trained)")


def negative(kind: str, name: str, names: list[str]) -> str:
    others = [n for n in names if n != name]
    if kind == "family":
        others = [n for n in others if FAMILY[n] == FAMILY[name]]
    elif kind == "none":
        others = []
    elif kind != "all":
        raise SystemExit(f"--negatives: unknown kind {kind!r} (none, all, family)")
    return "a photo of " + join([with_article(n) for n in others]) if others else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=Path("models/fashion-sd"))
    parser.add_argument("--negatives", default="", help="comma-separated: none, all, family")
    parser.add_argument("--captions", default="", help="comma-separated: noart, recipe, trained")
    parser.add_argument("--per-class", type=int, default=20)
    parser.add_argument("--pairs", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import torch
    from fashion_generator import CLASSIFIER, classify, components, judge  # the judge of the sibling bench

    from synth.core.quiet_loading import quiet_loading
    from synth.realdata.annotator import THRESHOLD
    from synth.realdata.fashion_mnist import CLASS_NAMES

    torch.set_num_threads(args.threads)
    model = judge(CLASSIFIER)
    with quiet_loading():
        import diffusers
        from diffusers import StableDiffusionPipeline

        pipe = StableDiffusionPipeline.from_pretrained(
            args.model, dtype=torch.float32, safety_checker=None, requires_safety_checker=False
        )
    pipe.scheduler = diffusers.DDIMScheduler.from_config(pipe.scheduler.config)
    pipe.set_progress_bar_config(disable=True)

    def draw(prompts: list[str], negatives: list[str], seeds: list[int]) -> list[np.ndarray]:
        images = []
        for start in range(0, len(prompts), 10):
            part = slice(start, start + 10)
            latents = torch.cat(
                [torch.randn((1, 4, 16, 16), generator=torch.Generator().manual_seed(s)) for s in seeds[part]]
            )
            out = pipe(
                prompt=prompts[part],
                negative_prompt=negatives[part],
                height=64,
                width=64,
                num_inference_steps=20,
                guidance_scale=4.0,
                latents=latents,
                output_type="np",
            ).images
            images += [np.clip(np.rint(im * 255.0), 0, 255).astype(np.uint8) for im in out]
        return images

    def recognisable(images: list[np.ndarray], asked: list[int]) -> np.ndarray:
        hits = np.zeros(len(CLASS_NAMES), int)
        for image, c in zip(images, asked):
            labels, order = components(image, THRESHOLD)
            hits[c] += bool(order) and classify(model, image, labels == order[0]) == c + 1
        return hits

    singles = [(c, 1000 * (c + 1) + i) for c in range(len(CLASS_NAMES)) for i in range(args.per_class)]
    asked = [c for c, _ in singles]
    total = len(singles)
    for kind in filter(None, args.negatives.split(",")):
        started = time.perf_counter()
        images = draw(
            [caption("trained", [CLASS_NAMES[c]]) for c in asked],
            [negative(kind, CLASS_NAMES[c], list(CLASS_NAMES)) for c in asked],
            [s for _, s in singles],
        )
        hits = recognisable(images, asked)
        print(
            f"negative {kind}: recognisable {hits.sum() / total:.3f} ({time.perf_counter() - started:.0f} s) | "
            + ", ".join(f"{n} {h}/{args.per_class}" for n, h in zip(CLASS_NAMES, hits)),
            flush=True,
        )

    rng = np.random.default_rng(7)
    pairs = [tuple(int(x) for x in rng.choice(len(CLASS_NAMES), 2, replace=False)) for _ in range(args.pairs)]
    other_seeds = [5000 + 100 * c + i for c in range(len(CLASS_NAMES)) for i in range(args.per_class)]
    for form in filter(None, args.captions.split(",")):
        started = time.perf_counter()
        images = draw([caption(form, [CLASS_NAMES[c]]) for c in asked], [""] * total, other_seeds)
        hits = recognisable(images, asked)
        pair_images = draw(
            [caption(form, [CLASS_NAMES[a], CLASS_NAMES[b]]) for a, b in pairs],
            [""] * len(pairs),
            [90000 + i for i in range(len(pairs))],
        )
        both = 0
        for (a, b), image in zip(pairs, pair_images):
            labels, order = components(image, THRESHOLD)
            if len(order) >= 2:
                named = sorted(classify(model, image, labels == order[i]) for i in range(2))
                both += named == sorted([a + 1, b + 1])
        print(
            f"captions {form}: recognisable {hits.sum() / total:.3f}, both items named {both}/{len(pairs)} "
            f"({time.perf_counter() - started:.0f} s) | "
            + ", ".join(f"{n} {h}/{args.per_class}" for n, h in zip(CLASS_NAMES, hits)),
            flush=True,
        )


if __name__ == "__main__":
    main()
