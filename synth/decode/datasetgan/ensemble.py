"""The label decoder ("style interpreter"): an ensemble of per-pixel MLPs, its vote and its uncertainty.

Training reads a fixed matrix of *sampled* pixels (class-stratified, float16, its size capped by the caller's
memory budget), never every pixel of every annotated image: the reference implementation's 160+ GB of RAM is
exactly that full matrix. Members differ by initialisation, shuffling and validation split, as in DatasetGAN.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

if TYPE_CHECKING:
    from synth.store.records import SampleRecord

FORMAT = "synth-datasetgan-ensemble/1"


def canonical_safetensors(data: bytes) -> bytes:
    """The same safetensors file with its JSON header's keys sorted, so equal contents are equal bytes.

    safetensors writes the ``__metadata__`` keys in a per-process (hash map) order, so the same ensemble trained
    twice differed in its first bytes, and DVC, which hashes files, saw a changed ``data/NAME`` on every fresh
    clone (and reran the evaluation). The format allows any key order and a header padded with spaces; the tensor
    offsets are relative to the data after the header, so only the header is rewritten (padded to 8 bytes, as
    safetensors pads it)."""
    length = int.from_bytes(data[:8], "little")
    header = json.dumps(json.loads(data[8 : 8 + length]), sort_keys=True, separators=(",", ":")).encode()
    header += b" " * (-len(header) % 8)
    return len(header).to_bytes(8, "little") + header + data[8 + length :]


def make_mlp(dim: int, num_classes: int) -> nn.Sequential:
    """DatasetGAN's classifier: 128/32 hidden units when there are fewer than 32 classes, else 256/128."""
    h1, h2 = (128, 32) if num_classes < 32 else (256, 128)
    return nn.Sequential(
        nn.Linear(dim, h1),
        nn.ReLU(),
        nn.BatchNorm1d(h1),
        nn.Linear(h1, h2),
        nn.ReLU(),
        nn.BatchNorm1d(h2),
        nn.Linear(h2, num_classes),
    )


@dataclass(frozen=True)
class TrainSettings:
    members: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    max_epochs: int = 20
    patience: int = 3
    val_fraction: float = 0.1
    seed: int = 0


@dataclass
class MemberStats:
    epochs: int
    best_val_loss: float
    best_val_accuracy: float


def sample_pixels(labels: np.ndarray, budget: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``budget`` pixel coordinates, split evenly over the labels present (255 = ignore, never sampled).

    Stratifying keeps small parts (wheels, eyebrows) in the training set; uniform sampling would starve them.
    """
    flat = labels.ravel()
    values = [v for v in np.unique(flat) if v != 255]
    if not values:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    per_class = max(1, budget // len(values))
    picked = []
    for value in values:
        where = np.flatnonzero(flat == value)
        picked.append(where if len(where) <= per_class else rng.choice(where, per_class, replace=False))
    chosen = np.sort(np.concatenate(picked))
    width = labels.shape[1]
    return chosen // width, chosen % width


def entropy(p: torch.Tensor, dim: int = -1) -> torch.Tensor:
    return -(p * torch.log(p.clamp_min(1e-12))).sum(dim=dim)


@dataclass
class Prediction:
    labels: torch.Tensor  # N class indices, majority vote
    confidence: torch.Tensor  # N: mean ensemble probability of the voted class
    js: torch.Tensor  # N: Jensen-Shannon divergence of the members, H(mean p) - mean H(p_i), in nats


class Ensemble:
    def __init__(
        self,
        members: list[nn.Sequential],
        mean: torch.Tensor,
        std: torch.Tensor,
        values: list[int],
        stats: list[MemberStats] | None = None,
    ):
        self.members = [m.eval() for m in members]
        self.mean, self.std = mean.float(), std.float()
        self.values = list(values)  # class index -> label value (0 background, then taxonomy ids)
        self.stats = stats or []

    @property
    def dim(self) -> int:
        return int(self.mean.shape[0])

    def predict(self, features: torch.Tensor) -> Prediction:
        x = (features.float() - self.mean) / self.std
        with torch.no_grad():
            probs = torch.stack([torch.softmax(m(x), dim=-1) for m in self.members])  # M x N x C
        mean = probs.mean(0)
        votes = torch.nn.functional.one_hot(probs.argmax(-1), len(self.values)).sum(0).float()
        labels = (votes + 1e-3 * mean).argmax(-1)  # ties go to the higher mean probability
        js = (entropy(mean) - entropy(probs).mean(0)).clamp_min(0)
        return Prediction(labels, mean.gather(1, labels[:, None])[:, 0], js)

    def label_values(self, indices: torch.Tensor) -> np.ndarray:
        return np.asarray(self.values, dtype=np.uint8)[indices.numpy()]

    def save(self, path: Path, extra: dict | None = None) -> None:
        from safetensors.torch import save

        tensors = {"norm.mean": self.mean, "norm.std": self.std}
        for i, member in enumerate(self.members):
            tensors.update({f"member.{i}.{k}": v.detach().contiguous() for k, v in member.state_dict().items()})
        meta = {
            "format": FORMAT,
            "values": json.dumps(self.values),
            "members": str(len(self.members)),
            "extra": json.dumps(extra or {}, sort_keys=True),
        }
        from synth.core.atomic import write_bytes

        write_bytes(path, canonical_safetensors(save(tensors, metadata=meta)))

    @staticmethod
    def content_digest(path: Path) -> str:
        """sha256 of what a checkpoint holds (metadata sorted, tensors by name, with dtype and shape), not of its
        bytes: safetensors writes the metadata keys in a per-process order, so the same ensemble saved twice can
        differ in its header while every tensor is the same."""
        import hashlib

        from safetensors import safe_open

        from synth.errors import UserError

        digest = hashlib.sha256()
        try:
            with safe_open(str(path), framework="pt") as handle:
                digest.update(json.dumps(handle.metadata() or {}, sort_keys=True).encode())
                for name in sorted(handle.keys()):
                    tensor = handle.get_tensor(name).contiguous()
                    digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
                    digest.update(tensor.numpy().tobytes())
        except Exception as error:
            raise UserError(f"{path}: unreadable decoder checkpoint ({error}); rerun `synth train-decoder`") from None
        return digest.hexdigest()

    @classmethod
    def load(cls, path: Path) -> tuple[Ensemble, dict]:
        from safetensors import safe_open
        from safetensors.torch import load_file

        from synth.errors import UserError

        try:
            with safe_open(str(path), framework="pt") as handle:
                meta = handle.metadata() or {}
            tensors = load_file(str(path))
        except Exception as error:
            raise UserError(f"{path}: unreadable decoder checkpoint ({error}); rerun `synth train-decoder`") from None
        if meta.get("format") != FORMAT:
            raise UserError(f"{path}: not a {FORMAT} checkpoint; rerun `synth train-decoder`")
        values = json.loads(meta["values"])
        mean = tensors["norm.mean"]
        members = []
        for i in range(int(meta["members"])):
            member = make_mlp(mean.shape[0], len(values))
            prefix = f"member.{i}."
            member.load_state_dict({k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)})
            members.append(member)
        return cls(members, mean, tensors["norm.std"], values), json.loads(meta["extra"])


def train_ensemble(
    features: torch.Tensor,
    targets: torch.Tensor,
    values: list[int],
    settings: TrainSettings,
    log=lambda message: None,
    workers: int = 1,
) -> Ensemble:
    """Train ``settings.members`` MLPs on N x D features (any float dtype) and N class indices.

    On one torch thread whatever the caller's setting: the weights then do not depend on the machine's thread
    count, and these tiny steps (a 64-pixel batch through a 3-layer MLP) are slower on two threads than on one:
    ~1 CPU s per 1,000 steps on one thread vs 40 on two under load (OpenMP's spinning workers), which made the
    default recipe's 10-member training take 1,175 CPU s. The other cores are used by ``workers`` processes
    training members side by side: every member seeds all it draws, so its weights are the one-process ones.
    """
    from synth.core.torch_runtime import NUMERICS_THREADS, fixed_threads

    with fixed_threads(NUMERICS_THREADS):
        return _train_ensemble(features, targets, values, settings, log, workers)


def _train_ensemble(features, targets, values: list[int], settings: TrainSettings, log, workers: int) -> Ensemble:
    n, dim = features.shape
    if n < 2:
        from synth.errors import UserError

        raise UserError("annotations: fewer than 2 labelled pixels to train on")
    mean = torch.zeros(dim)
    sq = torch.zeros(dim)
    for start in range(0, n, 65536):  # float32 statistics without a float32 copy of the whole matrix
        chunk = features[start : start + 65536].float()
        mean += chunk.sum(0)
        sq += chunk.pow(2).sum(0)
    mean /= n
    std = (sq / n - mean.pow(2)).clamp_min(0).sqrt().clamp_min(1e-4)
    shared = (features, targets, mean, std, len(values), settings)
    seeds = [settings.seed * 1000 + index for index in range(settings.members)]
    workers = min(workers, len(seeds))
    if workers > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # spawn: this process holds torch's thread pools, which a forked child would inherit half-initialised
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_keep_shared, initargs=shared) as pool:
            return _collect(pool.map(_member_in_worker, seeds), len(seeds), mean, std, values, log)
    return _collect((_train_member(*shared, seed) for seed in seeds), len(seeds), mean, std, values, log)


def _collect(trained, total: int, mean, std, values: list[int], log) -> Ensemble:
    members, stats = [], []
    for member, stat in trained:
        members.append(member)
        stats.append(stat)
        log(f"member {len(members)}/{total}: {stat.epochs} epochs, val acc {stat.best_val_accuracy:.3f}")
    return Ensemble(members, mean, std, values, stats)


_SHARED: tuple = ()


def _keep_shared(*shared) -> None:
    """Worker start: the training matrix arrives once per worker, not once per member; one thread, as the parent."""
    global _SHARED
    from synth.core.torch_runtime import NUMERICS_THREADS

    torch.set_num_threads(NUMERICS_THREADS)
    _SHARED = shared


def _member_in_worker(seed: int):
    features, targets, mean, std, num_classes, settings = _SHARED
    return _train_member(features, targets, mean, std, num_classes, settings, seed)


def _train_member(features, targets, mean, std, num_classes, settings: TrainSettings, seed: int):
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    n = features.shape[0]
    order = torch.randperm(n, generator=generator)
    n_val = min(n - 1, max(1, int(round(n * settings.val_fraction)))) if settings.val_fraction > 0 else 0
    val_idx, train_idx = order[:n_val], order[n_val:]
    model = make_mlp(features.shape[1], num_classes)
    optimiser = torch.optim.Adam(model.parameters(), lr=settings.lr)
    loss_fn = nn.CrossEntropyLoss()
    best: tuple[float, float, dict[str, torch.Tensor] | None] = (math.inf, 0.0, None)  # loss, accuracy, weights
    epochs, bad = 0, 0
    for epoch in range(settings.max_epochs):
        model.train()
        perm = train_idx[torch.randperm(len(train_idx), generator=generator)]
        for start in range(0, len(perm), settings.batch_size):
            batch = perm[start : start + settings.batch_size]
            if len(batch) < 2:  # BatchNorm needs two samples
                continue
            x = (features[batch].float() - mean) / std
            optimiser.zero_grad(set_to_none=True)
            loss_fn(model(x), targets[batch]).backward()
            optimiser.step()
        epochs = epoch + 1
        if n_val == 0:
            best = (math.inf, 0.0, {k: v.clone() for k, v in model.state_dict().items()})
            continue
        val_loss, val_acc = _evaluate(model, features, targets, val_idx, mean, std, loss_fn)
        if val_loss < best[0] - 1e-4:
            best = (val_loss, val_acc, {k: v.clone() for k, v in model.state_dict().items()})
            bad = 0
        else:
            bad += 1
            if bad >= settings.patience:  # early stopping; keep the best epoch's weights
                break
    if best[2] is None:  # max_epochs >= 1 and the first epoch always improves on inf, unless its loss is nan
        raise RuntimeError(f"member seed {seed}: no epoch reached a finite validation loss")
    model.load_state_dict(best[2])
    return model.eval(), MemberStats(epochs, float(best[0]), float(best[1]))


def _evaluate(model, features, targets, idx, mean, std, loss_fn) -> tuple[float, float]:
    model.eval()
    total, correct, count = 0.0, 0, 0
    with torch.no_grad():
        for start in range(0, len(idx), 8192):
            batch = idx[start : start + 8192]
            logits = model((features[batch].float() - mean) / std)
            total += float(loss_fn(logits, targets[batch])) * len(batch)
            correct += int((logits.argmax(-1) == targets[batch]).sum())
            count += len(batch)
    return total / count, correct / count


def image_uncertainty(js: np.ndarray | torch.Tensor, top: float = 0.1) -> float:
    """DatasetGAN's image score: the mean of its most uncertain ``top`` share of pixels."""
    flat = torch.as_tensor(js).flatten().float()
    k = max(1, int(math.ceil(flat.numel() * top)))
    return float(flat.topk(k).values.mean())


@dataclass
class Labelled:
    mask: np.ndarray
    confidence: np.ndarray
    js: np.ndarray
    uncertainty: float
    extra: dict = field(default_factory=dict)


def label_image(
    ensemble: Ensemble, maps: list[torch.Tensor], height: int, width: int, chunk: int = 16384, top: float = 0.1
) -> Labelled:
    """Mask, confidence and JS map of one image, ``chunk`` pixels at a time (memory bounded by the chunk)."""
    from synth.decode.datasetgan.features.base import iter_pixel_chunks

    labels = np.zeros(height * width, np.uint8)
    confidence = np.zeros(height * width, np.float32)
    js = np.zeros(height * width, np.float32)
    for where, feats in iter_pixel_chunks(maps, height, width, chunk):
        pred = ensemble.predict(feats)
        labels[where] = ensemble.label_values(pred.labels)
        confidence[where] = pred.confidence.numpy()
        js[where] = pred.js.numpy()
    js_map = js.reshape(height, width)
    return Labelled(
        labels.reshape(height, width), confidence.reshape(height, width), js_map, image_uncertainty(js_map, top)
    )


def collect_pixels(
    source,
    records: dict[int, SampleRecord],
    masks: dict[int, np.ndarray],
    values: list[int],
    pixels_per_image: int,
    seed: int,
):
    """Class-stratified pixel features of every annotated image: float16 N x D and their class indices."""
    from synth.decode.datasetgan.features.base import pixel_features

    index = {v: i for i, v in enumerate(values)}
    rng = np.random.default_rng(seed)
    feats, targets = [], []
    for s in sorted(masks):
        mask = masks[s]
        ys, xs = sample_pixels(mask, pixels_per_image, rng)
        maps = source.maps(records[s])
        feats.append(pixel_features(maps, ys, xs, *mask.shape).half())
        targets.append(torch.as_tensor([index[int(v)] for v in mask[ys, xs]], dtype=torch.long))
    return torch.cat(feats), torch.cat(targets)
