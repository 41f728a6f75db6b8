"""Convolutional building blocks shared by the networks this project trains from scratch (HydraMix's mixer, the
CUT translator): CycleGAN-style residual blocks and a shrunk PatchGAN discriminator.

Only modules that train import this one (it imports torch at the top); their state-dict key names are part of
the saved weights' format, so the layouts here do not change without a format bump in their users.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def instance_norm(channels: int) -> nn.Module:
    return nn.InstanceNorm2d(channels, affine=True)


class Residual(nn.Module):
    """conv3-IN-ReLU-conv3-IN with a skip: keeps the resolution and the content, adds detail."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, padding_mode="reflect"),
            instance_norm(channels),
            nn.ReLU(True),
            nn.Conv2d(channels, channels, 3, padding=1, padding_mode="reflect"),
            instance_norm(channels),
        )

    def forward(self, x):
        return x + self.body(x)


def patch_discriminator(width: int) -> nn.Sequential:
    """70x70-style PatchGAN, shrunk: one real/fake score per overlapping patch, so it judges texture and colour
    locally and leaves the layout to the generator's other losses."""
    return nn.Sequential(
        nn.Conv2d(3, width, 4, stride=2, padding=1),
        nn.LeakyReLU(0.2, True),
        nn.Conv2d(width, 2 * width, 4, stride=2, padding=1),
        instance_norm(2 * width),
        nn.LeakyReLU(0.2, True),
        nn.Conv2d(2 * width, 4 * width, 4, stride=1, padding=1),
        instance_norm(4 * width),
        nn.LeakyReLU(0.2, True),
        nn.Conv2d(4 * width, 1, 4, stride=1, padding=1),
    )


def to_tensor(images: list[np.ndarray]):
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def to_uint8(batch) -> np.ndarray:
    return batch.add(1.0).mul(127.5).round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()
