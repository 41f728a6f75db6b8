"""The segmentation networks: a tiny UNet (small enough to train on a CPU in seconds at 64 px, deep enough to need
context: 3 levels), and the choice between it and SegFormer."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import nn

    from synth.segment.config import SegmenterSettings


def build_unet(num_classes: int, width: int = 16):
    import torch
    from torch import nn

    def block(cin: int, cout: int) -> nn.Sequential:
        return nn.Sequential(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(True),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(True),
        )

    class TinyUNet(nn.Module):
        """``forward`` returns (logits, projected features). CSA's prototypes and contrastive loss live in the
        output of a small projection head, so pulling features toward prototypes does not fight the classifier's
        own feature space directly (as in contrastive segmentation heads)."""

        def __init__(self):
            super().__init__()
            w = width
            self.enc1, self.enc2, self.enc3 = block(3, w), block(w, 2 * w), block(2 * w, 4 * w)
            self.dec2, self.dec1 = block(6 * w, 2 * w), block(3 * w, w)
            self.head = nn.Conv2d(w, num_classes, 1)
            self.project = nn.Sequential(nn.Conv2d(w, w, 1), nn.ReLU(True), nn.Conv2d(w, w, 1))
            self.pool = nn.MaxPool2d(2)

        def forward(self, x):
            e1 = self.enc1(x)
            e2 = self.enc2(self.pool(e1))
            e3 = self.enc3(self.pool(e2))
            up = nn.functional.interpolate
            d2 = self.dec2(torch.cat([up(e3, size=e2.shape[-2:], mode="bilinear", align_corners=False), e2], 1))
            d1 = self.dec1(torch.cat([up(d2, size=e1.shape[-2:], mode="bilinear", align_corners=False), e1], 1))
            return self.head(d1), self.project(d1)

    return TinyUNet()


def build_segmenter(num_classes: int, architecture: SegmenterSettings, width: int) -> nn.Module:
    """The network ``evaluate.segmenter`` names: the tiny UNet (default, ``width`` channels) or a random-init
    SegFormer."""
    if architecture.type == "segformer":
        from synth.segment.segformer import build_segformer

        return build_segformer(num_classes, architecture)
    return build_unet(num_classes, width)
