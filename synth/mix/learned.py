"""HydraMix's learned mode: a small encoder-decoder trained from scratch on the dataset, mixing in feature space.

Training (CycleGAN-like generator, no pretraining): reconstruction L1 + Laplacian-pyramid L1 (a perceptual loss
that needs no pretrained network) on reconstructions, and a PatchGAN discriminator with the least-squares (LSGAN)
objective on reconstructions and on feature-space mixes, so mixes look like dataset images. Composites are then
``decoder(sum_k onehot_k(mixing mask at feature resolution) * encoder(source_k))``. Labels never come from the
network: they follow the (coarsened) mixing mask and the sources' masks exactly.

torch is imported inside the functions: loading a recipe, or a mix without ``learned:``, never pays for it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from synth.mix.config import LearnedMixer


def build_networks(cfg: LearnedMixer):
    import torch
    from torch import nn

    def norm(c: int) -> nn.Module:
        return nn.InstanceNorm2d(c, affine=True)

    class Residual(nn.Module):
        def __init__(self, c: int):
            super().__init__()
            self.body = nn.Sequential(
                nn.Conv2d(c, c, 3, padding=1, padding_mode="reflect"), norm(c), nn.ReLU(True),
                nn.Conv2d(c, c, 3, padding=1, padding_mode="reflect"), norm(c),
            )

        def forward(self, x):  # noqa: ANN001, ANN201
            return x + self.body(x)

    w = cfg.width
    enc: list[nn.Module] = [nn.Conv2d(3, w, 7, padding=3, padding_mode="reflect"), norm(w), nn.ReLU(True)]
    c = w
    for _ in range(cfg.downsamplings):
        enc += [nn.Conv2d(c, 2 * c, 4, stride=2, padding=1), norm(2 * c), nn.ReLU(True)]
        c *= 2
    enc += [Residual(c) for _ in range(cfg.residual_blocks)]
    dec: list[nn.Module] = [Residual(c) for _ in range(cfg.residual_blocks)]
    for _ in range(cfg.downsamplings):
        dec += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c, c // 2, 3, padding=1), norm(c // 2), nn.ReLU(True)]
        c //= 2
    dec += [nn.Conv2d(c, 3, 7, padding=3, padding_mode="reflect"), nn.Tanh()]
    disc = nn.Sequential(  # 70x70-style PatchGAN, shrunk: one real/fake score per patch
        nn.Conv2d(3, w, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True),
        nn.Conv2d(w, 2 * w, 4, stride=2, padding=1), norm(2 * w), nn.LeakyReLU(0.2, True),
        nn.Conv2d(2 * w, 4 * w, 4, stride=1, padding=1), norm(4 * w), nn.LeakyReLU(0.2, True),
        nn.Conv2d(4 * w, 1, 4, stride=1, padding=1),
    )
    torch.manual_seed(0)  # callers reseed; this only keeps a bare build reproducible
    return nn.Sequential(*enc), nn.Sequential(*dec), disc


def laplacian_loss(fake, real, levels: int):  # noqa: ANN001, ANN201
    """L1 between Laplacian pyramids: band-pass detail at every scale counts, not only mean colour."""
    import torch.nn.functional as F

    total = 0.0
    for _ in range(levels - 1):
        if min(fake.shape[-2:]) < 2:
            break
        fd, rd = F.avg_pool2d(fake, 2), F.avg_pool2d(real, 2)
        fu = F.interpolate(fd, size=fake.shape[-2:], mode="bilinear", align_corners=False)
        ru = F.interpolate(rd, size=real.shape[-2:], mode="bilinear", align_corners=False)
        total = total + F.l1_loss(fake - fu, real - ru)
        fake, real = fd, rd
    return total + F.l1_loss(fake, real)


def to_tensor(images: list[np.ndarray]):  # noqa: ANN201
    import torch

    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def to_uint8(batch) -> np.ndarray:  # noqa: ANN001
    return batch.add(1.0).mul(127.5).round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()


class LearnedMixerModel:
    """Encoder and decoder of a trained mixer; ``mix`` draws composites from per-cell owners."""

    def __init__(self, cfg: LearnedMixer, encoder, decoder):  # noqa: ANN001
        self.cfg, self.encoder, self.decoder = cfg, encoder.eval(), decoder.eval()
        self.stride = 2**cfg.downsamplings

    def mix(self, sources: list[list[np.ndarray]], owners: list[np.ndarray]) -> list[np.ndarray]:
        """``sources[j]`` are composite j's N images, ``owners[j]`` its N-way index map at feature resolution."""
        import torch

        out = []
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
        (folder / "config.json").write_text(json.dumps(self.cfg.model_dump(mode="json"), sort_keys=True, indent=2) + "\n")

    @classmethod
    def load(cls, folder: Path) -> LearnedMixerModel:
        from safetensors.torch import load_file

        cfg = LearnedMixer.model_validate_json((folder / "config.json").read_text())
        encoder, decoder, _ = build_networks(cfg)
        tensors = load_file(str(folder / "model.safetensors"))
        encoder.load_state_dict({k[8:]: v for k, v in tensors.items() if k.startswith("encoder.")})
        decoder.load_state_dict({k[8:]: v for k, v in tensors.items() if k.startswith("decoder.")})
        return cls(cfg, encoder, decoder)


def train_mixer(images: list[np.ndarray], cfg: LearnedMixer, seed: int, log=lambda msg: None) -> tuple[LearnedMixerModel, dict]:  # noqa: ANN001
    """Train encoder, decoder and discriminator from scratch; deterministic for a given seed and machine."""
    import torch
    import torch.nn.functional as F

    from synth.evaluate.train import resolve_device, torch_threads

    torch_threads()
    device = resolve_device(cfg.device)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    encoder, decoder, disc = build_networks(cfg)
    for net in (encoder, decoder, disc):  # reseeded init: the weights depend on `seed` only
        for module in net.modules():
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()
        net.to(device)
    data = to_tensor(images[: cfg.train_limit] if cfg.train_limit else images)
    opt_g = torch.optim.Adam([*encoder.parameters(), *decoder.parameters()], lr=cfg.lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(disc.parameters(), lr=cfg.lr, betas=(0.5, 0.999))
    weights = cfg.weights
    history: dict = {}
    for epoch in range(cfg.epochs):
        order = torch.randperm(len(data), generator=gen)
        sums = {"reconstruction": 0.0, "laplacian": 0.0, "adversarial": 0.0, "discriminator": 0.0}
        batches = 0
        for start in range(0, len(order) - 1, cfg.batch_size):
            x = data[order[start : start + cfg.batch_size]].to(device)
            if len(x) < 2:
                continue
            feats = encoder(x)
            recon = decoder(feats)
            # Training mixes: two-way, random blocks of feature cells, so the decoder learns to render seams.
            h, w = feats.shape[-2:]
            cells = (torch.rand(len(x), 1, max(1, h // 2), max(1, w // 2), generator=gen) < 0.5).float().to(device)
            m = F.interpolate(cells, size=(h, w), mode="nearest")
            mixed = decoder(m * feats + (1 - m) * feats.roll(1, dims=0))
            fakes = torch.cat([recon, mixed])
            # discriminator step (LSGAN: real -> 1, fake -> 0)
            opt_d.zero_grad()
            real_score, fake_score = disc(x), disc(fakes.detach())
            d_loss = 0.5 * (F.mse_loss(real_score, torch.ones_like(real_score)) + F.mse_loss(fake_score, torch.zeros_like(fake_score)))
            d_loss.backward()
            opt_d.step()
            # generator step
            opt_g.zero_grad()
            rec = F.l1_loss(recon, x)
            lap = laplacian_loss(recon, x, cfg.pyramid_levels)
            score = disc(fakes)
            adv = F.mse_loss(score, torch.ones_like(score))
            (weights.reconstruction * rec + weights.laplacian * lap + weights.adversarial * adv).backward()
            opt_g.step()
            for key, value in (("reconstruction", rec), ("laplacian", lap), ("adversarial", adv), ("discriminator", d_loss)):
                sums[key] += float(value.detach())
            batches += 1
        history = {k: round(v / max(1, batches), 6) for k, v in sums.items()}
        log(f"mixer epoch {epoch + 1}/{cfg.epochs}: " + ", ".join(f"{k} {v:.4f}" for k, v in history.items()))
    return LearnedMixerModel(cfg, encoder, decoder), history
