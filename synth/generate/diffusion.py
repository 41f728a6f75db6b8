"""``diffusion``: Stable Diffusion (1.x, 2.x-base) images with class score maps read from its attention.

The Dataset Diffusion method (Nguyen et al., NeurIPS 2023): the prompt is the caption with the sample's class
phrases appended (``"<caption>; car tree"``); the class phrases alone are encoded as a separate *class prompt*
whose keys the captured cross-attention layers attend to, for recording only. Cross-attention at 1/32 of the
image side and self-attention at 1/16 are averaged over heads, layers and timesteps (conditional half only) and
refined by self-attention exponentiation. This module is the light config; torch and diffusers load only in
``build``.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_serializer

from synth.generate.base import Capability, Generator, GeneratorConfig, SideRecording
from synth.generate.tokens import locate_phrase
from synth.generate.unet_feature_settings import UNetFeatureSettings

if TYPE_CHECKING:
    from synth.core.dataset import DatasetContext

SchedulerName = Literal["ddim", "pndm", "euler", "dpm"]
# The diffusers class each scheduler name loads (the one place that lists them).
SCHEDULER_CLASSES: dict[SchedulerName, str] = {
    "ddim": "DDIMScheduler",
    "pndm": "PNDMScheduler",
    "euler": "EulerDiscreteScheduler",
    "dpm": "DPMSolverMultistepScheduler",
}


class DiffusionConfig(GeneratorConfig):
    type: Literal["diffusion"]
    model: str = Field(description="Hub id or local folder of a diffusers StableDiffusionPipeline.")
    revision: str | None = Field(default=None, description="Pinned commit of the model repo; recorded everywhere.")
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = Field(
        default="auto", description="auto: float16 on CUDA, float32 on CPU."
    )
    scheduler: SchedulerName = "ddim"
    steps: int = Field(default=50, ge=1, le=1000)
    guidance_scale: float = Field(default=7.5, ge=1.0)
    batch_size: int = Field(default=4, ge=1, le=256)
    device: str = Field(default="auto", description="auto (CUDA when present), cpu, cuda, cuda:1, ...")
    cross_attention_resolution: int | None = Field(
        default=None, ge=1, description="Side of the captured cross-attention maps; default image_size / 32."
    )
    self_attention_resolution: int | None = Field(
        default=None, ge=1, description="Side of the captured self-attention maps; default image_size / 16."
    )
    tau: int = Field(default=4, ge=0, le=16, description="Self-attention exponent: refined = A^tau @ cross.")
    timestep_window: tuple[float, float] = Field(
        default=(0.0, 1.0), description="Share of the denoising steps [from, to) whose attention is accumulated."
    )
    features: UNetFeatureSettings | None = Field(
        default=None, description="Record UNet decoder-block features during generation (for decode datasetgan)."
    )

    @model_serializer(mode="wrap")
    def _omit_absent_features(self, handler):
        # Recipes without in-pass features dump (and so hash, and key their shards) exactly as before.
        data = handler(self)
        if data.get("features", 0) is None:
            data.pop("features")
        return data

    def build(self, context: DatasetContext) -> Generator:
        from synth.generate.diffusion_pipeline import DiffusionGenerator

        return DiffusionGenerator(self, self, context)

    def capabilities(self) -> frozenset[Capability]:
        features = {Capability.FEATURES} if self.features is not None else set()
        return frozenset({Capability.ATTENTION_SCORES, *features})

    def how_to_add(self, capability: Capability) -> tuple[str, str] | None:
        if capability == Capability.FEATURES:
            return (
                "generator.features",
                "say which timesteps and blocks the generation pass records, e.g. {timesteps: [50, 150, 250]}",
            )
        return None

    def scheduler_class(self) -> str:
        """The diffusers scheduler class ``scheduler`` names."""
        return SCHEDULER_CLASSES[self.scheduler]

    def resolutions(self, image_size: int) -> tuple[int, int]:
        return (self.cross_attention_resolution or image_size // 32, self.self_attention_resolution or image_size // 16)

    def problems(self, context: DatasetContext) -> list[tuple[str, str]]:
        out = []
        start, stop = self.timestep_window
        if not 0.0 <= start < stop <= 1.0:
            out.append(("generator.timestep_window", f"needs 0 <= from < to <= 1, got [{start}, {stop}]"))
        if context.image_size % 8:
            out.append(("image_size", f"{context.image_size} is not a multiple of 8 (the VAE's downsampling)"))
        cross, self_res = self.resolutions(context.image_size)
        if cross < 1 or self_res < cross:
            out.append(
                ("generator.self_attention_resolution", f"{self_res} must be >= the cross-attention resolution {cross}")
            )
        if self.features is not None and len(set(self.features.timesteps)) != len(self.features.timesteps):
            out.append(("generator.features.timesteps", f"{self.features.timesteps} repeats a timestep"))
        return out

    def model_problems(self, context: DatasetContext) -> list[tuple[str, str]]:
        out = []
        tokenizer = self.load_tokenizer()
        if tokenizer is not None:
            for i, cls in enumerate(context.taxonomy.classes):
                if locate_phrase(tokenizer, cls.phrase) is None:
                    field = "prompt" if cls.prompt else "name"
                    out.append(
                        (f"taxonomy.classes[{i}].{field}", f"{cls.phrase!r} cannot be located by the model's tokenizer")
                    )
        return out

    def notes(self, context: DatasetContext) -> list[tuple[str, str]]:
        out = []
        if not self.is_local and not (self.revision and re.fullmatch(r"[0-9a-f]{40}", self.revision)):
            out.append(
                (
                    "generator.revision",
                    f"{self.revision!r} is not a pinned commit: the model may change under the recipe",
                )
            )
        if self.load_tokenizer() is None:
            out.append(
                ("generator.model", f"tokenizer of {self.model!r} is not available locally; class phrases not checked")
            )
        return out

    def load_tokenizer(self):
        """The model's own tokenizer, from a local folder or the local Hub cache only: checks never download.

        Loaded once per process (``cached_tokenizer``): the recipe checks and the generator's pipeline use the
        same one, instead of parsing its vocabulary twice before the first image."""
        return cached_tokenizer(self.model, self.revision, tokenizer_files(Path(self.model) / "tokenizer"))

    def weights_digest(self) -> str | None:
        return folder_digest(Path(self.model)) if self.is_local else None

    def evidence_format(self) -> int:
        # 2: each class map's raw [min, max] ("score_range") and the start-of-text token's map ("background")
        # beside the per-class normalised "scores" (1 stored the normalised maps alone).
        return 2

    def provenance(self) -> dict:
        return {"generator": "diffusion", "model": self.model, "revision": self.revision}

    def side_recording(self) -> SideRecording | None:
        # The feature hooks read the up blocks' outputs and change nothing the pipeline computes: images and
        # attention evidence are the same bytes with and without them (checked on the tiny SD and models/fashion-sd).
        if self.features is None:
            return None
        return SideRecording(self.model_copy(update={"features": None}), arrays=("features",), provenance=("features",))

    @property
    def is_local(self) -> bool:
        return Path(self.model).is_dir()


def tokenizer_files(folder: Path) -> tuple[tuple[str, int, int], ...]:
    """Each file of a local tokenizer folder with its size and modification time: a folder rewritten in place
    (a retrained model) is another cache key."""
    if not folder.is_dir():
        return ()
    return tuple(sorted((p.name, (st := p.stat()).st_size, st.st_mtime_ns) for p in folder.iterdir() if p.is_file()))


@functools.lru_cache(maxsize=8)
def cached_tokenizer(model: str, revision: str | None, _files: tuple):
    """``DiffusionConfig.load_tokenizer``'s work; ``_files`` only keys the cache (see ``tokenizer_files``)."""
    from transformers import CLIPTokenizer

    folder = Path(model) / "tokenizer"
    if not Path(model).is_dir():
        from huggingface_hub import snapshot_download

        try:
            snapshot = snapshot_download(
                model, revision=revision, allow_patterns=["tokenizer/*"], local_files_only=True
            )
        except Exception:
            return None
        folder = Path(snapshot) / "tokenizer"
    if not folder.is_dir() or not any(folder.iterdir()):
        return None
    try:
        return CLIPTokenizer.from_pretrained(folder)
    except (OSError, ValueError):
        return None


# The model card and its pictures may change without the model changing.
NOT_WEIGHTS = {"README.md", "preview.png", "train_log.json"}


def folder_digest(folder: Path) -> str:
    """sha256 over a pipeline folder's files (relative path and bytes), its model card excluded."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name not in NOT_WEIGHTS):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]
