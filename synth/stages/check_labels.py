"""``synth check-labels PATH``: the validate stage's per-sample label checks on any Hub-layout dataset folder.

The folder is what ``datasets.load_dataset`` reads (Parquet files with ``image`` and ``mask`` columns, as
``build/NAME`` holds) plus ``id2label.json``; the scores are the same functions the build's gate uses
(synth.agreement, synth.labelcheck), the judge only when one is named, cleanlab's ranking unless turned off. One
row per sample: ``split``, ``index`` (its row in the order ``load_dataset`` returns that split), every score with
lower = more likely wrong, ``flagged`` and ``reason``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from synth.core.atomic import write_atomic
from synth.errors import UserError
from synth.labelcheck.config import LabelCheckSettings
from synth.labelcheck.scores import flag_reasons, oriented, score_labels

FORMATS = (".parquet", ".csv")


@dataclass
class CheckLabelsReport:
    out: Path
    samples: int
    flagged: int
    scores: list[str]
    judge: str | None

    def summary(self) -> str:
        judge = f"judge {self.judge}" if self.judge else "no judge (no label-content check)"
        return (
            f"check-labels: {self.flagged} of {self.samples} samples flagged; scores {', '.join(self.scores)}; "
            f"{judge}; wrote {self.out}"
        )


def read_id2label(folder: Path) -> dict[int, str]:
    path = folder / "id2label.json"
    if not path.is_file():
        raise UserError(f"{folder}: no id2label.json; not a dataset folder in the Hub layout")
    try:
        return {int(k): str(v) for k, v in json.loads(path.read_text()).items()}
    except (json.JSONDecodeError, AttributeError, TypeError, ValueError) as error:
        raise UserError(f"{path}: not a mapping of label ids to names ({error})") from None


def load_splits(folder: Path) -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    """``split -> [(image, mask), ...]`` in ``load_dataset`` order."""
    from datasets import load_dataset

    if not any(folder.rglob("*.parquet")):
        raise UserError(f"{folder}: no Parquet files; not a dataset folder in the Hub layout")
    try:
        dataset = load_dataset(str(folder))
    except Exception as error:  # datasets raises many kinds for unreadable folders and files
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserError(f"{folder}: load_dataset cannot read it ({first})") from None
    out = {}
    for split, rows in dataset.items():
        missing = {"image", "mask"} - set(rows.column_names)
        if missing:
            raise UserError(f"{folder}: split {split} has no {', '.join(sorted(missing))} column")
        out[split] = [(np.asarray(r["image"]), np.asarray(r["mask"])) for r in rows]
    return out


def check_labels(folder: Path, out: Path, settings: LabelCheckSettings | None = None) -> CheckLabelsReport:
    """Score every sample of the dataset at ``folder`` and write one row per sample to ``out`` (.parquet/.csv).

    Bad input (folder, id2label, columns, output suffix, judge) is a ``UserError`` before anything is written.
    """
    folder, out = Path(folder), Path(out)
    settings = settings or LabelCheckSettings()
    if out.suffix not in FORMATS:
        raise UserError(f"--out {out}: write .parquet or .csv, not {out.suffix or 'no suffix'}")
    if not folder.is_dir():
        raise UserError(f"{folder}: no such dataset folder")
    id2label = read_id2label(folder)
    classes = sorted(k for k in id2label if k not in (0, 255))
    names = [id2label[k] for k in classes]
    judge = None if settings.judge is None else settings.judge.build([n.replace("_", " ") for n in names])
    splits = load_splits(folder)
    frames = []
    for split, pairs in splits.items():
        images, masks = [p[0] for p in pairs], [p[1] for p in pairs]
        scores = score_labels(images, masks, classes, names, settings, judge).table
        frames.append(scores.assign(split=split, index=np.arange(len(pairs))))
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    reasons = flag_reasons(table, settings)
    table = oriented(table).assign(flagged=(reasons != "").to_numpy(), reason=reasons.to_numpy())
    score_columns = [c for c in table.columns if c not in ("split", "index", "flagged", "reason")]
    table = table[["split", "index", *score_columns, "flagged", "reason"]]
    _write(table, out)
    judge_name = None if settings.judge is None else settings.judge.type
    return CheckLabelsReport(out, len(table), int(table["flagged"].sum()), score_columns, judge_name)


def _write(table: pd.DataFrame, out: Path) -> None:
    """Written next to ``out`` and renamed into place: a failed run leaves no half-written file."""
    if out.suffix == ".csv":
        write_atomic(out, lambda tmp: table.to_csv(tmp, index=False))
    else:
        write_atomic(out, lambda tmp: table.to_parquet(tmp, index=False))
