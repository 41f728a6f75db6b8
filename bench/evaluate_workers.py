"""evaluate's runs in parallel worker processes against one process: the same numbers, and the wall time ratio.

Runs ``synth evaluate NAME --quiet`` as whole processes, alternating ``SYNTH_EVALUATE_WORKERS=1`` with the default
(one worker per CPU core), ``--rounds`` times each, in a temporary project that links ``--root``'s data/ and real/
and holds the recipe with ``evaluate.steps`` and ``evaluate.repeats`` set from the command line. Prints every
round, ``same_numbers=`` (the two evaluate.json files equal) and ``parallel_to_serial=`` (best wall time of the
default over one worker's; below 1 is faster).

Usage: python bench/evaluate_workers.py [--root .] [--recipe fashion] [--steps 150] [--repeats 2] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def project(tmp: Path, root: Path, recipe: dict) -> Path:
    (tmp / "recipes").mkdir(parents=True)
    (tmp / "recipes" / f"{recipe['name']}.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False))
    for linked in ("data", "real", "models"):
        if (root / linked).exists():
            (tmp / linked).symlink_to((root / linked).resolve())
    return tmp


def run(tmp: Path, name: str, workers: str | None) -> tuple[float, dict]:
    env = os.environ | {
        "PYTHONPATH": str(REPO),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    env.pop("SYNTH_EVALUATE_WORKERS", None)
    if workers is not None:
        env["SYNTH_EVALUATE_WORKERS"] = workers
    start = time.perf_counter()
    result = subprocess.run(["synth", "evaluate", name, "--quiet"], cwd=tmp, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode:
        raise SystemExit(f"synth evaluate {name}: exit {result.returncode}: {result.stderr[-2000:]}")
    return seconds, json.loads((tmp / "reports" / name / "evaluate.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=REPO, help="project whose data/NAME (and real/) to use")
    parser.add_argument("--recipe", default="fashion")
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    recipe = yaml.safe_load((args.root / "recipes" / f"{args.recipe}.yaml").read_text())
    recipe["evaluate"] |= {"steps": args.steps, "repeats": args.repeats}
    with tempfile.TemporaryDirectory(prefix="synth-bench-eval-") as tmp:
        root = project(Path(tmp), args.root, recipe)
        seconds: dict[str, list[float]] = {"serial": [], "parallel": []}
        numbers = {}
        for round_ in range(args.rounds):
            order = ["serial", "parallel"] if round_ % 2 == 0 else ["parallel", "serial"]
            for label in order:
                took, numbers[label] = run(root, args.recipe, "1" if label == "serial" else None)
                seconds[label].append(took)
        runs = len(recipe["evaluate"]["variants"]) * args.repeats
        print(
            f"[{args.recipe}: {runs} runs of {args.steps} steps, cpus={os.cpu_count()}, load={os.getloadavg()[0]:.1f}]"
        )
        for label, values in seconds.items():
            print(f"{label}_s={min(values):.1f} (rounds: {' '.join(f'{v:.1f}' for v in values)})")
        print(f"same_numbers={numbers['serial'] == numbers['parallel']}")
        print(f"parallel_to_serial={min(seconds['parallel']) / min(seconds['serial']):.3f}")


if __name__ == "__main__":
    main()
