"""Cross-attention grounding during training: the attention mass a class word's token puts on the pixels of its
own garment (TokenCompose, Wang et al. CVPR 2024, token loss).

Dataset Diffusion reads masks from exactly these maps, and a probe here found that plain denoising training on
a CPU budget localises garments but does not bind each class word to its own item in two-item scenes. The
training compositions have exact masks, so the loss asks each class token to put its attention inside its
class's pixels. It sees train-split compositions only, like the denoising loss.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from diffusers.models.attention_processor import Attention, AttnProcessor2_0


class GroundingProcessor:
    """A cross-attention processor that computes the head-averaged probabilities explicitly (with gradients)
    and keeps them for the loss; the layer's output is the ordinary attention output."""

    def __init__(self, store: list):
        self.store = store

    def __call__(
        self,
        attn: Attention,
        hidden_states,
        encoder_hidden_states=None,
        attention_mask=None,
        temb=None,
        *args,
        **kwargs,
    ):
        batch, length, _ = hidden_states.shape
        query = attn.to_q(hidden_states)
        context = encoder_hidden_states if encoder_hidden_states is not None else hidden_states
        if attn.norm_cross:
            context = attn.norm_encoder_hidden_states(context)
        key, value = attn.to_k(context), attn.to_v(context)
        heads, dim = attn.heads, query.shape[-1] // attn.heads
        q = query.view(batch, -1, heads, dim).transpose(1, 2)
        k = key.view(batch, -1, heads, dim).transpose(1, 2)
        v = value.view(batch, -1, heads, dim).transpose(1, 2)
        probs = torch.softmax((q @ k.transpose(-1, -2)) * attn.scale, dim=-1)
        self.store.append(probs.mean(dim=1))  # (batch, Lq, Lk)
        out = (probs @ v).transpose(1, 2).reshape(batch, length, heads * dim)
        out = attn.to_out[1](attn.to_out[0](out))
        if attn.residual_connection:
            out = out + hidden_states
        return out / attn.rescale_output_factor


def install_grounding(unet) -> list:
    """Grounding processors on every cross-attention layer (attn2); self-attention keeps the fused kernel."""
    store: list = []
    processors = {
        key: GroundingProcessor(store) if key.endswith("attn2.processor") else AttnProcessor2_0()
        for key in unet.attn_processors
    }
    unet.set_attn_processor(dict(processors))
    return store


def remove_grounding(unet) -> None:
    unet.set_attn_processor(AttnProcessor2_0())


def grounding_loss(
    maps: list[torch.Tensor], masks: torch.Tensor, spans: list[list[tuple[list[int], int]]]
) -> torch.Tensor:
    """Mean over (layer, sample, class) of 1 - the share of the class tokens' attention inside the class mask.

    ``maps``: per layer (batch, side*side, tokens); ``masks``: uint8 (batch, 64, 64) class ids; ``spans[b]``:
    (token positions, class id) pairs of sample b.
    """
    terms = []
    for probs in maps:
        side = round(probs.shape[1] ** 0.5)
        for b, pairs in enumerate(spans):
            for positions, class_id in pairs:
                target = (masks[b] == class_id).float()[None, None]
                target = F.adaptive_avg_pool2d(target, side).flatten()
                a = probs[b, :, positions].mean(dim=1)
                terms.append(1.0 - (a * target).sum() / a.sum().clamp_min(1e-8))
    if not terms:
        return masks.new_zeros((), dtype=torch.float32)
    return torch.stack(terms).mean()
