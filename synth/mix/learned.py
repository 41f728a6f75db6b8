"""HydraMix's learned mode: a small encoder-decoder trained from scratch on the dataset, mixing in feature space.

Training (CycleGAN-like generator, no pretraining): reconstruction L1 + Laplacian-pyramid L1 (a perceptual loss
that needs no pretrained network) on reconstructions, and a PatchGAN discriminator with the least-squares (LSGAN)
objective on reconstructions and on N-way feature-space mixes drawn exactly as the mix stage draws its
composites (the same number of sources, Felzenszwalb segments or class masks at feature resolution), so mixes
look like dataset images. Composites are then
``decoder(sum_k onehot_k(mixing mask at feature resolution) * encoder(source_k))``. Labels never come from the
network: they follow the (coarsened) mixing mask and the sources' masks exactly.

torch is imported inside the functions: loading a recipe, or a mix without ``learned:``, never pays for it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from synth.mix.config import LearnedMixer

if TYPE_CHECKING:
    import torch


def build_networks(cfg: LearnedMixer):
    import torch
    from torch import nn

    from synth.core.nets import Residual, instance_norm, patch_discriminator

    w = cfg.width
    enc: list[nn.Module] = [nn.Conv2d(3, w, 7, padding=3, padding_mode="reflect"), instance_norm(w), nn.ReLU(True)]
    c = w
    for _ in range(cfg.downsamplings):
        enc += [nn.Conv2d(c, 2 * c, 4, stride=2, padding=1), instance_norm(2 * c), nn.ReLU(True)]
        c *= 2
    enc += [Residual(c) for _ in range(cfg.residual_blocks)]
    dec: list[nn.Module] = [Residual(c) for _ in range(cfg.residual_blocks)]
    for _ in range(cfg.downsamplings):
        dec += [
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(c, c // 2, 3, padding=1),
            instance_norm(c // 2),
            nn.ReLU(True),
        ]
        c //= 2
    dec += [nn.Conv2d(c, 3, 7, padding=3, padding_mode="reflect"), nn.Tanh()]
    disc = patch_discriminator(w)
    torch.manual_seed(0)  # callers reseed; this only keeps a bare build reproducible
    return nn.Sequential(*enc), nn.Sequential(*dec), disc


def laplacian_loss(fake, real, levels: int):
    """L1 between Laplacian pyramids: band-pass detail at every scale counts, not only mean colour."""
    import torch.nn.functional as F

    total: float | torch.Tensor = 0.0
    for _ in range(levels - 1):
        if min(fake.shape[-2:]) < 2:
            break
        fd, rd = F.avg_pool2d(fake, 2), F.avg_pool2d(real, 2)
        fu = F.interpolate(fd, size=fake.shape[-2:], mode="bilinear", align_corners=False)
        ru = F.interpolate(rd, size=real.shape[-2:], mode="bilinear", align_corners=False)
        total = total + F.l1_loss(fake - fu, real - ru)
        fake, real = fd, rd
    return total + F.l1_loss(fake, real)


class LearnedMixerModel:
    """Encoder and decoder of a trained mixer; ``mix`` draws composites from per-cell owners."""

    def __init__(self, cfg: LearnedMixer, encoder, decoder):
        self.cfg, self.encoder, self.decoder = cfg, encoder.eval(), decoder.eval()
        self.stride = 2**cfg.downsamplings

    def mix(self, sources: list[list[np.ndarray]], owners: list[np.ndarray]) -> list[np.ndarray]:
        """``sources[j]`` are composite j's N images, ``owners[j]`` its N-way index map at feature resolution."""
        import torch

        from synth.core.nets import to_tensor, to_uint8

        out: list[np.ndarray] = []
        device = next(self.encoder.parameters()).device
        with torch.no_grad():
            for start in range(0, len(sources), 32):
                chunk = sources[start : start + 32]
                n = len(chunk[0])
                feats = self.encoder(to_tensor([img for group in chunk for img in group]).to(device))
                feats = feats.view(len(chunk), n, *feats.shape[1:])
                owner = torch.from_numpy(np.stack(owners[start : start + 32]).astype(np.int64)).to(device)
                onehot = torch.nn.functional.one_hot(owner, n).permute(0, 3, 1, 2).unsqueeze(2).float()
                out.extend(to_uint8(self.decoder((feats * onehot).sum(dim=1)).cpu()))
        return out

    def save(self, folder: Path) -> None:
        from safetensors.torch import save_file

        folder.mkdir(parents=True, exist_ok=True)
        tensors = {f"encoder.{k}": v for k, v in self.encoder.state_dict().items()}
        tensors |= {f"decoder.{k}": v for k, v in self.decoder.state_dict().items()}
        save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(folder / "model.safetensors"))
        (folder / "config.json").write_text(
            json.dumps(self.cfg.model_dump(mode="json"), sort_keys=True, indent=2) + "\n"
        )

    @classmethod
    def load(cls, folder: Path) -> LearnedMixerModel:
        from safetensors.torch import load_file

        cfg = LearnedMixer.model_validate_json((folder / "config.json").read_text())
        encoder, decoder, _ = build_networks(cfg)
        tensors = load_file(str(folder / "model.safetensors"))
        encoder.load_state_dict({k[8:]: v for k, v in tensors.items() if k.startswith("encoder.")})
        decoder.load_state_dict({k[8:]: v for k, v in tensors.items() if k.startswith("decoder.")})
        return cls(cfg, encoder, decoder)


class MixerTrainer:
    """Encoder, decoder, PatchGAN discriminator and their optimisers; ``step`` is one training step on one batch.

    A step decodes the batch's reconstructions and its N-way feature-space mixes (what ``LearnedMixerModel.mix``
    draws later), updates the discriminator (LSGAN: real -> 1, reconstructions and mixes -> 0), then the encoder
    and decoder: L1 + Laplacian-pyramid L1 on reconstructions, adversarial on reconstructions and mixes.
    """

    def __init__(self, cfg: LearnedMixer, seed: int, device=None):
        import torch

        self.cfg = cfg
        self.device = device or torch.device("cpu")
        torch.manual_seed(seed)
        self.encoder, self.decoder, self.disc = build_networks(cfg)
        for net in (self.encoder, self.decoder, self.disc):  # reseeded init: the weights depend on `seed` only
            for module in net.modules():
                if hasattr(module, "reset_parameters"):
                    module.reset_parameters()
            net.to(self.device)
        gen_params = [*self.encoder.parameters(), *self.decoder.parameters()]
        self.opt_g = torch.optim.Adam(gen_params, lr=cfg.lr, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(self.disc.parameters(), lr=cfg.lr, betas=(0.5, 0.999))

    def mix_features(self, feats, groups, owners):
        """``groups`` [B, N]: batch positions of each mix's sources; ``owners`` [B, h, w]: source 0..N-1 per cell."""
        import torch.nn.functional as F

        onehot = F.one_hot(owners, groups.shape[1]).permute(0, 3, 1, 2).unsqueeze(2).float()  # B, N, 1, h, w
        return (feats[groups] * onehot).sum(dim=1)

    def step(self, x, groups, owners) -> dict:
        import torch
        import torch.nn.functional as F

        feats = self.encoder(x)
        recon = self.decoder(feats)
        mixed = self.decoder(self.mix_features(feats, groups, owners))
        fakes = torch.cat([recon, mixed])
        self.opt_d.zero_grad()
        real_score, fake_score = self.disc(x), self.disc(fakes.detach())
        d_loss = 0.5 * (
            F.mse_loss(real_score, torch.ones_like(real_score)) + F.mse_loss(fake_score, torch.zeros_like(fake_score))
        )
        d_loss.backward()
        self.opt_d.step()
        self.opt_g.zero_grad()
        rec = F.l1_loss(recon, x)
        lap = laplacian_loss(recon, x, self.cfg.pyramid_levels)
        score = self.disc(fakes)
        adv = F.mse_loss(score, torch.ones_like(score))
        w = self.cfg.weights
        (w.reconstruction * rec + w.laplacian * lap + w.adversarial * adv).backward()
        self.opt_g.step()
        return {
            k: float(v.detach())
            for k, v in (("reconstruction", rec), ("laplacian", lap), ("adversarial", adv), ("discriminator", d_loss))
        }

    def model(self) -> LearnedMixerModel:
        return LearnedMixerModel(self.cfg, self.encoder, self.decoder)


def training_mixes(positions, n_sources: int, stride: int, index_for, rng: np.random.Generator, gen):
    """N-way mixes of one batch, drawn the way the mix stage draws composites: source 0 is each batch item, the
    other N - 1 are distinct other items; ``index_for(sources, rng)`` is the pixel index map (Felzenszwalb
    segments of source 0, or class masks), taken at feature resolution (the owner at each cell's centre)."""
    import torch

    b = len(positions)
    n = min(n_sources, b)
    groups = [[i, *[int(j) for j in (torch.randperm(b - 1, generator=gen)[: n - 1] + i + 1) % b]] for i in range(b)]
    owners = [index_for([positions[j] for j in g], rng)[stride // 2 :: stride, stride // 2 :: stride] for g in groups]
    return torch.tensor(groups), torch.from_numpy(np.stack(owners).astype(np.int64))


def segment_index_for(images: list[np.ndarray], mask=None, masks: list[np.ndarray] | None = None):
    """The mix stage's mixing-mask rule as ``index_for(source positions, rng)``; Felzenszwalb segments are
    computed once per image."""
    from synth.mix.config import FelzenszwalbMask
    from synth.mix.masks import (
        assign_segments,
        class_masks_index,
        felzenszwalb_segments,
    )

    if mask is not None and mask.type == "class-masks":
        if masks is None:
            raise ValueError("class-masks mixing needs the sources' masks")
        return lambda sources, rng: class_masks_index([masks[s] for s in sources], mask, rng)
    cfg = mask or FelzenszwalbMask()
    segments: dict[int, np.ndarray] = {}

    def index_for(sources, rng):
        first = sources[0]
        if first not in segments:
            segments[first] = felzenszwalb_segments(images[first], cfg)
        return assign_segments(segments[first], len(sources), rng)

    return index_for


def train_mixer(
    images: list[np.ndarray],
    cfg: LearnedMixer,
    seed: int,
    log=lambda msg: None,
    sources: int = 2,
    mask=None,
    masks: list[np.ndarray] | None = None,
) -> tuple[LearnedMixerModel, dict]:
    """Train encoder, decoder and discriminator from scratch on N-way segment mixes (``sources`` and ``mask`` as
    the mix stage uses them); deterministic for a given seed and machine."""
    import torch

    from synth.core.nets import to_tensor
    from synth.core.torch_runtime import resolve_device, torch_threads

    torch_threads()
    trainer = MixerTrainer(cfg, seed, resolve_device(cfg.device))
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng([0x4D495854, seed])  # "MIXT": the training mixes' own stream
    images = images[: cfg.train_limit] if cfg.train_limit else images
    index_for = segment_index_for(images, mask, masks[: len(images)] if masks is not None else None)
    data = to_tensor(images)
    stride = 2**cfg.downsamplings
    history: dict = {}
    for epoch in range(cfg.epochs):
        order = torch.randperm(len(data), generator=gen)
        sums: dict[str, float] = {}
        batches = 0
        for start in range(0, len(order) - 1, cfg.batch_size):
            positions = [int(i) for i in order[start : start + cfg.batch_size]]
            if len(positions) < 2:
                continue
            groups, owners = training_mixes(positions, sources, stride, index_for, rng, gen)
            losses = trainer.step(
                data[positions].to(trainer.device), groups.to(trainer.device), owners.to(trainer.device)
            )
            for key, value in losses.items():
                sums[key] = sums.get(key, 0.0) + value
            batches += 1
        history = {k: round(v / max(1, batches), 6) for k, v in sums.items()}
        log(f"mixer epoch {epoch + 1}/{cfg.epochs}: " + ", ".join(f"{k} {v:.4f}" for k, v in history.items()))
    return trainer.model(), history


def label_agreement(image: np.ndarray, images: list[np.ndarray], masks: list[np.ndarray], mask: np.ndarray) -> float:
    """Image-to-label agreement of a composite, measured on its pixels: at each pixel where the sources' labels
    differ, the source whose colour is nearest the composite's pixel; the share of those pixels where that
    source's label is the composite's label. 1.0 for an exact pixel-space composite; about 1/N when the image
    ignores the labels. NaN when no pixel tells the sources apart."""
    stack = np.stack(images).astype(np.int32)
    labels = np.stack(masks)
    informative = (labels != labels[:1]).any(axis=0) & (np.abs(stack - stack[:1]).sum(-1) > 0).any(axis=0)
    if not informative.any():
        return float("nan")
    nearest = np.abs(stack - image.astype(np.int32)[None]).sum(-1).argmin(axis=0)
    chosen = np.take_along_axis(labels, nearest[None], axis=0)[0]
    return float((chosen == mask)[informative].mean())
