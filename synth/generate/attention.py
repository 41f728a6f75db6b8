"""Attention capture for Dataset Diffusion: running sums of exactly the maps the method needs.

The reference implementation stores every attention map of every layer at every step (about 1 GB per 512 px
image, most of it 64x64 self-attention it never uses). Here custom processors sit only on the layers at the two
captured resolutions, record the conditional half only, average heads on the fly and add into running sums, so
the state per image is one self-attention matrix plus the class maps: at 512 px,
1024 x 1024 x 4 B (self) + 256 x K x 4 B (cross), about 4.2 MB, whatever the number of steps.
"""

from __future__ import annotations

import math
import re

import torch
import torch.nn.functional as F
from diffusers.models.attention_processor import Attention, AttnProcessor2_0

_PROCESSOR_KEY = re.compile(
    r"^(down_blocks|up_blocks)\.(\d+)\.attentions\.\d+\.transformer_blocks\.\d+\.(attn[12])\.processor$"
)


class AttentionStore:
    """Accumulates head-averaged, conditional-branch attention over layers and timesteps for one batch."""

    def __init__(
        self,
        token_weights: torch.Tensor,
        class_embeds: torch.Tensor,
        guided: bool,
        window: tuple[float, float],
        steps: int,
    ):
        self.token_weights = token_weights  # (n, 77, K): 1/len(tokens) at each class phrase's token positions
        self.class_embeds = class_embeds  # (n, 77, D): the class prompt, whose keys cross-attention is read against
        self.guided = guided  # classifier-free guidance doubles the batch: [unconditional, conditional]
        self.window, self.steps, self.step = window, steps, 0
        self.cross_sum: torch.Tensor | None = None
        self.self_sum: torch.Tensor | None = None
        self.cross_count = self.self_count = 0

    @property
    def active(self) -> bool:
        position = self.step / self.steps
        return self.window[0] <= position < self.window[1]

    def on_step_end(self, pipe, step: int, timestep, callback_kwargs: dict) -> dict:
        self.step = step + 1
        return callback_kwargs

    def conditional(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return hidden_states.chunk(2)[1] if self.guided else hidden_states

    # The sums add in place: the same additions in the same order as a new tensor each time, without allocating
    # and filling one (an (n, 256, 256) fp32 tensor per self-attention layer and step at fashion's 16x16).
    # The first map becomes the sum: each map is a fresh tensor the capture made and nothing else holds.
    def add_cross(self, probs: torch.Tensor) -> None:
        maps = probs @ self.token_weights.to(probs.dtype)  # (n, L, 77) @ (n, 77, K) -> (n, L, K)
        self.cross_sum = maps.float() if self.cross_sum is None else self.cross_sum.add_(maps.float())
        self.cross_count += 1

    def add_self(self, probs: torch.Tensor) -> None:
        self.self_sum = probs.float() if self.self_sum is None else self.self_sum.add_(probs.float())
        self.self_count += 1

    def averages(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.cross_sum is None or self.self_sum is None:  # both set with the first capture of their kind
            raise RuntimeError("no attention was captured: check the captured resolutions against the UNet")
        return self.cross_sum / self.cross_count, self.self_sum / self.self_count


def _head_mean_probs(attn: Attention, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Head-averaged attention probabilities from projected queries (n, Lq, inner) and keys (n, Lk, inner)."""
    n, lq, inner = q.shape
    heads = attn.heads
    q = q.view(n, lq, heads, inner // heads).transpose(1, 2)
    k = k.view(n, k.shape[1], heads, inner // heads).transpose(1, 2)
    scores = (q @ k.transpose(-1, -2)).mul_(attn.scale)  # in place: the same products, one tensor fewer
    return torch.softmax(scores, dim=-1).mean(dim=1)  # (n, Lq, Lk)


class CaptureProcessor:
    """Computes the layer's output with the default fused kernel, then records what the store needs.

    The fused kernel's own query (and, for self-attention, key) projections are kept by forward hooks on
    ``to_q`` / ``to_k`` while it runs, so recording projects nothing twice: only the class prompt's keys are
    projected again for cross-attention. Capture was ~17% of generation when it projected everything again."""

    def __init__(self, store_ref: list, kind: str):
        self.store_ref = store_ref  # a one-element list: the pipeline's batches swap stores without reinstalling
        self.kind = kind  # "cross" or "self"
        self.inner = AttnProcessor2_0()

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
        store: AttentionStore | None = self.store_ref[0]
        if store is None or not store.active or hidden_states.ndim != 3:
            return self.inner(attn, hidden_states, encoder_hidden_states, attention_mask, temb)
        projected: dict[str, torch.Tensor] = {}
        hooks = [attn.to_q.register_forward_hook(lambda _m, _i, out: projected.setdefault("q", out))]
        if self.kind == "self":
            hooks.append(attn.to_k.register_forward_hook(lambda _m, _i, out: projected.setdefault("k", out)))
        try:
            out = self.inner(attn, hidden_states, encoder_hidden_states, attention_mask, temb)
        finally:
            for hook in hooks:
                hook.remove()
        with torch.no_grad():
            query = store.conditional(projected["q"])  # row-wise projections: the conditional half's rows
            if self.kind == "cross":
                keys = store.class_embeds.to(query.dtype)
                if attn.norm_cross:
                    keys = attn.norm_encoder_hidden_states(keys)
                store.add_cross(_head_mean_probs(attn, query, attn.to_k(keys)))
            else:
                store.add_self(_head_mean_probs(attn, query, store.conditional(projected["k"])))
        return out


def layer_resolutions(unet, latent_side: int) -> dict[str, int]:
    """Map each down/up-block attention processor name to the side of the feature map it sees."""
    n = len(unet.down_blocks)
    out = {}
    for key in unet.attn_processors:
        match = _PROCESSOR_KEY.match(key)
        if not match:
            continue  # the mid block is left out, as in the method
        block, index = match.group(1), int(match.group(2))
        depth = index if block == "down_blocks" else n - 1 - index
        out[key] = max(1, latent_side // (2**depth))
    return out


def install_capture(unet, latent_side: int, cross_res: int, self_res: int) -> tuple[list, dict[str, int]]:
    """Capture processors on the layers at the two resolutions only; every other layer keeps the default.

    Returns the store slot and how many layers capture each kind. (``set_attn_processor`` empties a dict it is
    given, so it gets a fresh one.)
    """
    slot: list = [None]
    resolutions = layer_resolutions(unet, latent_side)
    processors: dict[str, CaptureProcessor | AttnProcessor2_0] = {}
    counts = {"cross": 0, "self": 0}
    for key, _default in unet.attn_processors.items():
        side = resolutions.get(key)
        kind = "cross" if key.endswith("attn2.processor") else "self"
        wanted = cross_res if kind == "cross" else self_res
        if side == wanted:
            processors[key] = CaptureProcessor(slot, kind)
            counts[kind] += 1
        else:
            processors[key] = AttnProcessor2_0()
    if not counts["cross"] or not counts["self"]:
        raise ValueError(
            f"the UNet has no attention layers at {cross_res}x{cross_res} (cross) and {self_res}x{self_res} (self); "
            f"layer sides: {sorted(set(resolutions.values()))}"
        )
    unet.set_attn_processor(dict(processors))
    return slot, counts


def refine(cross: torch.Tensor, self_attn: torch.Tensor, tau: int) -> torch.Tensor:
    """Self-attention exponentiation: upsample class maps to the self-attention grid, then apply A tau times.

    ``cross`` (n, Lc, K), ``self_attn`` (n, Ls, Ls) -> refined maps (n, K, s, s). Applying A to the maps tau
    times equals A^tau @ maps and never forms the Ls x Ls power.
    """
    n, lc, k = cross.shape
    rc, rs = int(math.isqrt(lc)), int(math.isqrt(self_attn.shape[-1]))
    maps = cross.transpose(1, 2).reshape(n, k, rc, rc)
    maps = (
        F.interpolate(maps, size=(rs, rs), mode="bicubic", align_corners=False).reshape(n, k, rs * rs).transpose(1, 2)
    )
    for _ in range(tau):
        maps = self_attn @ maps
    return maps.transpose(1, 2).reshape(n, k, rs, rs)
