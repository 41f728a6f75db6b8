"""The ``fashion-classifier`` judge: the scripted annotator's CNN (trained on the real Fashion-MNIST train split)
names each region's crop, framed as a Fashion-MNIST photo. A stand-in for CLIP, which has not seen 64 px grey
garments and cannot be downloaded here; its classes are Fashion-MNIST's, in the taxonomy order of the recipes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from synth.errors import UserError
from synth.labelcheck.judge import Judge, Region

FASHION_CLASSES = 10


class FashionJudge(Judge):
    def __init__(self, classifier):
        self.classifier = classifier

    @classmethod
    def load(cls, config, class_prompts: list[str], where: str = "validation.judge") -> FashionJudge:
        from synth.realdata.annotator import load_classifier

        path = Path(config.path)
        if not path.is_file():
            raise UserError(
                f"{where}.path: {path} is not a file; train it with `python scripts/train_fashion_judge.py`"
            )
        if len(class_prompts) != FASHION_CLASSES:
            raise UserError(
                f"{where}: fashion-classifier names the {FASHION_CLASSES} Fashion-MNIST classes; "
                f"the taxonomy has {len(class_prompts)}"
            )
        try:
            return cls(load_classifier(path))
        except Exception as error:  # a damaged or foreign safetensors file
            raise UserError(f"{where}.path: {path}: not the fashion classifier ({error})") from None

    def name_regions(self, images: list[np.ndarray], found: list[Region]) -> list[int]:
        import torch

        from synth.agreement import grey
        from synth.realdata.annotator import crop28

        crops = np.stack([crop28(grey(images[r.sample]), r.pixels) for r in found]).astype(np.float32) / 255.0
        with torch.no_grad():
            logits = torch.cat(
                [self.classifier(torch.from_numpy(crops[i : i + 512])[:, None]) for i in range(0, len(crops), 512)]
            )
        return logits.argmax(1).tolist()
