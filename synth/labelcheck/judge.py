"""A judge names what each labelled region of a mask shows, so a mask can be compared with its content.

A region is one connected component of one class (specks under ``MIN_REGION_PIXELS`` are skipped); the judge sees
its crop and answers with one of the taxonomy's classes. Per sample, agreement is the share of labelled pixels
whose region the judge names as labelled; per class, the share of its regions named as that class.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from synth.core.labels import IGNORE_ID

MIN_REGION_PIXELS = 12  # as the scripted annotator's specks (synth.realdata.annotator.MIN_PIXELS)


@dataclass(frozen=True)
class Region:
    sample: int  # position in the list judged
    class_index: int  # 0-based index into the taxonomy's classes (class id - 1 for contiguous ids)
    pixels: np.ndarray  # bool H x W


@dataclass(frozen=True)
class Verdict:
    region: Region
    named: int  # class index the judge chose


def regions(mask: np.ndarray, class_ids: list[int], sample: int = 0) -> list[Region]:
    """Every connected component (4-connected) of every class in ``mask``, specks excepted."""
    out = []
    for index, cid in enumerate(class_ids):
        present = mask == cid
        if not present.any():
            continue
        labels, count = ndimage.label(present)
        for component in range(1, count + 1):
            pixels = labels == component
            if pixels.sum() >= MIN_REGION_PIXELS:
                out.append(Region(sample, index, pixels))
    return out


class Judge:
    """Names regions. Subclasses implement ``name_regions`` on a batch of (image, region) pairs."""

    def name_regions(self, images: list[np.ndarray], found: list[Region]) -> list[int]:
        raise NotImplementedError

    def judge(self, images: list[np.ndarray], masks: list[np.ndarray], class_ids: list[int]) -> list[Verdict]:
        found = [r for i, mask in enumerate(masks) for r in regions(mask, class_ids, i)]
        named = self.name_regions(images, found) if found else []
        return [Verdict(region, int(n)) for region, n in zip(found, named)]


def sample_agreement(verdicts: list[Verdict], masks: list[np.ndarray]) -> np.ndarray:
    """Per sample: the share of labelled pixels in regions the judge names as labelled (1 where nothing labelled
    was judged: no region is no disagreement; empty masks are the ``empty`` check's job)."""
    agreed = np.zeros(len(masks))
    judged = np.zeros(len(masks))
    for v in verdicts:
        size = float(v.region.pixels.sum())
        judged[v.region.sample] += size
        agreed[v.region.sample] += size * (v.named == v.region.class_index)
    labelled = np.array([float(((m != 0) & (m != IGNORE_ID)).sum()) for m in masks])
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(judged > 0, agreed / np.maximum(judged, 1), 1.0)
    # unjudged specks count for neither side; a mask with labels but no judged region is not scored down
    return np.where(labelled > 0, share, 1.0)


def class_agreement(verdicts: list[Verdict], class_names: list[str]) -> dict[str, dict]:
    """Per class: regions judged, the share named as the class, and what the judge named most instead."""
    out = {}
    for index, name in enumerate(class_names):
        mine = [v for v in verdicts if v.region.class_index == index]
        wrong = [v.named for v in mine if v.named != index]
        out[name] = {
            "regions": len(mine),
            "agreement": None if not mine else round(1 - len(wrong) / len(mine), 6),
            "most_named_instead": None if not wrong else class_names[int(np.bincount(wrong).argmax())],
        }
    return out
