"""The ``clip`` judge: CLIP zero-shot on the class prompts, over each region's bounding-box crop.

``CLIPModel`` and ``CLIPProcessor`` load with the ordinary ``from_pretrained`` (a local folder, or a Hub id pinned
to a revision; ``trust_remote_code`` is never used). The crop keeps the region's pixels and greys out the rest of
its box, so a small region is judged, not the biggest thing beside it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from synth.errors import UserError
from synth.labelcheck.judge import Judge, Region


def region_crop(image: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """The region's bounding box, pixels outside the region set to mid grey."""
    ys, xs = np.nonzero(pixels)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    rgb = image if image.ndim == 3 else np.repeat(image[..., None], 3, axis=2)
    box = rgb[y0:y1, x0:x1, :3].copy()
    box[~pixels[y0:y1, x0:x1]] = 128
    return box


class ClipJudge(Judge):
    def __init__(self, model, processor, class_prompts: list[str], template: str):
        import torch

        self.model, self.processor = model, processor
        texts = [template.format(name=p) for p in class_prompts]
        with torch.no_grad():
            tokens = processor(text=texts, return_tensors="pt", padding=True)
            text = model.get_text_features(**tokens)
            text = text if isinstance(text, torch.Tensor) else text.pooler_output
        self.text = torch.nn.functional.normalize(text, dim=-1)

    @classmethod
    def load(cls, config, class_prompts: list[str], where: str = "validation.judge") -> ClipJudge:
        from transformers import CLIPModel, CLIPProcessor

        local = Path(config.model).is_dir()
        kwargs = {} if local or config.revision is None else {"revision": config.revision}
        try:
            model = CLIPModel.from_pretrained(config.model, **kwargs).eval()
            processor = CLIPProcessor.from_pretrained(config.model, **kwargs)
        except (OSError, ValueError) as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise UserError(f"{where}.model: cannot load CLIP from {config.model!r} ({first})") from None
        return cls(model, processor, class_prompts, config.template)

    def name_regions(self, images: list[np.ndarray], found: list[Region]) -> list[int]:
        import torch

        named = []
        for start in range(0, len(found), 64):
            crops = [region_crop(images[r.sample], r.pixels) for r in found[start : start + 64]]
            with torch.no_grad():
                pixels = self.processor(images=crops, return_tensors="pt")
                image = self.model.get_image_features(**pixels)
                image = image if isinstance(image, torch.Tensor) else image.pooler_output
            scores = torch.nn.functional.normalize(image, dim=-1) @ self.text.T
            named.extend(scores.argmax(1).tolist())
        return named
