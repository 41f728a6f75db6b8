"""Pipeline overheads, measured side by side in one run on the default recipe.

Prints, one per line:
- synthesize samples/s end to end (CLI: recipe loading, storage, statistics, progress bar) and of a bare loop
  calling the generator alone on the same seeds; last line ``throughput_ratio=<end-to-end / bare>`` (target >= 0.85)
- the time of a no-op ``dvc repro``
- the cost of extending the seeds by 10% relative to a full build (target <= 0.15), at the recipe's size and at
  ``--extend-scales`` multiples of it
- each stage's fixed cost: its command re-run on the up-to-date build, wall and CPU seconds (user + sys: what the
  command itself spends, little moved by other work on a shared machine), and their sums ``fixed_cost_s`` (target
  <= 4) and ``fixed_cost_cpu_s``
- peak memory (max RSS) of each stage at 1x and 5x the sample count (target: no more than 1.2x growth)
- with ``--only noop --data-from CHECKOUT``: a no-op ``dvc repro`` of the default recipes (params.yaml's lists)
  on a clone of HEAD holding CHECKOUT's built data, each round's wall and CPU seconds (target <= 2 s wall), and
  the same with the target recipes moved to ``live_target_recipes`` (their stage ``always_changed``, as for a
  target folder): what a live target costs a no-op

Usage: python bench/pipeline.py [--recipe street-scenes] [--samples 300] [--throughput-samples N]
       [--only throughput|repro|memory|noop] [--data-from CHECKOUT] [--rounds N]
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
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # tests.conftest
sys.path.insert(0, str(REPO / "bench"))  # repro_cpu
STAGES = ["synthesize", "decode", "validate", "build"]  # peak memory is measured per stage


def make_project(dest: Path, recipe: dict) -> Path:
    from tests.conftest import copy_project  # the tests' project copy: same files, git repo, no frozen stage

    copy_project(dest)
    (dest / "recipes").mkdir(exist_ok=True)
    for stale in (dest / "recipes").glob("*.yaml"):
        stale.unlink()
    write_recipe(dest, recipe)
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params = {key: [] for key in params} | {"recipes": [recipe["name"]]}  # only this recipe, no optional stages
    (dest / "params.yaml").write_text(yaml.safe_dump(params))
    return dest


def write_recipe(root: Path, recipe: dict) -> None:
    (root / "recipes" / f"{recipe['name']}.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False))


STAGE_LOG = Path(tempfile.gettempdir()) / f"synth-bench-pipeline-{os.getpid()}"  # the synth wrapper's per-command log


def env(root: Path) -> dict:
    """The project's code, and a ``synth`` on PATH that logs each stage command's CPU seconds (bench/repro_cpu.py)."""
    from repro_cpu import wrapper_bin

    wrapped = wrapper_bin(STAGE_LOG / "bin")
    return os.environ | {
        "PYTHONPATH": str(root),
        "DVC_NO_ANALYTICS": "1",
        "PATH": f"{wrapped}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "SYNTH_BENCH_LOG": str(STAGE_LOG / "stages.jsonl"),
    }


def stage_cpu_since(mark: int) -> dict[str, float]:
    """CPU seconds per stage command logged after line ``mark`` of the wrapper's log."""
    log = STAGE_LOG / "stages.jsonl"
    rows = [json.loads(line) for line in log.read_text().splitlines()[mark:]] if log.exists() else []
    return {row["argv"][0]: row["user_s"] + row["sys_s"] for row in rows}


def logged_lines() -> int:
    log = STAGE_LOG / "stages.jsonl"
    return len(log.read_text().splitlines()) if log.exists() else 0


def run(argv: list[str], root: Path) -> float:
    return run_cpu(argv, root)[0]


def run_cpu(argv: list[str], root: Path) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + sys of the command and every process it waited for): the CPU figure
    hardly depends on what else the machine runs, the wall figure does."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, cwd=root, env=env(root), check=True, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def with_seeds(recipe: dict, count: int) -> dict:
    return recipe | {"seeds": [{"start": 0, "stop": count}]}


def throughput(root: Path, name: str) -> tuple[float, float]:
    """Both loops in this process, alternating order, so they share warm caches and CPU conditions."""
    os.chdir(root)
    from synth.cli import main
    from synth.generate.prompts import plan_sample
    from synth.recipe import load_recipe

    recipe = load_recipe(name, root)
    seeds = recipe.all_seeds()
    generator = recipe.generator.build(recipe.context())
    step = max(1, generator.batch_size)

    def bare() -> float:
        start = time.perf_counter()
        for i in range(0, len(seeds), step):
            generator.generate([plan_sample(recipe.context(), s) for s in seeds[i : i + step]])
        return len(seeds) / (time.perf_counter() - start)

    def end_to_end() -> float:
        shutil.rmtree(root / "data", ignore_errors=True)
        start = time.perf_counter()
        try:
            main(["synthesize", name])
        except SystemExit as exited:
            if exited.code:
                raise
        return len(seeds) / (time.perf_counter() - start)

    bare_rates, e2e_rates = [], []
    for _ in range(2):
        bare_rates.append(bare())
        e2e_rates.append(end_to_end())
    return max(e2e_rates), max(bare_rates)


PEAK = (
    "import resource, sys\n"
    "from synth.cli import main\n"
    "try:\n    main(sys.argv[1:])\n"
    "except SystemExit as e:\n    code = e.code\n"
    "else:\n    code = 0\n"
    "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
    "sys.exit(code or 0)\n"
)


FIXED_STAGES = ["synthesize", "decode", "validate", "build", "preview", "report"]


def fixed_costs(root: Path, name: str) -> dict[str, tuple[float, float]]:
    """Each stage's command on an up-to-date build, as `dvc repro --force` would run it: the (wall, CPU) seconds a
    stage costs before it has anything to do (start-up, imports, reading footers, rendering what did not change)."""
    quiet = {"synthesize", "decode"}
    return {
        stage: run_cpu(["synth", stage, name, *(["--quiet"] if stage in quiet else [])], root) for stage in FIXED_STAGES
    }


def noop_repro(source: Path, dest: Path, rounds: int) -> None:
    """No-op ``dvc repro`` on the default recipes: a clone of HEAD with ``source``'s data/, build/ and reports/
    (mtimes kept) committed to the clone's DVC cache; one ``dvc repro`` brings the lock to this code (stages whose
    code differs from ``source``'s run once), then ``rounds`` no-op runs are timed, and as many with every
    ``target_recipes`` entry moved to ``live_target_recipes`` (after one untimed run that records the live stage)."""
    from repro_cpu import fresh_clone

    clone = fresh_clone(dest)
    for folder in ("data", "build", "reports"):
        shutil.copytree(source / folder, clone / folder, dirs_exist_ok=True, copy_function=shutil.copy2)
    dvc = [sys.executable, "-m", "dvc"]
    subprocess.run([*dvc, "commit", "-f", "-q"], cwd=clone, env=env(clone), check=True, capture_output=True)
    run([*dvc, "repro", "-q"], clone)
    for label in ("noop", "noop_live_targets"):
        if label != "noop":
            params_file = clone / "params.yaml"
            params = yaml.safe_load(params_file.read_text())
            params["live_target_recipes"] = params.get("live_target_recipes", []) + params.get("target_recipes", [])
            params["target_recipes"] = []
            params_file.write_text(yaml.safe_dump(params, sort_keys=False))
            run([*dvc, "repro", "-q"], clone)
        for round_ in range(rounds):
            wall, cpu = run_cpu([*dvc, "repro", "-q"], clone)
            print(
                f"{label} round {round_}: dvc_repro_s={wall:.2f} (target <= 2) cpu_s={cpu:.2f} load={os.getloadavg()[0]:.1f}"
            )


def peak_memory_mb(root: Path, stage: str, name: str) -> float | None:
    result = subprocess.run(
        [sys.executable, "-c", PEAK, stage, name, "--quiet"]
        if stage in ("synthesize", "decode")
        else [sys.executable, "-c", PEAK, stage, name],
        cwd=root,
        env=env(root),
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        if "No such command" in result.stderr:
            return None
        raise RuntimeError(result.stderr)
    return int(result.stderr.strip().splitlines()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipe", default="street-scenes")
    parser.add_argument("--samples", type=int, default=300, help="samples at 1x for the memory runs")
    parser.add_argument(
        "--throughput-samples",
        type=int,
        help="samples for the throughput runs; default: the recipe's own seeds, because the last "
        "shard's encode and write (~0.1-0.2 s) cannot overlap generation and a run of a few "
        "hundred samples lasts only ~1 s",
    )
    parser.add_argument(
        "--extend-scales",
        type=lambda text: [int(x) for x in text.split(",")],
        default=[1, 4],
        help="multiples of the recipe's seed count at which to measure the +10%% extension",
    )
    parser.add_argument(
        "--only",
        choices=["repro", "memory", "throughput", "noop"],
        help="run one part (minutes saved when iterating on one figure); default: all",
    )
    parser.add_argument("--data-from", type=Path, help="a checkout whose data/, build/, reports/ are built (noop)")
    parser.add_argument("--rounds", type=int, default=3, help="timed no-op runs (noop)")
    args = parser.parse_args()
    if args.only == "noop":
        if args.data_from is None:
            parser.error("--only noop needs --data-from CHECKOUT (a checkout where `dvc repro` has run)")
        with tempfile.TemporaryDirectory(prefix="synth-bench-noop-") as tmp:
            noop_repro(args.data_from.resolve(), Path(tmp) / "clone", args.rounds)
        return
    wanted = {"repro", "memory", "throughput"} if args.only is None else {args.only}
    recipe = yaml.safe_load((REPO / "recipes" / f"{args.recipe}.yaml").read_text())
    full = sum(r["stop"] - r["start"] for r in recipe["seeds"])

    with tempfile.TemporaryDirectory(prefix="synth-bench-") as tmp:
        tmp = Path(tmp)
        # 1. dvc repro: full build, no-op, +10% seeds; at the recipe's size and at larger ones, because every stage
        # pays a fixed start-up (Python, imports, Great Expectations ~2 s, DVC lock updates) that only a larger
        # build amortises
        for scale in args.extend_scales if "repro" in wanted else []:
            count = full * scale
            root = make_project(tmp / f"dvc{scale}", with_seeds(recipe, count))
            repro = [sys.executable, "-m", "dvc", "repro", "-q"]
            mark = logged_lines()
            full_s, full_cpu = run_cpu(repro, root)
            full_stages = stage_cpu_since(mark)
            noop_s = run(repro, root)
            write_recipe(root, with_seeds(recipe, count + count // 10))
            mark = logged_lines()
            extend_s, extend_cpu = run_cpu(repro, root)
            for stage, cpu in stage_cpu_since(mark).items():
                print(f"[{scale}x] stage {stage}: full_cpu_s={full_stages.get(stage, 0.0):.2f} extend_cpu_s={cpu:.2f}")
            print(
                f"[{scale}x] dvc_repro_full_s={full_s:.2f} samples={count} dvc_repro_noop_s={noop_s:.2f} "
                f"extend_10pct_s={extend_s:.2f} extend_cost_ratio={extend_s / full_s:.3f} (target <= 0.15) "
                f"full_cpu_s={full_cpu:.2f} extend_cpu_s={extend_cpu:.2f} extend_cpu_ratio={extend_cpu / full_cpu:.3f}"
            )
            if scale == args.extend_scales[0]:
                fixed = fixed_costs(root, recipe["name"])
                for stage, (wall, cpu) in fixed.items():
                    print(f"fixed_cost {stage}: wall_s={wall:.2f} cpu_s={cpu:.2f}")
                print(
                    f"fixed_cost_s={sum(w for w, _ in fixed.values()):.2f} (target <= 4) "
                    f"fixed_cost_cpu_s={sum(c for _, c in fixed.values()):.2f} load={os.getloadavg()[0]:.1f}"
                )
            shutil.rmtree(root)

        # 2. peak memory per stage at 1x and 5x
        for factor in (1, 5) if "memory" in wanted else ():
            mem_root = make_project(tmp / f"mem{factor}", with_seeds(recipe, args.samples * factor))
            peaks = {s: peak_memory_mb(mem_root, s, args.recipe) for s in STAGES}
            print(f"peak_rss_mb_{factor}x " + " ".join(f"{s}={v:.0f}" for s, v in peaks.items() if v is not None))
            if factor == 1:
                base = peaks
            else:
                growth = max(peaks[s] / base[s] for s in STAGES if peaks[s] is not None)
                print(f"peak_memory_growth_5x={growth:.3f} (target <= 1.2)")

        # 3. throughput, last because it imports the library into this process
        if "throughput" not in wanted:
            return
        # PNG first for reference (lossless images cost a PNG encode per sample), then the recipe as written.
        count = args.throughput_samples or full
        variants = {"png": with_seeds(recipe, count) | {"image_format": "png"}, "recipe": with_seeds(recipe, count)}
        ratios = {}
        for label, variant in variants.items():
            root = make_project(tmp / f"tp-{label}", variant)
            e2e, bare = throughput(root, args.recipe)
            ratios[label] = e2e / bare
            print(
                f"[{label}: image_format={variant.get('image_format', 'png')}, samples={count}] "
                f"synthesize_samples_per_s={e2e:.1f} bare_generator_samples_per_s={bare:.1f} ratio={e2e / bare:.3f}"
            )
        print(f"throughput_ratio={ratios['recipe']:.3f}")


if __name__ == "__main__":
    main()
