"""Training examples for the fashion generator: train-split compositions, caption variants and the token spans
that name each class (for the grounding loss).

Only ``make_train_set`` touches Fashion-MNIST, and only its train split; tests/test_fashion_mnist.py checks by
pixel hash that no test-split image reaches it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synth.realdata.fashion_mnist import CLASS_NAMES, Composition, compose, load_split

_PLURALS = {"trousers": "trousers", "dress": "dresses"}


@dataclass(frozen=True)
class TrainSet:
    images: np.ndarray  # uint8 [N, 64, 64] (grey; the model sees it as R = G = B)
    masks: np.ndarray  # uint8 [N, 64, 64] class ids
    captions: list[str]
    labels: list[list[int]]
    source_indices: list[list[int]]


def make_train_set(count: int, seed: int, item_mix: tuple[float, ...], root) -> TrainSet:
    """``count`` train-split compositions; ``item_mix[k - 1]`` is the share with k items (single items teach
    each class word its own garment, which is what binding needs)."""
    images, labels = load_split("train", root)
    mix = np.asarray(item_mix, dtype=np.float64)
    comps: list[Composition] = []
    for i in range(count):
        rng = np.random.default_rng([seed, i])
        k = int(rng.choice(len(mix), p=mix / mix.sum())) + 1
        comps.append(compose(images, labels, rng, items=(k, k)))
    return TrainSet(
        images=np.stack([c.image[..., 0] for c in comps]),
        masks=np.stack([c.mask for c in comps]),
        captions=[c.caption for c in comps],
        labels=[c.labels for c in comps],
        source_indices=[c.source_indices for c in comps],
    )


def caption_variant(
    caption: str,
    labels: list[int],
    rng: np.random.Generator,
    p_class_suffix: float,
    p_class_only: float,
    p_empty: float,
) -> str:
    """The caption as the generator will prompt it: sometimes with Dataset Diffusion's appended class list
    (``"<caption>; sneaker bag"``), sometimes the class list alone (the *class prompt* whose keys the decoder
    reads), sometimes empty (the unconditional branch of classifier-free guidance)."""
    u = rng.random()
    classes = [CLASS_NAMES[label] for label in dict.fromkeys(labels)]
    rng.shuffle(classes)
    if u < p_empty:
        return ""
    if u < p_empty + p_class_only:
        return " ".join(classes)
    if u < p_empty + p_class_only + p_class_suffix:
        return f"{caption}; {' '.join(classes)}"
    return caption


class TokenSpans:
    """Positions (with BOS) of every occurrence of each class word, singular or plural, in a tokenized caption."""

    def __init__(self, tokenizer) -> None:
        self.forms: list[list[list[int]]] = []
        for name in CLASS_NAMES:
            plural = _PLURALS.get(name, name + "s")
            forms = {tuple(tokenizer(w, add_special_tokens=False).input_ids) for w in (name, plural)}
            self.forms.append([list(f) for f in sorted(forms, key=len, reverse=True)])

    def find(self, ids: list[int], label: int) -> list[int]:
        positions: list[int] = []
        for form in self.forms[label]:
            n = len(form)
            for start in range(1, len(ids) - n + 1):
                if ids[start : start + n] == form and not set(range(start, start + n)) & set(positions):
                    positions.extend(range(start, start + n))
        return sorted(positions)
