"""Domain distances that need no pretrained network: Fréchet distances between Gaussians fitted to per-image
features of two image sets. Smaller is closer; neither is FID nor comparable with FID numbers.

- ``domain_distance`` (LAB statistics): LAB channel means and standard deviations and the mean gradient magnitude
  of L. It answers "does this set look like that one, in colour and contrast" -- but LAB means and standard
  deviations are exactly what Reinhard transfer sets, so a Reinhard stylizer lowers it by construction.
- ``conv_domain_distance`` (random conv features): spatial means and standard deviations of the ReLU activations
  of a fixed, seeded, untrained 3-layer conv net. No stylizer here optimises this space, so it can rise as well
  as fall after stylization (tests/test_adapt_units.py shows both). ``frechet_distance`` takes any features,
  e.g. those of a segmenter trained on real data (bench/domain_gap.py).
"""

from __future__ import annotations

import numpy as np


def image_features(image: np.ndarray) -> np.ndarray:
    from skimage.color import rgb2lab

    lab = rgb2lab(image)
    flat = lab.reshape(-1, 3)
    gy, gx = np.gradient(lab[..., 0])
    return np.concatenate([flat.mean(0), flat.std(0), [np.hypot(gx, gy).mean()]])


def frechet_distance(a: np.ndarray, b: np.ndarray, eps: float = 1e-6) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^1/2); a small ridge keeps tiny sets (few photos) defined."""
    from scipy import linalg

    mu_a, mu_b = a.mean(0), b.mean(0)
    dims = a.shape[1]
    cov_a = (np.cov(a, rowvar=False) if len(a) > 1 else np.zeros((dims, dims))) + eps * np.eye(dims)
    cov_b = (np.cov(b, rowvar=False) if len(b) > 1 else np.zeros((dims, dims))) + eps * np.eye(dims)
    root = linalg.sqrtm(cov_a @ cov_b)
    if np.iscomplexobj(root):
        root = root.real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root))


def domain_distance(images: list[np.ndarray], targets: list[np.ndarray]) -> float:
    return frechet_distance(
        np.stack([image_features(i) for i in images]), np.stack([image_features(t) for t in targets])
    )


def random_conv_features(images: list[np.ndarray], seed: int = 0, widths: tuple[int, ...] = (16, 32, 64)) -> np.ndarray:
    """Per image: spatial mean and standard deviation of every channel of each layer of a fixed random conv net
    (3x3 convs, stride 2, ReLU; He-normal weights from ``seed``). Inputs are scaled to [-1, 1]."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    layers, cin = [], 3
    for cout in widths:
        w = torch.randn(cout, cin, 3, 3, generator=gen) * (2.0 / (cin * 9)) ** 0.5
        layers.append(w)
        cin = cout
    out = []
    with torch.no_grad():
        for start in range(0, len(images), 64):
            x = torch.from_numpy(np.stack(images[start : start + 64])).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)
            feats = []
            for w in layers:
                x = torch.relu(torch.nn.functional.conv2d(x, w, stride=2, padding=1))
                feats += [x.mean(dim=(2, 3)), x.std(dim=(2, 3))]
            out.append(torch.cat(feats, 1).numpy().astype(np.float64))
    return np.concatenate(out)


def conv_domain_distance(images: list[np.ndarray], targets: list[np.ndarray], seed: int = 0) -> float:
    return frechet_distance(random_conv_features(images, seed), random_conv_features(targets, seed))
