"""Generating once for recipes that share a generator: CPU seconds of ``synth synthesize`` for two recipes.

Two rows, side by side on the same machine, whole processes:

- ``separate``: each recipe generates its own samples (``data/.shards`` is deleted between the two commands):
  what the pair cost before the shared store (synth/store/shared.py);
- ``shared``: the second recipe takes the first one's shards (the default, in params.yaml's order).

CPU seconds are user + sys of the command and every process it waited for (the worker processes and the image
encoder), so they hardly depend on the neighbours on a shared machine; wall seconds are printed beside them.
The second recipe's shards must be the same bytes in both rows (``same_bytes=``), or sharing would change data.

Default: fashion-datasetgan (records UNet features) then fashion (the same generation without them), the first
``--limit`` seeds of each, in a scratch folder that links this checkout's ``models/``.

Prints per row and recipe ``cpu_s`` and ``wall_s``, then ``shared_to_separate=`` (CPU of the pair, shared over
separate).

Usage: python bench/shared_shards.py [--recipes fashion-datasetgan,fashion] [--limit 64] [--rounds 1]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def scratch_project(root: Path, names: list[str]) -> Path:
    (root / "recipes").mkdir(parents=True)
    for name in names:
        shutil.copy2(REPO / "recipes" / f"{name}.yaml", root / "recipes" / f"{name}.yaml")
    (root / "models").symlink_to(REPO / "models")
    return root


def synthesize(root: Path, name: str, limit: int) -> tuple[float, float, str]:
    """(CPU seconds, wall seconds, the command's summary line) of one ``synth synthesize``."""
    env = dict(os.environ, PYTHONPATH=str(REPO), DVC_NO_ANALYTICS="1")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "synth", "synthesize", name, "--limit", str(limit), "--quiet"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"synth synthesize {name}: exit {result.returncode}: {result.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall, result.stderr.strip().splitlines()[-1]


def shard_digests(root: Path, name: str) -> dict[str, str]:
    folder = root / "data" / name / "samples"
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("shard-*.parquet"))}


def run_row(root: Path, names: list[str], limit: int, share: bool) -> list[tuple[str, float, float, str]]:
    rows = []
    for i, name in enumerate(names):
        if i and not share:
            shutil.rmtree(root / "data" / ".shards", ignore_errors=True)
        rows.append((name, *synthesize(root, name, limit)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", default="fashion-datasetgan,fashion")
    parser.add_argument("--limit", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    names = args.recipes.split(",")
    totals: dict[str, list[float]] = {"separate": [], "shared": []}
    with tempfile.TemporaryDirectory(prefix="shared-shards-") as tmp:
        for round_ in range(args.rounds):
            order = ["separate", "shared"] if round_ % 2 == 0 else ["shared", "separate"]
            digests = {}
            for label in order:
                root = scratch_project(Path(tmp) / f"{label}-{round_}", names)
                rows = run_row(root, names, args.limit, share=label == "shared")
                for name, cpu, wall, summary in rows:
                    print(f"[round {round_} {label}] {name}: cpu_s={cpu:.1f} wall_s={wall:.1f} ({summary})")
                totals[label].append(sum(cpu for _, cpu, _, _ in rows))
                digests[label] = shard_digests(root, names[-1])
                shutil.rmtree(root)
            same = digests["separate"] == digests["shared"] and bool(digests["shared"])
            print(f"[round {round_}] same_bytes={same}")
    best = {label: min(cpus) for label, cpus in totals.items()}
    rounds = "; ".join(f"{label} {', '.join(f'{c:.1f}' for c in cpus)}" for label, cpus in totals.items())
    print(f"separate_cpu_s={best['separate']:.1f} shared_cpu_s={best['shared']:.1f} (rounds: {rounds})")
    print(f"shared_to_separate={best['shared'] / best['separate']:.3f} load_average={os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
