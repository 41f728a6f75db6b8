"""A domain distance that needs no pretrained network: the Fréchet distance between Gaussians fitted to simple
per-image features (LAB channel means and standard deviations, and the mean gradient magnitude of L).

Smaller is closer. It answers "does this set look like that one, in colour and contrast", which is what
training-free stylization changes; it is not FID and is not comparable with FID numbers.
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
    return frechet_distance(np.stack([image_features(i) for i in images]), np.stack([image_features(t) for t in targets]))
