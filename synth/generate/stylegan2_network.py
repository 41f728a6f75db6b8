"""A compact StyleGAN2 generator (Karras et al., 2020) in plain torch, loaded from safetensors.

What makes it StyleGAN2: a mapping network (pixel-normalised z -> 8 equalised-lr FC layers with lr multiplier
0.01 -> w, running average of w for truncation), a learned 4x4 constant, per-layer modulated 3x3 convolutions
with weight demodulation, per-pixel noise inputs with learned strength, and toRGB layers (modulated 1x1, no
demodulation) whose outputs are upsampled and summed (skip architecture). Upsampling is bilinear before the
convolution: the separable [1, 3, 3, 1] filter the official code applies after a transposed convolution is
exactly the bilinear 2x kernel, so only the order differs. The weight layout is this module's own; official
``.pkl`` checkpoints need a conversion into it (see docs/datasetgan.md).

DatasetGAN's pixel features are the outputs of every style-modulated layer, which ``synthesize`` returns beside
the image, so one pass yields both.

Checkpoints are safetensors (tensors plus the architecture as JSON metadata). Pickled checkpoints
(``.pkl``/``.pt``/``.pth``/``.ckpt``) run arbitrary code when loaded and are refused unless the recipe sets
``allow_pickle: true``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from synth.errors import UserError

FORMAT = "synth-stylegan2/1"
PICKLE_SUFFIXES = {".pkl", ".pt", ".pth", ".ckpt", ".bin"}


def _lrelu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2) * math.sqrt(2.0)


class EqualLinear(nn.Module):
    """Equalised learning rate: weights stored at unit variance, scaled at run time."""

    def __init__(self, fan_in: int, fan_out: int, bias_init: float = 0.0, lr_mul: float = 1.0, activate: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(fan_out, fan_in) / lr_mul)
        self.bias = nn.Parameter(torch.full((fan_out,), float(bias_init)))
        self.scale = lr_mul / math.sqrt(fan_in)
        self.lr_mul = lr_mul
        self.activate = activate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.linear(x, self.weight * self.scale, self.bias * self.lr_mul)
        return _lrelu(out) if self.activate else out


class MappingNetwork(nn.Module):
    w_avg: torch.Tensor  # a buffer (register_buffer), typed for the checker

    def __init__(self, z_dim: int, w_dim: int, layers: int = 8, lr_mul: float = 0.01):
        super().__init__()
        dims = [z_dim] + [w_dim] * layers
        self.net = nn.Sequential(*[EqualLinear(a, b, lr_mul=lr_mul, activate=True) for a, b in zip(dims, dims[1:])])
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, z: torch.Tensor, truncation_psi: float = 1.0) -> torch.Tensor:
        z = z * torch.rsqrt(z.pow(2).mean(dim=1, keepdim=True) + 1e-8)
        w = self.net(z)
        if truncation_psi != 1.0:
            w = self.w_avg.lerp(w, truncation_psi)
        return w


class ModulatedConv(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int, w_dim: int, demodulate: bool = True, upsample: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin, kernel, kernel))
        self.affine = EqualLinear(w_dim, cin, bias_init=1.0)
        self.scale = 1.0 / math.sqrt(cin * kernel * kernel)
        self.demodulate, self.upsample, self.padding = demodulate, upsample, kernel // 2

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        batch, cin, _, _ = x.shape
        style = self.affine(w)  # B x cin
        weight = self.weight[None] * self.scale * style[:, None, :, None, None]  # B x cout x cin x k x k
        if self.demodulate:
            weight = weight * torch.rsqrt(weight.pow(2).sum(dim=(2, 3, 4), keepdim=True) + 1e-8)
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        cout = weight.shape[1]
        out = F.conv2d(
            x.reshape(1, batch * cin, *x.shape[2:]),
            weight.reshape(batch * cout, cin, *weight.shape[3:]),
            padding=self.padding,
            groups=batch,
        )
        return out.reshape(batch, cout, *out.shape[2:])


class StyledLayer(nn.Module):
    """Modulated conv + noise + bias + lrelu: one of the layers whose outputs DatasetGAN reads."""

    def __init__(self, cin: int, cout: int, w_dim: int, upsample: bool = False):
        super().__init__()
        self.conv = ModulatedConv(cin, cout, 3, w_dim, upsample=upsample)
        self.noise_strength = nn.Parameter(torch.zeros(()))
        self.bias = nn.Parameter(torch.zeros(cout))

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        x = self.conv(x, w) + self.noise_strength * noise
        return _lrelu(x + self.bias[None, :, None, None])


class ToRGB(nn.Module):
    def __init__(self, cin: int, w_dim: int, channels: int = 3):
        super().__init__()
        self.conv = ModulatedConv(cin, channels, 1, w_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return self.conv(x, w) + self.bias[None, :, None, None]


class StyleGAN2Generator(nn.Module):
    def __init__(
        self,
        resolution: int = 64,
        z_dim: int = 512,
        w_dim: int = 512,
        mapping_layers: int = 8,
        channel_base: int = 16384,
        channel_max: int = 512,
        img_channels: int = 3,
    ):
        super().__init__()
        if resolution < 4 or resolution & (resolution - 1):
            raise UserError(f"stylegan2: resolution {resolution} must be a power of two >= 4")
        self.config = {
            "resolution": resolution,
            "z_dim": z_dim,
            "w_dim": w_dim,
            "mapping_layers": mapping_layers,
            "channel_base": channel_base,
            "channel_max": channel_max,
            "img_channels": img_channels,
        }
        self.z_dim = z_dim
        self.mapping = MappingNetwork(z_dim, w_dim, mapping_layers)
        self.resolutions = [2**i for i in range(2, int(math.log2(resolution)) + 1)]
        ch = {r: min(channel_base // r, channel_max) for r in self.resolutions}
        self.const = nn.Parameter(torch.randn(ch[4], 4, 4))
        self.layers = nn.ModuleList()
        self.to_rgb = nn.ModuleList()
        for r in self.resolutions:
            if r == 4:
                self.layers.append(StyledLayer(ch[4], ch[4], w_dim))
            else:
                self.layers.append(StyledLayer(ch[r // 2], ch[r], w_dim, upsample=True))
                self.layers.append(StyledLayer(ch[r], ch[r], w_dim))
            self.to_rgb.append(ToRGB(ch[r], w_dim, img_channels))

    @property
    def layer_channels(self) -> list[int]:
        return [layer.bias.shape[0] for layer in self.layers if isinstance(layer, StyledLayer)]  # all of them

    def synthesize(self, w: torch.Tensor, noise_seed: int | None = 0) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Image (B x 3 x R x R, about [-1, 1]) and the output of every styled layer, in one pass."""
        generator = torch.Generator().manual_seed(int(noise_seed or 0))
        x = self.const[None].expand(w.shape[0], -1, -1, -1)
        rgb: torch.Tensor | None = None
        features = []
        layers = iter(self.layers)
        for r, to_rgb in zip(self.resolutions, self.to_rgb):
            for _ in range(1 if r == 4 else 2):
                layer = next(layers)
                noise = torch.randn((w.shape[0], 1, r, r), generator=generator).to(x.device, x.dtype)
                x = layer(x, w, noise)
                features.append(x)
            y = to_rgb(x, w)
            rgb = y if rgb is None else F.interpolate(rgb, scale_factor=2, mode="bilinear", align_corners=False) + y
        assert rgb is not None  # resolutions always holds 4
        return rgb, features

    def forward(self, z: torch.Tensor, truncation_psi: float = 1.0, noise_seed: int | None = 0):
        return self.synthesize(self.mapping(z, truncation_psi), noise_seed)


def latent_for_seed(seed: int, z_dim: int) -> torch.Tensor:
    return torch.randn((1, z_dim), generator=torch.Generator().manual_seed(int(seed)))


def save_stylegan2(model: StyleGAN2Generator, path: str | Path) -> None:
    from safetensors.torch import save_file

    tensors = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, str(path), metadata={"format": FORMAT, "config": json.dumps(model.config, sort_keys=True)})


def load_stylegan2(
    path: str | Path, allow_pickle: bool = False, where: str = "generator.checkpoint"
) -> StyleGAN2Generator:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{where}: {path}: no such checkpoint")
    if path.suffix in PICKLE_SUFFIXES:
        if not allow_pickle:
            raise UserError(
                f"{where}: {path}: pickled checkpoint refused (loading a pickle runs arbitrary code); "
                "convert it to .safetensors or set allow_pickle: true in the recipe"
            )
        blob = torch.load(path, map_location="cpu", weights_only=False)
        if not isinstance(blob, dict) or "config" not in blob or "state_dict" not in blob:
            raise UserError(f"{where}: {path}: expected a dict with 'config' and 'state_dict'")
        config, state = blob["config"], blob["state_dict"]
    elif path.suffix == ".safetensors":
        from safetensors import SafetensorError, safe_open
        from safetensors.torch import load_file

        try:
            with safe_open(str(path), framework="pt") as handle:
                meta = handle.metadata() or {}
            state = load_file(str(path))
        except (SafetensorError, OSError) as error:
            raise UserError(f"{where}: {path}: not a readable safetensors file ({error})") from None
        if meta.get("format") != FORMAT or "config" not in meta:
            raise UserError(f"{where}: {path}: not a {FORMAT} checkpoint (metadata 'format' is {meta.get('format')!r})")
        config = json.loads(meta["config"])
    else:
        raise UserError(f"{where}: {path}: unknown checkpoint type {path.suffix!r}; use .safetensors")
    model = StyleGAN2Generator(**config)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise UserError(
            f"{where}: {path}: weights do not fit the architecture (missing {missing[:3]}, unexpected {unexpected[:3]})"
        )
    return model.eval().requires_grad_(False)
