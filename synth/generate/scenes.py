"""``scenes``: procedural compositions with exact masks, on the CPU, in milliseconds.

For demos and tests only. It is not a substitute for a learned generator: its images are abstract shapes, not
photographs. What it gives every later stage is ground truth: the mask is exact by construction, so decoders,
validation, mixing and adaptation can be measured against known answers.

Each class is a distinct family of shapes with its own colour and texture statistics; instances vary in scale,
position, rotation and count, occlude each other in drawing order, and sit on a textured background. Classes
with a ``parent`` (car > wheel) are drawn as parts inside instances of their parent, to any depth
(table > leg > foot).

It also knows which object each pixel shows, and stores it (``arrays["instances"]``, ``INSTANCES_FORMAT``): the
build carries it as the ``instances`` column and the COCO export makes one annotation per object from it, so two
touching cars are two annotations, not one region.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
from PIL import Image
from pydantic import Field, model_serializer

from synth.core.config import Strict
from synth.core.hashing import settings_hash
from synth.generate.base import Capability, Generator, GeneratorConfig, Sample

if TYPE_CHECKING:
    from synth.core.dataset import ClassDef, DatasetContext
    from synth.generate.prompts import SamplePlan

_SCENE_STREAM = 0x5343454E  # "SCEN"
INSTANCES_FORMAT = 1  # evidence format: 1 = the instance map in arrays["instances"] (before: no arrays at all)


def _ellipse(u, v):
    return u * u + (v * 1.4) ** 2 <= 1.0


def _rectangle(u, v):
    return (np.abs(u) <= 1.0) & (np.abs(v) <= 0.6)


def _triangle(u, v):
    return (v <= 0.8) & (np.abs(u) <= (0.8 - v) * 0.62)


def _star(u, v):
    return np.hypot(u, v) <= 0.55 + 0.4 * np.cos(5 * np.arctan2(v, u))


def _ring(u, v):
    r = np.hypot(u, v)
    return (r <= 1.0) & (r >= 0.55)


def _blob(u, v):
    return np.hypot(u, v) <= 0.8 + 0.2 * np.sin(3 * np.arctan2(v, u))


def _diamond(u, v):
    return np.abs(u) + np.abs(v) * 1.3 <= 1.0


def _cross(u, v):
    au, av = np.abs(u), np.abs(v)
    return ((au <= 0.28) & (av <= 1.0)) | ((au <= 1.0) & (av <= 0.28))


SHAPE_FAMILIES = (_ellipse, _rectangle, _triangle, _star, _ring, _blob, _diamond, _cross)
TEXTURES = ("noise", "stripes", "spots", "shaded")


class InstanceCount(Strict):
    min: int = Field(default=1, ge=1)
    max: int = Field(default=3, ge=1)


class ScenesConfig(GeneratorConfig):
    """Settings of the procedural generator. ``style`` changes the look without changing the geometry."""

    type: Literal["scenes"]
    instances: InstanceCount = Field(default_factory=InstanceCount, description="Instances per drawn class.")
    min_scale: float = Field(default=0.10, gt=0, le=1, description="Smallest instance radius / image side.")
    max_scale: float = Field(default=0.28, gt=0, le=1, description="Largest instance radius / image side.")
    texture_strength: float = Field(default=0.3, ge=0, le=1)
    color_jitter: float = Field(default=0.12, ge=0, le=1, description="Per-instance brightness jitter.")
    sensor_noise: float = Field(default=2.0, ge=0, le=64, description="Gaussian pixel noise, std in 0-255 units.")
    blur: float = Field(default=0.0, ge=0, le=16, description="Gaussian blur sigma in pixels.")
    background_palette: Literal["earth", "urban", "night", "pastel"] = "earth"
    # Appearance-only settings for target domains with known labels (docs/mixing-and-adaptation.md).
    hue_shift: float = Field(default=0.0, ge=-180, le=180, description="Rotate every colour's hue, in degrees.")
    saturation: float = Field(default=1.0, ge=0, le=4, description="Scale colour saturation (1 = unchanged).")
    tint: tuple[float, float, float] = Field(
        default=(1.0, 1.0, 1.0), description="Per-channel RGB gain (white balance)."
    )
    gamma: float = Field(default=1.0, gt=0, le=4, description="Tone curve 255 * (v / 255) ** gamma (1 = unchanged).")

    @model_serializer(mode="wrap")
    def _omit_neutral_appearance(self, handler):
        # Neutral appearance settings are left out of dumps, so hashes and bytes of existing recipes stay the same.
        data = handler(self)
        for key, neutral in _NEUTRAL_APPEARANCE.items():
            if getattr(self, key) == neutral:
                data.pop(key, None)
        return data

    def build(self, context: DatasetContext) -> Generator:
        return ScenesGenerator(self, context)

    def capabilities(self) -> frozenset[Capability]:
        return frozenset({Capability.EXACT_MASKS, Capability.INSTANCES})

    def evidence_format(self) -> int:
        # The instance map joined the samples: scenes shards get new keys, every other generator's keep theirs.
        return INSTANCES_FORMAT

    def problems(self, context: DatasetContext) -> list[tuple[str, str]]:
        out = []
        if self.min_scale > self.max_scale:
            out.append(("generator.min_scale", f"{self.min_scale} is greater than max_scale {self.max_scale}"))
        if self.instances.min > self.instances.max:
            out.append(("generator.instances", f"min {self.instances.min} is greater than max {self.instances.max}"))
        return out

    def provenance(self) -> dict:
        from synth import __version__

        return {"generator": "scenes", "model": "synth.generate.scenes", "revision": __version__}


_NEUTRAL_APPEARANCE = {"hue_shift": 0.0, "saturation": 1.0, "tint": (1.0, 1.0, 1.0), "gamma": 1.0}

_PALETTES = {
    "earth": ((96, 120, 70), (150, 140, 110), (90, 110, 140)),
    "urban": ((110, 110, 115), (150, 150, 150), (80, 85, 95)),
    "night": ((20, 24, 48), (40, 40, 70), (10, 10, 20)),
    "pastel": ((220, 200, 210), (200, 220, 230), (230, 230, 200)),
}


class ScenesGenerator(Generator):
    config: ScenesConfig

    def __init__(self, config: ScenesConfig, context: DatasetContext):
        super().__init__(config, context)
        self.size = context.image_size
        classes = context.taxonomy.classes
        self.index = {c.id: i for i, c in enumerate(classes)}
        self.children: dict[str, list[ClassDef]] = {}
        for c in classes:
            if c.parent is not None:
                self.children.setdefault(c.parent, []).append(c)
        self.provenance = config.provenance() | {"settings_hash": settings_hash(config)}

    def generate(self, plans: list[SamplePlan]) -> list[Sample]:
        return [self._one(plan) for plan in plans]

    def _one(self, plan: SamplePlan) -> Sample:
        cfg = self.config
        rng = np.random.default_rng([_SCENE_STREAM, plan.seed])
        n = self.size
        image = self._background(rng)
        mask = np.zeros((n, n), dtype=np.uint8)
        objects = ObjectMap(n)
        by_id = self.context.taxonomy.by_id()
        instances = [
            by_id[cid]
            for cid in plan.class_ids
            for _ in range(int(rng.integers(cfg.instances.min, cfg.instances.max + 1)))
        ]
        for k in rng.permutation(len(instances)):
            cls = instances[k]
            scale = rng.uniform(cfg.min_scale, cfg.max_scale) * n
            center = rng.uniform(0.1 * n, 0.9 * n, size=2)
            region = self._draw(rng, image, mask, cls, center, scale, within=None)
            objects.add(region)
            self._draw_parts(rng, image, mask, objects, cls, region, scale)
        if cfg.blur > 0:
            from scipy.ndimage import gaussian_filter

            image = gaussian_filter(image, sigma=(cfg.blur, cfg.blur, 0))
        if cfg.hue_shift != 0.0 or cfg.saturation != 1.0:
            image = _shift_hue(image, cfg.hue_shift, cfg.saturation)
        if cfg.tint != (1.0, 1.0, 1.0):
            image = image * np.asarray(cfg.tint, dtype=np.float32)
        if cfg.gamma != 1.0:
            image = 255.0 * (np.clip(image, 0, 255) / 255.0) ** np.float32(cfg.gamma)
        if cfg.sensor_noise > 0:
            image = image + rng.standard_normal(size=image.shape, dtype=np.float32) * np.float32(cfg.sensor_noise)
        pixels = np.clip(image + 0.5, 0, 255).astype(np.uint8)
        return Sample(
            plan.seed,
            pixels,
            plan.caption,
            mask=mask,
            arrays={"instances": objects.instances()},
            provenance=dict(self.provenance),
        )

    def _draw_parts(self, rng, image, mask, objects: ObjectMap, cls: ClassDef, region, scale: float) -> None:
        """1-2 instances of each part of ``cls`` inside the pixels its instance got, then their parts inside them.

        Part-of chains of any depth (table > leg > foot): each level is 20-35% of its parent's size (at least
        2 px radius) and drawn only over pixels that still show the parent. A part with no parts of its own
        draws nothing more from ``rng``, so one-level taxonomies give the same bytes as before.
        """
        for part in self.children.get(cls.name, []):
            for _ in range(int(rng.integers(1, 3))):
                if region is None:
                    break
                ys, xs, inside = region
                pick = rng.integers(inside.sum()) if inside.any() else None
                if pick is None:
                    break
                py, px = np.argwhere(inside)[pick]
                part_scale = scale * rng.uniform(0.2, 0.35)
                drawn = self._draw(
                    rng, image, mask, part, (ys.start + py, xs.start + px), part_scale, within=(region, cls.id)
                )
                objects.add(drawn)
                self._draw_parts(rng, image, mask, objects, part, drawn, part_scale)

    def _background(self, rng: np.random.Generator) -> np.ndarray:
        cfg = self.config
        n = self.size
        palette = np.array(_PALETTES[cfg.background_palette], dtype=np.float32)
        top, bottom = palette[rng.choice(3, size=2, replace=False)] * rng.uniform(0.8, 1.2, size=(2, 1))
        t = np.linspace(0.0, 1.0, n, dtype=np.float32)[:, None, None]
        image = np.broadcast_to(top * (1 - t) + bottom * t, (n, n, 3)).astype(np.float32)
        texture = _smooth_noise(rng, n, n, cell=max(4, n // 16)) - 0.5
        return image + texture[..., None] * 60.0 * (0.5 + cfg.texture_strength)

    def _draw(self, rng, image, mask, cls: ClassDef, center, scale, within):
        cfg = self.config
        n = self.size
        index = self.index[cls.id]
        cy, cx = center
        radius = max(2.0, float(scale))
        y0, y1 = max(0, int(cy - radius)), min(n, int(cy + radius) + 1)
        x0, x1 = max(0, int(cx - radius)), min(n, int(cx + radius) + 1)
        if y1 - y0 < 2 or x1 - x0 < 2:
            return None
        yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        theta = rng.uniform(0, 2 * np.pi)
        dy, dx = (yy - cy) / radius, (xx - cx) / radius
        u = dx * np.cos(theta) + dy * np.sin(theta)
        v = -dx * np.sin(theta) + dy * np.cos(theta)
        inside = SHAPE_FAMILIES[index % len(SHAPE_FAMILIES)](u, v)
        ys, xs = slice(y0, y1), slice(x0, x1)
        if within is not None:
            (pys, pxs, parent_inside), parent_id = within
            parent = np.zeros((n, n), dtype=bool)
            parent[pys, pxs] = parent_inside & (mask[pys, pxs] == parent_id)
            inside &= parent[ys, xs]
        if not inside.any():
            return None
        texture = self._texture(rng, index, u, v, y1 - y0, x1 - x0)
        base = np.array(cls.rgb, dtype=np.float32) * (1 + rng.uniform(-cfg.color_jitter, cfg.color_jitter))
        patch = base + texture[..., None] * 90.0 * cfg.texture_strength
        image[ys, xs][inside] = patch[inside]
        mask[ys, xs][inside] = cls.id
        return ys, xs, inside

    def _texture(self, rng, index: int, u, v, h: int, w: int) -> np.ndarray:
        kind = TEXTURES[index % len(TEXTURES)]
        if kind == "noise":
            return _smooth_noise(rng, h, w, cell=3 + index % 5) - 0.5
        if kind == "stripes":
            freq = 4.0 + 2.0 * (index % 3)
            return 0.5 * np.sin(freq * np.pi * (u + 0.3 * v) + rng.uniform(0, 2 * np.pi))
        if kind == "spots":
            freq = 3.0 + index % 4
            return 0.5 * np.sign(np.sin(freq * np.pi * u) * np.sin(freq * np.pi * v))
        return 0.6 * (v - 0.4 * u) / 2.0  # shaded: a lit-from-above gradient


class ObjectMap:
    """Which drawn object each pixel shows: objects are numbered 1, 2, ... in drawing order, and a later one
    takes the pixels it covers, exactly as in the mask. A part (a wheel) is an object of its own, cut out of its
    parent; an object hidden entirely by later ones leaves its number unused. Drawing from ``rng`` is untouched,
    so images and masks keep their bytes."""

    def __init__(self, size: int):
        self._ids = np.zeros((size, size), dtype=np.uint16)
        self._count = 0

    def add(self, region) -> None:
        if region is None:
            return
        ys, xs, inside = region
        self._count += 1
        self._ids[ys, xs][inside] = self._count

    def instances(self) -> np.ndarray:
        """H x W, 0 where no object shows; uint8 while the numbers fit (every scene so far), else uint16."""
        return self._ids.astype(np.uint8) if self._count <= np.iinfo(np.uint8).max else self._ids


def _shift_hue(image: np.ndarray, degrees: float, saturation: float) -> np.ndarray:
    """Rotate (and scale) the chroma plane of YIQ: a linear hue/saturation change that keeps luma."""
    to_yiq = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]], dtype=np.float32)
    a = np.deg2rad(degrees)
    rotate = np.array(
        [
            [1, 0, 0],
            [0, np.cos(a) * saturation, -np.sin(a) * saturation],
            [0, np.sin(a) * saturation, np.cos(a) * saturation],
        ],
        dtype=np.float32,
    )
    matrix = np.linalg.inv(to_yiq) @ rotate @ to_yiq
    return image @ matrix.T.astype(np.float32)


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cell: int) -> np.ndarray:
    coarse = rng.random((h // cell + 2, w // cell + 2), dtype=np.float32)
    return np.asarray(Image.fromarray(coarse, mode="F").resize((w, h), Image.Resampling.BILINEAR))
