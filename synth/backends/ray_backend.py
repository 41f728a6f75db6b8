"""Synthesis on a Ray cluster: one long-lived actor per worker, whole shards as the unit of work.

Each actor builds the generator once (loading a model is the expensive part) and then makes whole shards with
the same ``make_shard`` the local backend uses, writing each one atomically to the shared output folder
(temporary file, then rename). The driver hands out the fixed shard plans; if an actor dies its shard goes to
another actor (a replacement is started), and a shard that was half-written leaves only a temporary file that
the next write replaces. Because shards are keyed and made exactly as locally, the bytes are identical.

The output folder must be visible to every worker under the same path (one machine, or a shared file system).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from synth.errors import UserError
from synth.store.shards import ShardPlan

FAULT_ENV = "SYNTH_FAULT_KILL_SHARD"  # test instrumentation: "<index>:<marker file>" kills the actor once


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


def _actor_class():
    import ray

    @ray.remote
    class ShardWorker:
        def __init__(self, recipe_json: dict):
            from synth.recipe import Recipe

            self.recipe = Recipe.model_validate(recipe_json)
            self.generator = self.recipe.generator.build(self.recipe)

        def make(self, plan: ShardPlan, out_dir: str) -> tuple[str, int]:
            from synth.stages.synthesize import make_shard
            from synth.store.shards import write_atomic

            table = make_shard(self.generator, self.recipe, plan)
            write_atomic(table, Path(out_dir) / plan.filename, before_rename=_fault_hook(plan))
            return plan.filename, len(plan.seeds)

    return ShardWorker


def _fault_hook(plan: ShardPlan):
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return None
    index, _, marker = spec.partition(":")

    def die_once(tmp: Path) -> None:
        if int(index) == plan.index and not Path(marker).exists():
            Path(marker).write_text(str(tmp))
            os._exit(1)  # the actor dies mid-shard: its temporary file is written, the shard is not

    return die_once


def run_on_ray(
    recipe,  # noqa: ANN001 - synth.recipe.Recipe
    plans: list[ShardPlan],
    out_dir: Path,
    advance,  # noqa: ANN001
    address: str | None = None,
    workers: int = 2,
    gpus_per_worker: float = 0.0,
    max_attempts: int = 3,
) -> list[str]:
    import ray
    from ray.exceptions import RayActorError

    if address:
        check_address(address)
    started_here = not ray.is_initialized()
    if started_here:
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
        except ConnectionError as error:
            raise UserError(f"--address {address}: {error}") from None
    options = {"num_gpus": gpus_per_worker, "max_restarts": 0}
    if FAULT_ENV in os.environ:  # forwarded explicitly: workers of a running cluster do not see the driver's env
        options["runtime_env"] = {"env_vars": {FAULT_ENV: os.environ[FAULT_ENV]}}
    worker_cls = _actor_class().options(**options)
    recipe_json = recipe.model_dump(mode="json")
    actors = [worker_cls.remote(recipe_json) for _ in range(max(1, min(workers, len(plans))))]
    queue = list(plans)
    attempts = {plan.index: 0 for plan in plans}
    running: dict = {}  # object ref -> (actor, plan)
    written: list[str] = []
    try:
        while queue or running:
            busy = {actor for actor, _ in running.values()}
            for actor in [a for a in actors if a not in busy]:
                if not queue:
                    break
                plan = queue.pop(0)
                attempts[plan.index] += 1
                running[actor.make.remote(plan, str(out_dir))] = (actor, plan)
            (ref,), _ = ray.wait(list(running), num_returns=1)
            actor, plan = running.pop(ref)
            try:
                name, count = ray.get(ref)
            except RayActorError:
                if attempts[plan.index] >= max_attempts:
                    raise UserError(f"shard {plan.filename}: its worker died {max_attempts} times; giving up") from None
                actors.remove(actor)
                actors.append(worker_cls.remote(recipe_json))  # a replacement; the shard goes to whoever is free
                queue.insert(0, plan)
                continue
            written.append(name)
            advance(count)
    finally:
        for actor in actors:
            ray.kill(actor)
        if started_here:
            ray.shutdown()
    return sorted(written)

