"""The default ``dvc repro`` on a fresh clone, stage by stage: wall and CPU seconds, and each stage kind's share.

README command 1 is ``pip install`` then ``dvc repro``; its wall time on a machine shared with other work says
little, so this measures what does not depend on the neighbours: the CPU seconds (user + sys) of every stage's
command, its worker processes included. It clones this checkout's HEAD into a temporary folder (no data, no
build: what a new user has), puts a ``synth`` on PATH that runs the clone's CLI and records each command's
``resource.getrusage(RUSAGE_CHILDREN)`` (every descendant it waited for: the local backend's worker processes,
evaluate's training processes, the image encoder), and runs ``dvc repro`` there. The install is not timed (the
venv this runs in is reused).

Prints one row per stage command (``wall_s``, ``cpu_s``, ``cpu_per_wall``), then per stage kind (synthesize,
evaluate, ...) the CPU seconds and their share of all stages, DVC's own CPU (the repro's total minus the stages'),
``repro_wall_s``, ``repro_cpu_s``, the load average before and after, and ``cpu_bound_wall_s`` = CPU seconds /
cores: the wall time this run would take on an idle machine if every stage kept all its cores busy (a lower
bound where a stage runs on one thread).

``--samples-from CHECKOUT`` copies that checkout's ``data/*/samples`` (matching this HEAD's dvc.lock) into the
clone first, so DVC skips the synthesize stages and the run measures everything after generation.

Usage: python bench/repro_cpu.py [--keep DIR] [--samples-from CHECKOUT]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

WRAPPER = """#!{python}
import json, os, resource, subprocess, sys, time
start = time.perf_counter()
code = subprocess.call([{python!r}, "-m", "synth", *sys.argv[1:]])
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
row = {{"argv": sys.argv[1:], "wall_s": time.perf_counter() - start, "user_s": usage.ru_utime,
        "sys_s": usage.ru_stime, "exit": code}}
with open(os.environ["SYNTH_BENCH_LOG"], "a") as log:
    log.write(json.dumps(row) + "\\n")
sys.exit(code)
"""


def fresh_clone(dest: Path) -> Path:
    subprocess.run(["git", "clone", "-q", str(REPO), str(dest)], check=True)
    return dest


def wrapper_bin(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "synth"
    script.write_text(WRAPPER.format(python=sys.executable))
    script.chmod(0o755)
    return folder


def stage_label(argv: list[str]) -> str:
    return " ".join(arg for arg in argv if not arg.startswith("-"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keep", type=Path, help="clone here and keep it (default: a temporary folder)")
    parser.add_argument("--samples-from", type=Path, help="a checkout whose data/*/samples to copy in first")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="synth-repro-"))
    clone = fresh_clone(args.keep or tmp / "clone")
    if args.samples_from is not None:
        for samples in sorted(args.samples_from.glob("data/*/samples")):
            shutil.copytree(samples, clone / samples.relative_to(args.samples_from))
    log = tmp / "stages.jsonl"
    env = os.environ | {
        "PATH": f"{wrapper_bin(tmp / 'bin')}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(clone),
        "DVC_NO_ANALYTICS": "1",
        "SYNTH_BENCH_LOG": str(log),
    }
    load_before = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "dvc", "repro"], cwd=clone, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    total_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    rows = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    print(f"[fresh clone of {REPO.name} HEAD, cpus={os.cpu_count()}, load before={load_before:.1f}]")
    kinds: dict[str, float] = defaultdict(float)
    for row in rows:
        cpu = row["user_s"] + row["sys_s"]
        kinds[row["argv"][0]] += cpu
        print(
            f"{stage_label(row['argv']):<45} wall_s={row['wall_s']:7.1f} cpu_s={cpu:7.1f} "
            f"cpu_per_wall={cpu / max(row['wall_s'], 1e-9):.2f} exit={row['exit']}"
        )
    stages_cpu = sum(kinds.values())
    for kind, cpu in sorted(kinds.items(), key=lambda item: -item[1]):
        print(f"kind {kind:<20} cpu_s={cpu:7.1f} share={cpu / max(stages_cpu, 1e-9):.3f}")
    print(f"dvc_own_cpu_s={total_cpu - stages_cpu:.1f}")
    print(f"repro_wall_s={wall:.1f} repro_cpu_s={total_cpu:.1f} exit={result.returncode}")
    print(f"cpu_bound_wall_s={total_cpu / (os.cpu_count() or 1):.1f} load_after={os.getloadavg()[0]:.1f}")
    if args.keep is None:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
