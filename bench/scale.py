"""Local backend vs Ray with 2 workers on the `scenes` generator, side by side in one run.

Prints samples/s of each, of Ray with ``--store`` (shards put into S3, here moto's S3 server in this process,
then copied back by the driver), the Ray start-up cost (ray.init + actors building the generator) and the
per-shard overhead of going through Ray; last line ``ray_vs_local=<ray samples/s / local samples/s>``. On this
2-core machine two Ray workers compete with the driver (and the S3 server) for the same cores; on a cluster
each worker has its own.

Usage: python bench/scale.py [--samples 600]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=600)
    args = parser.parse_args()
    import logging
    import os

    import boto3
    import ray
    from moto.server import ThreadedMotoServer

    from synth.recipe import load_recipe
    from synth.stages.synthesize import synthesize

    recipe = yaml.safe_load((REPO / "recipes/street-scenes.yaml").read_text())
    recipe["seeds"] = [{"start": 0, "stop": args.samples}]
    recipe["samples_per_shard"] = max(1, args.samples // 12)
    with tempfile.TemporaryDirectory(prefix="synth-scale-") as tmp:
        root = Path(tmp)
        (root / "recipes").mkdir()
        (root / "recipes/street-scenes.yaml").write_text(yaml.safe_dump(recipe))
        loaded = load_recipe("street-scenes", root)
        shards = len(range(0, args.samples, recipe["samples_per_shard"]))

        start = time.perf_counter()
        synthesize(loaded, root, show_progress=False)
        local_s = time.perf_counter() - start
        shutil.rmtree(root / "data")

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per S3 request otherwise
        s3 = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        s3.start()  # before ray.init: the workers inherit the endpoint and the (dummy) credentials
        host, port = s3.get_host_and_port()
        os.environ.update(
            AWS_ENDPOINT_URL_S3=f"http://{host}:{port}",
            AWS_ACCESS_KEY_ID="bench",
            AWS_SECRET_ACCESS_KEY="bench",
            AWS_DEFAULT_REGION="us-east-1",
        )
        boto3.client("s3").create_bucket(Bucket="bench")
        start = time.perf_counter()
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
            _temp_dir=tempfile.mkdtemp(prefix="ray", dir="/tmp"),
        )
        init_s = time.perf_counter() - start
        try:
            # a one-seed run measures actor start-up (process + generator build) and one tiny shard
            tiny = loaded.model_copy(
                update={"seeds": loaded.seeds[:0] + [loaded.seeds[0].model_copy(update={"stop": 1})]}
            )
            start = time.perf_counter()
            synthesize(tiny, root / "warm", show_progress=False, backend="ray", backend_options={"workers": 2})
            actors_s = time.perf_counter() - start
            start = time.perf_counter()
            synthesize(loaded, root, show_progress=False, backend="ray", backend_options={"workers": 2})
            ray_s = time.perf_counter() - start
            shutil.rmtree(root / "data")
            start = time.perf_counter()
            synthesize(
                loaded,
                root,
                show_progress=False,
                backend="ray",
                backend_options={"workers": 2, "store": "s3://bench/scale"},
            )
            store_s = time.perf_counter() - start
        finally:
            ray.shutdown()
            s3.stop()
    local_rate, ray_rate = args.samples / local_s, args.samples / ray_s
    print(f"samples={args.samples} shards={shards}")
    print(f"local_samples_per_s={local_rate:.1f} ray_2_workers_samples_per_s={ray_rate:.1f}")
    print(
        f"ray_2_workers_store_s3_samples_per_s={args.samples / store_s:.1f} (store_vs_shared_folder={ray_s / store_s:.3f})"
    )
    print(f"ray_startup_s: init={init_s:.2f} actors_and_first_shard={actors_s:.2f}")
    print(
        f"per_shard_overhead_s={(ray_s - local_s / 2) / shards:.3f} (ray wall time minus an ideal 2-way split of local, per shard)"
    )
    print(f"ray_vs_local={ray_rate / local_rate:.3f}")


if __name__ == "__main__":
    main()
