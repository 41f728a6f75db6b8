"""The Ray executor: long-lived actors, whole shards as the unit of work (synthesize and decode use it).

Each actor runs the stage's ``ShardWork.setup`` once (it builds the generator or the decoder: loading a model is
the expensive part) and then works through whole shards with the same ``ShardWork.make`` the local executor
runs (synth/backends/work.py); this module never imports a stage. Without a store it
writes each shard atomically to the shared output folder (temporary file, then rename), which every worker must
see under the same path. With ``store`` (an fsspec URL, see synth/store/objects.py) it puts each finished shard
into the store as one complete object and the driver copies it, checked, into ``data/NAME``; a shard already
complete in the store is copied instead of remade, a damaged one is remade.

Actor methods are Ray streaming generators: they yield the number of samples finished (summed over
``PROGRESS_PERIOD`` seconds) and, last, the shard's file name, so the driver's bar moves per sample. If an actor
dies, the progress its shard had reported is taken back off the bar, the shard goes to another actor (a
replacement is started), and a half-made shard leaves only a temporary file (or nothing in the store). Because
shards are keyed and made exactly as locally, the bytes are identical.
"""

from __future__ import annotations

import queue
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from synth.backends.work import ShardJob, ShardWork
from synth.core.torch_runtime import fixed_threads
from synth.errors import UserError
from synth.store.objects import ObjectStore, open_store
from synth.store.shards import ShardPlan, shard_bytes, write_atomic

PROGRESS_PERIOD = 0.1  # seconds of progress a worker sums into one message


@dataclass(frozen=True)
class RayOptions:
    """How to run on Ray (the CLI's execution settings): never part of what is made."""

    address: str | None = None
    workers: int = 2
    gpus_per_worker: float = 0.0
    store: str | None = None  # fsspec URL workers put shards into; None: a folder every worker sees
    max_attempts: int = 3  # per shard, counting actor deaths
    progress_period: float = PROGRESS_PERIOD


def check_address(address: str) -> None:
    """Fail fast with one line instead of letting ray.init wait on an address nobody answers."""
    if address == "auto":
        return
    target = address.removeprefix("ray://")
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise UserError(f"--address {address}: expected HOST:PORT, ray://HOST:PORT or auto")
    try:
        with socket.create_connection((host, int(port)), timeout=3):
            pass
    except OSError as error:
        raise UserError(f"--address {address}: no Ray cluster reachable ({error.strerror or error})") from None


def _streamed(work, period: float = PROGRESS_PERIOD):
    """Run ``work(advance)`` on a thread; yield the samples it finished every ``period`` seconds, then its result."""
    counts: queue.SimpleQueue = queue.SimpleQueue()
    with ThreadPoolExecutor(1, "shard") as pool:
        result = pool.submit(work, lambda n=1: counts.put(n))
        result.add_done_callback(lambda _: counts.put(None))  # wakes the loop the moment the shard is finished
        pending, last = 0, time.monotonic()
        while (count := _next_count(counts, period)) is not None:
            pending += count
            if pending and time.monotonic() - last >= period:
                yield pending
                pending, last = 0, time.monotonic()
        if pending:
            yield pending
        yield result.result()


def _next_count(counts: queue.SimpleQueue, period: float) -> int | None:
    """The next progress count, 0 after ``period`` seconds without one, None when the work is done."""
    try:
        return counts.get(timeout=max(period, 0.01))
    except queue.Empty:
        return 0


def _put_or_write(table, plan: ShardPlan, name: str, kind: str, out_dir: str, store_url: str | None) -> str:
    """A worker's finished shard: one PUT into the store, or an atomic write into the shared folder."""
    if store_url is None:
        write_atomic(table, Path(out_dir) / plan.filename)
        return plan.filename
    store = ObjectStore(store_url)
    store.put(store.key(name, kind, plan.filename), shard_bytes(table))
    return plan.filename


def _actor_class():
    import ray

    @ray.remote
    class ShardWorker:
        def __init__(self, work: ShardWork):
            self.work = work
            with fixed_threads(work.threads):
                self.state = work.parallel_setup()()

        @ray.method(num_returns="streaming")
        def make(self, job: ShardJob, out_dir: str, store_url: str | None, period: float):
            work = self.work

            def run(advance):  # on a thread of its own (_streamed): the thread count is set where it computes
                source = _read_source(job.source, work.source_columns, store_url) if work.source_columns else None
                with fixed_threads(work.threads):
                    table = work.make(self.state, job, source, advance)
                return _put_or_write(table, job.plan, work.name, work.kind, out_dir, store_url)

            yield from _streamed(run, period)

    return ShardWorker


def _read_source(source: str, columns: tuple[str, ...], store_url: str | None):
    """A job's input shard: from the shared folder, or (with a store) the object the driver put there."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from synth.store.shards import read_shard

    if store_url is None:
        return read_shard(Path(source), list(columns))
    data = ObjectStore(store_url).get(source)
    if data is None:
        raise FileNotFoundError(source)
    return pq.read_table(pa.BufferReader(data), columns=list(columns))


@contextmanager
def _cluster(address: str | None):
    """Join ``address`` (or start a local Ray); shut down on leaving only what this call started."""
    import ray

    if address:
        check_address(address)
    started_here = not ray.is_initialized()
    if started_here:
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
        except ConnectionError as error:
            raise UserError(f"--address {address}: {error}") from None
    try:
        yield ray
    finally:
        if started_here:
            ray.shutdown()


def _actor_options(gpus_per_worker: float) -> dict:
    return {"num_gpus": gpus_per_worker, "max_restarts": 0}


def _from_store(
    store: ObjectStore | None, name: str, kind: str, plans: list[ShardPlan], out_dir: Path, advance
) -> list[str]:
    """Copy the shards already complete in the store; the damaged and the missing are left to be made."""
    if store is None:
        return []
    present = store.sizes(name, kind)
    copied = []
    for plan in plans:
        if plan.filename in present and store.copy_out(
            store.key(name, kind, plan.filename), len(plan.seeds), out_dir / plan.filename
        ):
            copied.append(plan.filename)
            advance(len(plan.seeds))
    return copied


def _drive(new_actor, submit, jobs: list, advance, opts: RayOptions, on_done) -> list:
    """Hand ``jobs`` (each with ``.plan``) to ``opts.workers`` actors; ``on_done(job)`` as each finishes; the finished.

    ``submit(actor, job)`` starts a streaming method: ints are progress, the last item the result. A job whose
    actor died goes back to the front of the queue, to whichever actor is free, with a replacement started.
    """
    import ray
    from ray.exceptions import RayActorError, RayTaskError

    actors = [new_actor() for _ in range(max(1, min(opts.workers, len(jobs))))]
    waiting = list(jobs)
    attempts = {job.plan.index: 0 for job in jobs}
    running: dict = {}  # streaming generator -> [actor, job, samples reported so far]
    done = []
    try:
        while waiting or running:
            busy = {entry[0] for entry in running.values()}
            for actor in [a for a in actors if a not in busy]:
                if not waiting:
                    break
                job = waiting.pop(0)
                attempts[job.plan.index] += 1
                running[submit(actor, job)] = [actor, job, 0]
            (stream,), _ = ray.wait(list(running), num_returns=1)
            if not isinstance(stream, ray.ObjectRefGenerator):  # submit starts streaming methods only
                raise TypeError(f"ray.wait returned {type(stream).__name__}, not a streaming generator")
            entry = running[stream]
            actor, job, reported = entry
            try:
                item = ray.get(next(stream))
            except RayActorError as error:
                if error.actor_init_failed:  # building the generator or decoder failed: the same on any worker
                    raise UserError(_init_failure(error)) from None
                del running[stream]
                advance(-reported)  # the shard starts over: what it reported must not count twice
                if attempts[job.plan.index] >= opts.max_attempts:
                    raise UserError(
                        f"shard {job.plan.filename}: its worker died {opts.max_attempts} times; giving up"
                    ) from None
                actors.remove(actor)
                actors.append(new_actor())  # a replacement; the shard goes to whoever is free
                waiting.insert(0, job)
                continue
            except RayTaskError as error:  # a user's mistake found on a worker (e.g. a corrupt shard) stays one line
                if isinstance(error.cause, UserError):
                    raise UserError(str(error.cause)) from None
                raise
            if isinstance(item, int):
                entry[2] += item
                advance(item)
                continue
            del running[stream]
            on_done(job)
            done.append(job)
    finally:
        for actor in actors:
            ray.kill(actor)
    return done


def _init_failure(error) -> str:
    """The one line that says why an actor's ``__init__`` failed: the exception's last line of the traceback."""
    lines = [line.strip() for line in (error.error_msg or "").splitlines() if line.strip()]
    last = lines[-1] if lines else "unknown error"
    prefix = f"{UserError.__module__}.{UserError.__name__}: "
    return last.removeprefix(prefix) if last.startswith(prefix) else f"a Ray worker could not start: {last}"


def _copy_back(store: ObjectStore | None, name: str, kind: str, out_dir: Path):
    """The driver's half of a store round trip: each shard a worker put must arrive complete in ``out_dir``."""
    if store is None:
        return lambda job: None

    def copy(job: ShardJob) -> None:
        key = store.key(name, kind, job.plan.filename)
        if not store.copy_out(key, len(job.plan.seeds), out_dir / job.plan.filename):
            raise UserError(f"{key}: missing or damaged right after its worker wrote it; rerun to remake it")

    return copy


def run_on_ray(work: ShardWork, jobs: list[ShardJob], out_dir: Path, advance, **options) -> list[str]:
    """Make ``jobs`` on Ray actors into ``out_dir`` (through the store when given); the shard names written.

    ``options``: the fields of ``RayOptions``. With a store, shards already complete there are copied instead of
    made, and each job's source shard is put there first unless the store holds it already (workers read it).
    """
    opts = RayOptions(**options)
    objects = open_store(opts.store)
    copied = _from_store(objects, work.name, work.kind, [job.plan for job in jobs], out_dir, advance)
    todo = [job for job in jobs if job.plan.filename not in copied]
    if not todo:
        return sorted(copied)
    if objects is not None and work.source_columns:
        todo = _ship_sources(objects, work, todo)
    with _cluster(opts.address) as ray:
        worker_cls = _actor_class().options(**_actor_options(opts.gpus_per_worker))
        shared = ray.put(work)  # shipped once (a decoder's trained files ride along), not once per actor
        done = _drive(
            lambda: worker_cls.remote(shared),
            lambda actor, job: actor.make.remote(job, str(out_dir), opts.store, opts.progress_period),
            todo,
            advance,
            opts,
            _copy_back(objects, work.name, work.kind, out_dir),
        )
    return sorted(copied + [job.plan.filename for job in done])


def _ship_sources(objects: ObjectStore, work: ShardWork, jobs: list[ShardJob]) -> list[ShardJob]:
    """Put in the store the source shards only this machine has; the jobs then name their store keys."""
    stored = objects.sizes(work.name, work.source_kind)
    shipped = []
    for job in jobs:
        source = Path(job.source)
        key = objects.key(work.name, work.source_kind, source.name)
        if stored.get(source.name) != source.stat().st_size:
            objects.put(key, source.read_bytes())
        shipped.append(ShardJob(job.plan, key))
    return shipped
