"""Training-free pixel-level stylization (CSA's pixel level, without a learned translator).

Both transfers act on colour and low-frequency amplitude only and move no pixel, so every mask stays valid
(the stylize stage copies the mask bytes unchanged).
"""

from __future__ import annotations

import warnings

import numpy as np


def lab_stats(images: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Mean over images of per-image LAB channel means and standard deviations (Reinhard et al. 2001)."""
    from skimage.color import rgb2lab

    labs = [rgb2lab(img).reshape(-1, 3) for img in images]
    return np.mean([lab.mean(0) for lab in labs], axis=0), np.mean([lab.std(0) for lab in labs], axis=0)


def reinhard(image: np.ndarray, target_mean: np.ndarray, target_std: np.ndarray, strength: float) -> np.ndarray:
    from skimage.color import lab2rgb, rgb2lab

    lab = rgb2lab(image)
    mean, std = lab.reshape(-1, 3).mean(0), lab.reshape(-1, 3).std(0)
    moved = (lab - mean) / np.maximum(std, 1e-6) * target_std + target_mean
    lab = (1 - strength) * lab + strength * moved
    lab[..., 0] = np.clip(lab[..., 0], 0, 100)
    with warnings.catch_warnings():  # out-of-gamut LAB values are clipped to sRGB, which is what we want
        warnings.simplefilter("ignore", UserWarning)
        return _to_uint8(lab2rgb(lab) * 255.0)


def fda(image: np.ndarray, target: np.ndarray, beta: float, strength: float) -> np.ndarray:
    """Fourier Domain Adaptation (Yang & Soatto, CVPR 2020): swap the centred low-frequency band of the
    amplitude spectrum for the target's, keep the source's phase (which carries the geometry)."""
    src = np.fft.fftshift(np.fft.fft2(image.astype(np.float64), axes=(0, 1)), axes=(0, 1))
    trg = np.fft.fftshift(np.fft.fft2(target.astype(np.float64), axes=(0, 1)), axes=(0, 1))
    amp, phase = np.abs(src), np.angle(src)
    h, w = image.shape[:2]
    b = max(1, int(np.floor(min(h, w) * beta)))
    cy, cx = h // 2, w // 2
    band = (slice(cy - b, cy + b + 1), slice(cx - b, cx + b + 1))
    amp[band] = (1 - strength) * amp[band] + strength * np.abs(trg)[band]
    out = np.fft.ifft2(np.fft.ifftshift(amp * np.exp(1j * phase), axes=(0, 1)), axes=(0, 1)).real
    return _to_uint8(out)


def _to_uint8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)
