"""DatasetGAN's per-pixel MLP training steps on one torch thread against two, side by side in one run.

Why the ensemble trains on one thread (synth/decode/datasetgan/ensemble.py ``train_ensemble``): its steps are
tiny (a 64-pixel batch through a 64-128-32-11 MLP), so a second thread adds OpenMP hand-offs and spinning rather
than work. Each row is a fresh process running ``--steps`` optimiser steps of that MLP on random fp16 features;
rows alternate over ``--rounds``. Prints each row's CPU and wall seconds per 1,000 steps and
``cpu_two_to_one=`` (two threads' CPU seconds over one's).

Usage: python bench/decoder_threads.py [--steps 1000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

STEPS = """
import json, resource, sys, time, torch
from synth.decode.datasetgan.ensemble import make_mlp
torch.set_num_threads(int(sys.argv[1]))
steps = int(sys.argv[2])
generator = torch.Generator().manual_seed(0)
features = torch.randn(43691, 64, generator=generator).half()
targets = torch.randint(0, 11, (43691,), generator=generator)
model = make_mlp(64, 11)
optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = torch.nn.CrossEntropyLoss()
order = torch.randperm(43691, generator=generator).repeat(steps * 64 // 43691 + 1)
start, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
for step in range(steps):
    batch = order[step * 64 : (step + 1) * 64]
    optimiser.zero_grad(set_to_none=True)
    loss_fn(model(features[batch].float()), targets[batch]).backward()
    optimiser.step()
after = resource.getrusage(resource.RUSAGE_SELF)
cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
print(json.dumps({"cpu": cpu, "wall": time.perf_counter() - start}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    rows: dict[int, list[dict]] = {1: [], 2: []}
    for round_ in range(args.rounds):
        for threads in (1, 2) if round_ % 2 == 0 else (2, 1):
            out = subprocess.run(
                [sys.executable, "-c", STEPS, str(threads), str(args.steps)], capture_output=True, text=True, check=True
            )
            rows[threads].append(json.loads(out.stdout))
    print(f"[steps={args.steps} rounds={args.rounds} cpus={os.cpu_count()} load={os.getloadavg()[0]:.1f}]")
    per = 1000 / args.steps
    for threads, runs in rows.items():
        cpu = " ".join(f"{r['cpu'] * per:.2f}" for r in runs)
        wall = " ".join(f"{r['wall'] * per:.2f}" for r in runs)
        print(f"threads={threads} cpu_s_per_1000_steps={cpu} wall_s_per_1000_steps={wall}")
    best = {threads: min(r["cpu"] for r in runs) for threads, runs in rows.items()}
    print(f"cpu_two_to_one={best[2] / best[1]:.2f}")


if __name__ == "__main__":
    main()
