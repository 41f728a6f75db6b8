"""SegFormer (transformers) with random weights, behind the interface the segmentation trainer uses.

No pretrained backbone can be downloaded here, and the usefulness score should compare datasets rather than
pretraining anyway: the network is built from a ``SegformerConfig`` with random initialisation, as any user
training on ``load_dataset`` output could.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from synth.core.labels import IGNORE_ID

if TYPE_CHECKING:
    import torch
    from torch import nn

    from synth.segment.config import SegmenterSettings


def build_segformer(num_classes: int, settings: SegmenterSettings) -> nn.Module:
    from torch import nn
    from transformers import SegformerConfig, SegformerForSemanticSegmentation

    heads = [max(1, h // 32) for h in settings.hidden_sizes]
    config = SegformerConfig(
        num_channels=3,
        num_encoder_blocks=4,
        depths=list(settings.depths),
        hidden_sizes=list(settings.hidden_sizes),
        num_attention_heads=heads,
        strides=list(settings.strides),
        patch_sizes=[7, 3, 3, 3],
        sr_ratios=[8, 4, 2, 1],
        mlp_ratios=[4, 4, 4, 4],
        decoder_hidden_size=settings.decoder_hidden_size,
        semantic_loss_ignore_index=IGNORE_ID,
    )
    config.num_labels = num_classes  # a property of the config (sets id2label), not a field it is built with

    class SegFormer(nn.Module):
        """``forward`` returns (logits at the input's size, None): the tiny UNet's interface, without the
        projection head only CSA adaptation uses."""

        def __init__(self):
            super().__init__()
            self.net = SegformerForSemanticSegmentation(config)

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
            logits = self.net(pixel_values=x).logits
            logits = nn.functional.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=False)
            return logits, None

    return SegFormer()
