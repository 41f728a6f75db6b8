"""A stand-in for the person who annotates generated Fashion-MNIST scenes (DatasetGAN's few human masks).

Nobody annotates in this project, so a documented procedure plays the annotator, and it never looks at what the
generator or a decoder thinks: (1) foreground = pixels brighter than ``threshold`` on the black background, holes
filled, as Fashion-MNIST's own masks are made (``item_mask``); (2) each connected component (tiny specks
dropped) is cropped, padded to a square and resized to 28x28 like a Fashion-MNIST photo; (3) a small CNN trained
on the real Fashion-MNIST **train** split names its class. Touching items merge into one component and get one
class: the annotator's known weakness, which a person would not have. ``scripts/annotate_fashion.py`` runs it
through ``synth annotate export/import``; the bench uses it to score decoded masks on held-out samples.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from synth.realdata.fashion_mnist import DEFAULT_ROOT, load_split

if TYPE_CHECKING:
    from torch import nn

THRESHOLD = 24  # grey level (0-255) above which a generated pixel is foreground
MIN_PIXELS = 12  # components smaller than this are specks, left as background


def build_classifier() -> nn.Module:
    """Two conv layers and two linear layers on 28x28: ~90% accuracy on the Fashion-MNIST test split."""
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * 7 * 7, 128),
        nn.ReLU(),
        nn.Linear(128, 10),
    )


def framed(images: np.ndarray, seed: int) -> np.ndarray:
    """Each 28x28 photo as the annotator will see it on a canvas: drawn at a random 18-36 px (as compositions
    draw items), masked by its foreground, then cropped and re-framed by ``crop28``."""
    from synth.realdata.fashion_mnist import _resize

    rng = np.random.default_rng(seed)
    out = np.empty_like(images)
    for i, image in enumerate(images):
        pixels, fg = _resize(image, int(rng.integers(18, 37)))
        out[i] = crop28(pixels.astype(np.float64), fg) if fg.any() else image
    return out


def train_classifier(
    epochs: int = 2, seed: int = 0, root: Path | str = DEFAULT_ROOT, limit: int | None = None
) -> nn.Module:
    """Train on the 60,000 train-split photos (never the test split; ``limit``: the first N), framed as on a
    canvas (``framed``). About a CPU minute per epoch on one thread; deterministic for a seed and thread count."""
    import torch
    import torch.nn.functional as F

    images, labels = load_split("train", root)
    images, labels = images[:limit], labels[:limit]
    x_all = torch.from_numpy(framed(images, seed).astype(np.float32) / 255.0)[:, None]
    y_all = torch.from_numpy(np.array(labels))
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = build_classifier()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(x_all), generator=gen)
        for start in range(0, len(order), 128):
            idx = order[start : start + 128]
            loss = F.cross_entropy(model(x_all[idx]), y_all[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


def classifier_accuracy(model: nn.Module, root: Path | str = DEFAULT_ROOT, limit: int | None = None) -> float:
    """Accuracy on the Fashion-MNIST test split, framed as on a canvas (read only to report the annotator's
    quality; never trained on)."""
    import torch

    images, labels = load_split("test", root)
    images, labels = images[:limit], labels[:limit]
    with torch.no_grad():
        x = torch.from_numpy(framed(images, 1).astype(np.float32) / 255.0)[:, None]
        pred = torch.cat([model(x[i : i + 1000]).argmax(1) for i in range(0, len(x), 1000)]).numpy()
    return float((pred == labels).mean())


def save_classifier(model: nn.Module, path: Path) -> Path:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(model.state_dict(), str(path))
    return path


def load_classifier(path: Path) -> nn.Module:
    from safetensors.torch import load_file

    model = build_classifier()
    model.load_state_dict(load_file(str(path)))
    return model.eval()


def crop28(grey: np.ndarray, component: np.ndarray) -> np.ndarray:
    """The component's pixels (others black) in its bounding box, padded to a centred square, resized to 28x28:
    a Fashion-MNIST photo's framing (the item spans the frame along its longer side)."""
    from PIL import Image

    ys, xs = np.nonzero(component)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    box = np.where(component[y0:y1, x0:x1], grey[y0:y1, x0:x1], 0).astype(np.uint8)
    side = max(box.shape)
    square = np.zeros((side, side), np.uint8)
    top, left = (side - box.shape[0]) // 2, (side - box.shape[1]) // 2
    square[top : top + box.shape[0], left : left + box.shape[1]] = box
    return np.asarray(Image.fromarray(square).resize((28, 28), Image.Resampling.BILINEAR))


@dataclass(frozen=True)
class Annotator:
    """Masks for generated images: foreground threshold, connected components, the classifier's class each."""

    classifier: nn.Module
    threshold: int = THRESHOLD
    min_pixels: int = MIN_PIXELS

    def annotate(self, image: np.ndarray) -> np.ndarray:
        """uint8 ``H x W x 3`` (or ``H x W``) image -> uint8 mask: 0 background, class id = label + 1."""
        return self.annotate_many([image])[0]

    def annotate_many(self, images: list[np.ndarray]) -> list[np.ndarray]:
        import torch
        from scipy.ndimage import binary_fill_holes, label

        masks, crops, owners = [], [], []
        for i, image in enumerate(images):
            grey = image.mean(axis=2) if image.ndim == 3 else image.astype(np.float64)
            components, count = label(binary_fill_holes(grey > self.threshold))
            masks.append(np.zeros(grey.shape, np.uint8))
            for c in range(1, count + 1):
                component = components == c
                if component.sum() >= self.min_pixels:
                    crops.append(crop28(grey, component))
                    owners.append((i, component))
        if crops:
            with torch.no_grad():
                x = torch.from_numpy(np.stack(crops).astype(np.float32) / 255.0)[:, None]
                classes = self.classifier(x).argmax(1).numpy()
            for (i, component), cls in zip(owners, classes):
                masks[i][component] = int(cls) + 1
        return masks
