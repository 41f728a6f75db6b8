"""CSA's pixel level as its authors do it: a CUT translator (Park et al., ECCV 2020) learned from unpaired images.

The generator is a small ResNet encoder-decoder. Its losses per step, on a batch of source images x and target
images y:
- adversarial (LSGAN, PatchGAN discriminator): G(x) should look like y;
- PatchNCE: features of G(x) at sampled positions, taken from the generator's own encoder layers, should match
  the features of x at the SAME position (positive) and not those at the other sampled positions of that image
  (negatives), through a small MLP head per layer: what is where in the source stays there;
- identity PatchNCE on y -> G(y): a target image passes almost unchanged, which keeps the translator from
  repainting what is already target-like.
No label is used. Geometry is kept by the contrastive loss, not by construction (unlike Reinhard or FDA): the
stylize stage reports how far edges moved (``edge_agreement``) next to the domain distances.

torch is imported inside the functions: a recipe whose stylize method is not ``cut`` never pays for it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from synth.adapt.config import CutTranslator

if TYPE_CHECKING:
    import torch


def build_translator(cfg: CutTranslator):
    """(generator layers, discriminator, projection heads). The generator is a flat ``nn.ModuleList`` so PatchNCE
    can read the outputs of its encoder layers: those are ``encoder_taps(cfg)``."""
    import torch
    from torch import nn

    from synth.core.nets import Residual, instance_norm, patch_discriminator

    w = cfg.width
    layers: list[nn.Module] = [
        nn.Sequential(nn.Conv2d(3, w, 7, padding=3, padding_mode="reflect"), instance_norm(w), nn.ReLU(True)),
        nn.Sequential(nn.Conv2d(w, 2 * w, 3, stride=2, padding=1), instance_norm(2 * w), nn.ReLU(True)),
        nn.Sequential(nn.Conv2d(2 * w, 4 * w, 3, stride=2, padding=1), instance_norm(4 * w), nn.ReLU(True)),
    ]
    layers += [Residual(4 * w) for _ in range(cfg.residual_blocks)]
    for c in (4 * w, 2 * w):
        layers.append(
            nn.Sequential(
                nn.Upsample(scale_factor=2, mode="nearest"),
                nn.Conv2d(c, c // 2, 3, padding=1),
                instance_norm(c // 2),
                nn.ReLU(True),
            )
        )
    layers.append(nn.Sequential(nn.Conv2d(w, 3, 7, padding=3, padding_mode="reflect"), nn.Tanh()))
    channels = [3, w, 2 * w, 4 * w, 4 * w]  # the input pixels, then the outputs of layers 0, 1, 2, 3
    heads = nn.ModuleList(nn.Sequential(nn.Linear(c, 4 * w), nn.ReLU(True), nn.Linear(4 * w, 4 * w)) for c in channels)
    disc = patch_discriminator(w)
    torch.manual_seed(0)  # callers reseed; this only keeps a bare build reproducible
    return nn.ModuleList(layers), disc, heads


def run_generator(layers, x, taps: bool = False):
    """G(x); with ``taps``, also the encoder features PatchNCE compares: the input and layers 0..3's outputs
    (first conv, both downsamplings, first residual block), as CUT taps its ResNet generator."""
    features = [x]
    for i, layer in enumerate(layers):
        x = layer(x)
        if i < 4:
            features.append(x)
    return (x, features) if taps else x


def patch_nce(feat_q, feat_k, heads, patches: int, temperature: float, gen):
    """Mean over tapped layers of the PatchNCE loss between query features (of the output) and key features (of
    the input) at the same randomly drawn positions; the other positions of the same image are the negatives."""
    import torch
    import torch.nn.functional as F

    total: float | torch.Tensor = 0.0
    for q, k, head in zip(feat_q, feat_k, heads):
        b, _, h, w = q.shape
        n = min(patches, h * w)
        where = torch.randperm(h * w, generator=gen)[:n].to(q.device)
        q = F.normalize(head(q.flatten(2)[:, :, where].transpose(1, 2)), dim=-1)  # (b, n, d)
        k = F.normalize(head(k.flatten(2)[:, :, where].transpose(1, 2)), dim=-1).detach()
        logits = torch.bmm(q, k.transpose(1, 2)) / temperature  # (b, n, n): diagonal = the positive pairs
        target = torch.arange(n, device=q.device).expand(b, n)
        total = total + F.cross_entropy(logits.reshape(b * n, n), target.reshape(-1))
    return total / len(heads)


class CutTrainer:
    """Generator, discriminator, heads and their Adam optimisers; ``step`` is one CUT step on (x, y)."""

    def __init__(self, cfg: CutTranslator, seed: int, device=None):
        import torch

        self.cfg = cfg
        self.layers, self.disc, self.heads = build_translator(cfg)
        torch.manual_seed(seed)
        for module in (self.layers, self.disc, self.heads):
            for p in module.parameters():  # CUT initialises every weight from N(0, 0.02)
                if p.dim() > 1:
                    torch.nn.init.normal_(p, 0.0, 0.02)
            if device is not None:
                module.to(device)
        betas = (0.5, 0.999)
        self.opt_g = torch.optim.Adam(
            list(self.layers.parameters()) + list(self.heads.parameters()), cfg.lr, betas=betas
        )
        self.opt_d = torch.optim.Adam(self.disc.parameters(), cfg.lr, betas=betas)
        self.gen = torch.Generator().manual_seed(seed)

    def step(self, x, y) -> dict[str, float]:
        import torch

        cfg = self.cfg
        fake, feat_x = run_generator(self.layers, x, taps=True)
        d_loss = 0.5 * ((self.disc(y) - 1).pow(2).mean() + self.disc(fake.detach()).pow(2).mean())
        self.opt_d.zero_grad()
        d_loss.backward()
        self.opt_d.step()

        gan = (self.disc(fake) - 1).pow(2).mean()
        _, feat_fake = run_generator(self.layers, fake, taps=True)
        nce = patch_nce(feat_fake, feat_x, self.heads, cfg.patches, cfg.temperature, self.gen)
        idt, feat_y = run_generator(self.layers, y, taps=True)
        _, feat_idt = run_generator(self.layers, idt, taps=True)
        nce_idt = patch_nce(feat_idt, feat_y, self.heads, cfg.patches, cfg.temperature, self.gen)
        g_loss = cfg.gan_weight * gan + cfg.nce_weight * 0.5 * (nce + nce_idt)
        self.opt_g.zero_grad()
        g_loss.backward()
        self.opt_g.step()
        with torch.no_grad():
            return {"d": float(d_loss), "gan": float(gan), "nce": float(nce), "nce_identity": float(nce_idt)}


def train_translator(
    source: list[np.ndarray], target: list[np.ndarray], cfg: CutTranslator, log=lambda msg: None
) -> tuple[Translator, dict]:
    """Train on unpaired batches (each step draws source and target images independently, with flips)."""
    import torch

    from synth.core.nets import to_tensor
    from synth.core.torch_runtime import resolve_device, torch_threads

    torch_threads()
    device = resolve_device(cfg.device)
    trainer = CutTrainer(cfg, cfg.seed, device)
    xs, ys = to_tensor(source), to_tensor(target)
    history: dict[str, list[float]] = {}
    for step in range(cfg.steps):
        parts = []
        for pool in (xs, ys):
            pick = pool[torch.randint(len(pool), (cfg.batch_size,), generator=trainer.gen)]
            flips = torch.rand(cfg.batch_size, generator=trainer.gen) < 0.5
            pick[flips] = pick[flips].flip(-1)
            parts.append(pick.to(device))
        losses = trainer.step(*parts)
        for name, value in losses.items():
            history.setdefault(name, []).append(round(value, 5))
        if (step + 1) % max(1, cfg.steps // 10) == 0:
            log(f"cut step {step + 1}/{cfg.steps}: " + ", ".join(f"{k} {v:.3f}" for k, v in losses.items()))
    return Translator(cfg, trainer.layers.cpu()), history


class Translator:
    """A trained CUT generator: ``translate`` maps source images to the target domain."""

    def __init__(self, cfg: CutTranslator, layers):
        self.cfg, self.layers = cfg, layers.eval()

    def translate(self, images: list[np.ndarray]) -> list[np.ndarray]:
        import torch

        from synth.core.nets import to_tensor, to_uint8

        out: list[np.ndarray] = []
        with torch.no_grad():
            for start in range(0, len(images), 32):
                out.extend(to_uint8(run_generator(self.layers, to_tensor(images[start : start + 32]))))
        return out

    def save(self, folder: Path, history: dict | None = None) -> None:
        from safetensors.torch import save_file

        folder.mkdir(parents=True, exist_ok=True)
        tensors = {k: v.detach().cpu().contiguous() for k, v in self.layers.state_dict().items()}
        save_file(tensors, str(folder / "model.safetensors"))
        (folder / "config.json").write_text(
            json.dumps(self.cfg.model_dump(mode="json"), sort_keys=True, indent=2) + "\n"
        )
        if history is not None:
            (folder / "losses.json").write_text(json.dumps(history, sort_keys=True) + "\n")

    @classmethod
    def load(cls, folder: Path) -> Translator:
        from safetensors.torch import load_file

        cfg = CutTranslator.model_validate_json((folder / "config.json").read_text())
        layers, _, _ = build_translator(cfg)
        layers.load_state_dict(load_file(str(folder / "model.safetensors")))
        return cls(cfg, layers)


def edge_agreement(before: list[np.ndarray], after: list[np.ndarray]) -> float:
    """Mean correlation of the Sobel edge magnitudes of each image and its translation: 1 when every edge stays
    where it was (what keeps the masks valid), near 0 when the layout was repainted."""
    from skimage.filters import sobel

    values = []
    for a, b in zip(before, after):
        ea, eb = sobel(a.mean(-1)).ravel(), sobel(b.mean(-1)).ravel()
        if ea.std() > 0 and eb.std() > 0:
            values.append(float(np.corrcoef(ea, eb)[0, 1]))
    return float(np.mean(values)) if values else float("nan")
