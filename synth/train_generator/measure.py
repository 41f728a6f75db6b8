"""How well the trained model's attention finds and tells apart its garments, measured through the project's own
``diffusion`` generator and ``attention`` decoder (the path a recipe takes).

- localisation IoU: decoded foreground (any class label) vs the generated image's foreground (backgrounds are
  black, so a grey threshold finds the garment pixels).
- binding, on two-class prompts: each foreground component is classified by a logistic regression trained on
  the Fashion-MNIST train split; where the two components got the two asked-for classes, binding is right when
  class A's score map is higher on average over A's component than over B's (chance: 50%).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from synth.realdata.fashion_mnist import CLASS_NAMES

FOREGROUND_LEVEL = 40  # grey level above which a generated pixel counts as garment


def fashion_recipe(model: Path | str, seeds: int, steps: int, classes: tuple[int, int] = (1, 1), **generator) -> dict:
    return {
        "name": "fashion-measure",
        "version": "1.0.0",
        "description": "Attention measurement.",
        "license": "mit",
        "hub_repo": None,
        "generator": {
            "type": "diffusion",
            "model": str(model),
            "revision": None,
            "steps": steps,
            "batch_size": 4,
            "guidance_scale": 4.0,
            "cross_attention_resolution": 16,
            "self_attention_resolution": 16,
            "tau": 1,
            **generator,
        },
        "taxonomy": {
            "classes": [
                {"id": i + 1, "name": n.replace(" ", "-"), "prompt": n, "color": f"#{20 * i:02x}8080"}
                for i, n in enumerate(CLASS_NAMES)
            ]
        },
        "prompts": {
            "templates": ["a photo of {classes}"],
            "negative": "",
            "classes_per_sample": {"min": classes[0], "max": classes[1]},
        },
        "seeds": [{"start": 0, "stop": seeds}],
        "image_size": 64,
        "samples_per_shard": seeds,
        "image_format": "png",
        "splits": {"train": 1.0, "validation": 0.0, "test": 0.0},
        "decode": {"type": "attention"},
        "validation": {"min_class_presence": 0.0, "max_class_kl": 100.0, "max_ignore_fraction": 1.0},
        "evaluate": None,
    }


def generate(recipe_dict: dict, folder: Path):
    """Samples of a recipe dict written to ``folder/recipes`` and loaded like any recipe."""
    import yaml

    from synth.generate.prompts import plan_sample
    from synth.recipe import load_recipe

    (folder / "recipes").mkdir(parents=True, exist_ok=True)
    (folder / "recipes" / f"{recipe_dict['name']}.yaml").write_text(yaml.safe_dump(recipe_dict))
    recipe = load_recipe(recipe_dict["name"], folder)
    generator = recipe.generator.build(recipe.context())
    plans = [plan_sample(recipe.context(), s) for s in range(recipe_dict["seeds"][0]["stop"])]
    size = generator.batch_size
    return [s for i in range(0, len(plans), size) for s in generator.generate(plans[i : i + size])]


def localisation_iou(samples) -> list[float]:
    from synth.decode.attention import decode_scores

    out = []
    for s in samples:
        mask, _ = decode_scores(s.arrays["scores"].astype(np.float32), s.arrays["class_ids"], 64, 0.6, 0.5)
        labeled = (mask > 0) & (mask != 255)
        fg = s.image.mean(axis=2) > FOREGROUND_LEVEL
        union = (labeled | fg).sum()
        out.append(float((labeled & fg).sum() / union) if union else 0.0)
    return out


def _crop28(image: np.ndarray, component: np.ndarray) -> np.ndarray:
    from PIL import Image

    ys, xs = np.nonzero(component)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    side = max(y1 - y0, x1 - x0)
    square = np.zeros((side, side), np.uint8)
    oy, ox = (side - (y1 - y0)) // 2, (side - (x1 - x0)) // 2
    square[oy : oy + y1 - y0, ox : ox + x1 - x0] = np.where(component[y0:y1, x0:x1], image[y0:y1, x0:x1], 0)
    return np.asarray(Image.fromarray(square).resize((28, 28), Image.Resampling.BILINEAR))


def binding(samples, classifier) -> tuple[int, int]:
    """(right, judged) over two-class samples whose two largest components were classified as the two classes."""
    import torch
    from PIL import Image
    from scipy import ndimage

    right = judged = 0
    for s in samples:
        ids = [int(c) for c in s.arrays["class_ids"]]
        if len(ids) != 2:
            continue
        grey = s.image.mean(axis=2).astype(np.uint8)
        comps, n = ndimage.label(grey > FOREGROUND_LEVEL)
        if n < 2:
            continue
        sizes = ndimage.sum(np.ones_like(grey), comps, range(1, n + 1))
        largest = [int(i) + 1 for i in np.argsort(sizes)[::-1][:2]]
        crops = np.stack([_crop28(grey, comps == c) for c in largest]).reshape(2, -1).astype(np.float32) / 255.0
        predicted = [int(p) + 1 for p in classifier(torch.from_numpy(crops)).argmax(1)]
        if sorted(predicted) != sorted(ids):
            continue
        scores = np.stack(
            [
                np.asarray(Image.fromarray(m.astype(np.float32)).resize((64, 64), Image.Resampling.BICUBIC))
                for m in s.arrays["scores"]
            ]
        )
        judged += 1
        a = ids.index(predicted[0])  # the class whose item is component 0
        right += int(scores[a][comps == largest[0]].mean() > scores[a][comps == largest[1]].mean())
    return right, judged
