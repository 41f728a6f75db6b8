"""Ray workers through an object store (moto's S3 server): the local backend's bytes, resumption from the store,
damaged objects remade, bad stores refused in one line; decoding on Ray gives local decode's bytes; the progress
the driver counts is per sample and never counts a retried shard twice."""

from __future__ import annotations

import shutil
import socket
import tempfile
import uuid
from pathlib import Path

import pytest
import yaml

from synth.core.paths import DatasetPaths
from synth.errors import UserError
from synth.recipe import load_recipe
from synth.stages.decode import decode
from synth.stages.synthesize import shard_plans, synthesize
from tests import faults
from tests.conftest import tiny_recipe

ray = pytest.importorskip("ray")
pytest.importorskip("s3fs")
moto_server = pytest.importorskip("moto.server")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def s3():
    """A real S3 API on loopback; the environment points s3fs, boto3 and (through ray.init) the workers at it."""
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    settings = {
        "AWS_ENDPOINT_URL_S3": f"http://{host}:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    with pytest.MonkeyPatch.context() as patch:
        for key, value in settings.items():
            patch.setenv(key, value)
        import boto3

        yield boto3.client("s3")
    server.stop()


@pytest.fixture(scope="module")
def cluster(s3):
    temp = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))  # Ray's socket paths must stay short
    spec = temp / "fault-spec"  # armed by faults.killing(); read by every worker (tests/faults.py)
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        _temp_dir=str(temp),
        log_to_driver=False,
        configure_logging=False,
        runtime_env=faults.runtime_env(spec),
    )
    yield spec
    ray.shutdown()
    shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture
def bucket(s3) -> str:
    """A fresh versioned bucket: every PUT of a key adds a version, so versions count how often a shard was made."""
    name = f"synth-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def project_with(root: Path, **changes) -> Path:
    (root / "recipes").mkdir(parents=True)
    (root / "recipes" / "tiny.yaml").write_text(yaml.safe_dump(tiny_recipe(**changes)))
    return root


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("shard-*.parquet"))}


def versions(s3, bucket: str, prefix: str) -> dict[str, int]:
    names = [
        v["Key"].rsplit("/", 1)[1] for v in s3.list_object_versions(Bucket=bucket, Prefix=prefix).get("Versions", [])
    ]
    return {name: names.count(name) for name in names}


def on_ray(root: Path, **options):
    return synthesize(
        load_recipe("tiny", root), root, show_progress=False, backend="ray", backend_options={"workers": 2, **options}
    )


@pytest.fixture
def local(tmp_path) -> Path:
    root = project_with(tmp_path / "local")
    synthesize(load_recipe("tiny", root), root, show_progress=False)
    return root


def test_store_gives_local_bytes_resumes_and_remakes_damaged(tmp_path, cluster, s3, bucket, local):
    remote = project_with(tmp_path / "ray")
    samples = remote / "data/tiny/samples"
    store = f"s3://{bucket}/runs"
    assert len(on_ray(remote, store=store).written) == 4
    expected = files(local / "data/tiny/samples")
    assert files(samples) == expected
    stored = {name: s3.get_object(Bucket=bucket, Key=f"runs/tiny/samples/{name}")["Body"].read() for name in expected}
    assert stored == expected  # the store holds the same objects, under <store>/<recipe>/samples/<shard>
    assert versions(s3, bucket, "runs/tiny/samples/") == dict.fromkeys(expected, 1)

    shutil.rmtree(remote / "data")  # a fresh driver, e.g. another machine: everything is copied back, nothing remade
    assert len(on_ray(remote, store=store).written) == 4
    assert files(samples) == expected
    assert versions(s3, bucket, "runs/tiny/samples/") == dict.fromkeys(expected, 1)

    names = sorted(expected)
    s3.put_object(Bucket=bucket, Key=f"runs/tiny/samples/{names[0]}", Body=b"not parquet")
    s3.put_object(
        Bucket=bucket, Key=f"runs/tiny/samples/{names[1]}", Body=expected[names[1]][: len(expected[names[1]]) // 2]
    )
    shutil.rmtree(remote / "data")
    assert len(on_ray(remote, store=store).written) == 4
    assert files(samples) == expected  # the damaged two were remade (a third version each), not copied
    assert versions(s3, bucket, "runs/tiny/samples/") == {name: 3 if name in names[:2] else 1 for name in names}
    assert not list(samples.glob(".*.tmp"))


def test_worker_killed_mid_shard_with_store_completes(tmp_path, cluster, s3, bucket, local):
    remote = project_with(tmp_path / "ray")
    marker = tmp_path / "killed-once"
    with faults.killing(cluster, 1, marker):
        report = on_ray(remote, store=f"s3://{bucket}/killed")
    assert marker.read_text().endswith("killed/tiny/samples/" + sorted(files(local / "data/tiny/samples"))[1])
    assert files(remote / "data/tiny/samples") == files(local / "data/tiny/samples")
    assert sorted(report.written) == sorted(files(local / "data/tiny/samples"))
    assert versions(s3, bucket, "killed/") == dict.fromkeys(report.written, 1)  # the dead worker made no PUT


def test_progress_is_per_sample_and_a_retried_shard_counts_once(tmp_path, cluster):
    from synth.backends.ray_backend import run_on_ray
    from synth.backends.work import ShardJob
    from synth.stages.synthesize import samples_work

    root = project_with(tmp_path / "ray", samples_per_shard=20)
    recipe = load_recipe("tiny", root)
    plans = shard_plans(recipe)
    out = DatasetPaths(root, "tiny").samples
    out.mkdir(parents=True)
    seen, total = [], [0]

    def advance(n=1):
        seen.append(n)
        total[0] += n
        assert total[0] <= 40, "progress counted past the number of samples"

    jobs = [ShardJob(plan) for plan in plans]
    with faults.killing(cluster, 0, tmp_path / "killed"):
        run_on_ray(samples_work(recipe), jobs, out, advance, workers=2, progress_period=0.0)
    assert (tmp_path / "killed").exists()
    assert total[0] == 40
    assert max(seen) < 20  # several messages per 20-sample shard: the bar moves per sample, not per shard


def test_local_store_path_and_bad_stores_are_one_line(project, tmp_path, s3, bucket):
    bad = [
        (["--store", f"s3://{bucket}-missing/x", "--backend", "ray"], f"--store s3://{bucket}-missing/x: not usable"),
        (["--store", "nosuch://bucket/x", "--backend", "ray"], "--store nosuch://bucket/x: Protocol not known"),
        (["--store", str(tmp_path / "store")], "--store: only meaningful with --backend ray"),
    ]
    for args, start in bad:
        result = project.synth("synthesize", "tiny", "--quiet", *args, check=False)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith(start), result.stderr
        assert not list((project.root / "data").glob("tiny/samples/shard-*"))
    with socket.socket() as probe:  # an S3 endpoint nobody answers; one attempt, not botocore's retries
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{port}")
        patch.setenv("AWS_MAX_ATTEMPTS", "1")
        result = project.synth(
            "synthesize", "tiny", "--quiet", "--backend", "ray", "--store", f"s3://{bucket}/x", check=False
        )
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0].startswith(f"--store s3://{bucket}/x: not usable") and "Could not connect" in lines[0], lines[0]
    project.synth(
        "synthesize",
        "tiny",
        "--quiet",
        "--backend",
        "ray",
        "--workers",
        "1",
        "--store",
        f"file://{tmp_path / 'store'}",
        "--limit",
        "10",
    )
    made = files(project.root / "data/tiny/samples")
    assert len(made) == 1 and files(tmp_path / "store/tiny/samples") == made


def decode_here_and_copy_samples(local: Path, remote: Path) -> dict[str, bytes]:
    shutil.copytree(local / "data/tiny/samples", remote / "data/tiny/samples")
    decode(load_recipe("tiny", local), local, show_progress=False)
    return files(local / "data/tiny/masks")


def test_decode_on_ray_with_and_without_store_gives_local_bytes(tmp_path, cluster, s3, bucket, local):
    plain, stored = project_with(tmp_path / "plain"), project_with(tmp_path / "stored")
    expected = decode_here_and_copy_samples(local, plain)
    shutil.copytree(local / "data/tiny/samples", stored / "data/tiny/samples")
    for root, options in ((plain, {}), (stored, {"store": f"s3://{bucket}/d"})):
        report = decode(
            load_recipe("tiny", root),
            root,
            show_progress=False,
            backend="ray",
            backend_options={"workers": 2, **options},
        )
        assert len(report.written) == 4 and files(root / "data/tiny/masks") == expected
    assert versions(s3, bucket, "d/tiny/masks/") == dict.fromkeys(expected, 1)
    assert len(versions(s3, bucket, "d/tiny/samples/")) == 4  # the driver put the samples the workers read


def test_datasetgan_decoder_ships_to_workers(tmp_path, cluster, s3, bucket):
    import torch

    from synth.decode.datasetgan.ensemble import Ensemble, make_mlp

    decoder = {
        "type": "datasetgan",
        "features": {"type": "random_conv", "channels": [4, 4]},
        "ensemble": 2,
        "exclude_uncertain": 0.1,
    }
    local = project_with(tmp_path / "local", decode=decoder, seeds=[{"start": 0, "stop": 20}])
    remote = project_with(tmp_path / "ray", decode=decoder, seeds=[{"start": 0, "stop": 20}])
    synthesize(load_recipe("tiny", local), local, show_progress=False)
    torch.manual_seed(0)  # an untrained ensemble is still a real checkpoint: decoding it is deterministic
    ensemble = Ensemble([make_mlp(8, 4) for _ in range(2)], torch.zeros(8), torch.ones(8), [0, 1, 2, 3])
    DatasetPaths(local, "tiny").decoder.mkdir(parents=True)
    ensemble.save(DatasetPaths(local, "tiny").decoder_checkpoint)
    shutil.copytree(DatasetPaths(local, "tiny").decoder, DatasetPaths(remote, "tiny").decoder)
    expected = decode_here_and_copy_samples(local, remote)
    report = decode(
        load_recipe("tiny", remote),
        remote,
        show_progress=False,
        backend="ray",
        backend_options={"workers": 2, "store": f"s3://{bucket}/g"},
    )
    assert len(report.written) == 2 and files(remote / "data/tiny/masks") == expected
    excluded = "data/tiny/masks/excluded.json"
    assert (remote / excluded).read_text() == (local / excluded).read_text()

    # a decoder that cannot load (trained on other features) fails on the first worker as the local run's one line
    Ensemble([make_mlp(16, 4) for _ in range(2)], torch.zeros(16), torch.ones(16), [0, 1, 2, 3]).save(
        DatasetPaths(remote, "tiny").decoder_checkpoint
    )
    with pytest.raises(UserError, match=r"^decode.features: 8 dims but the decoder was trained on 16"):
        decode(load_recipe("tiny", remote), remote, show_progress=False, backend="ray", backend_options={"workers": 2})
