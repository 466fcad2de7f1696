"""Where batch work runs: a local process pool or a Ray cluster, behind one call.

``run_tasks(task, items, init=..., init_args=..., engine="local"|"ray", jobs=N)`` calls
``task(state, item)`` for every item and yields ``(index, outcome)`` as results arrive, where
``state = init(*init_args)`` is built once per worker (the models are loaded once per worker, not
once per item) and ``outcome`` is what ``task`` returned, or a ``WorkerLost`` when the worker
running the item died more than ``retries`` times.

- ``local``: ``jobs == 1`` runs in this process; otherwise ``jobs`` spawned processes. A dead
  worker (killed, out of memory) breaks the pool: a new pool is started and the items that had
  not finished are submitted again.
- ``ray``: ``jobs`` Ray actors (``ray`` is an optional extra: ``pip install midi_ddsp[ray]``), on a
  local Ray started for the run (``num_cpus=jobs``) or on an existing cluster (``address``). The
  ``init_args`` go to the object store once; an actor that dies is restarted by Ray and its item
  retried.

``task`` and ``init`` must be importable module-level functions (they are pickled by reference).
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import logging
import multiprocessing
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Iterator, Sequence

from midi_ddsp.errors import ParameterError

__all__ = ["ENGINES", "WorkerLost", "check_engine", "run_tasks"]

logger = logging.getLogger(__name__)

ENGINES = ("local", "ray")


@dataclasses.dataclass(frozen=True)
class WorkerLost:
    """The outcome of an item whose worker died on every attempt."""

    attempts: int
    reason: str


def check_engine(engine: str, *, jobs: int) -> str:
    """``engine`` if it is known and usable with ``jobs``, else ParameterError (one line)."""
    if engine not in ENGINES:
        raise ParameterError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ParameterError(f"jobs must be an integer >= 1, got {jobs!r}")
    if engine == "ray":
        try:
            import ray  # noqa: F401  (only whether it imports)
        except ImportError:
            raise ParameterError("engine 'ray' needs Ray: pip install 'midi_ddsp[ray]'") from None
    return engine


def run_tasks(task: Callable, items: Sequence, *, init: Callable, init_args: tuple = (),
              engine: str = "local", jobs: int = 1, address: "str | None" = None,
              retries: int = 2) -> Iterator[tuple[int, Any]]:
    """Run ``task(state, item)`` for every item; yields ``(index, outcome)`` in completion order.

    Args:
        task: module-level function ``(state, item) -> outcome``; it should not raise (turn
            problems with an item into an outcome).
        items: the work, picklable.
        init: module-level function ``(*init_args) -> state``, run once per worker.
        init_args: its arguments (e.g. the models), sent to each worker once.
        engine: ``"local"`` or ``"ray"``.
        jobs: workers (processes or actors); local ``jobs == 1`` runs in this process.
        address: Ray only: the address of a running cluster (default: start a local Ray).
        retries: how often an item whose worker died is tried again.
    """
    check_engine(engine, jobs=jobs)
    if not items:
        return
    if engine == "ray":
        yield from _run_ray(task, items, init, init_args, jobs=jobs, address=address,
                            retries=retries)
    elif jobs == 1:
        state = init(*init_args)
        for i, item in enumerate(items):
            yield i, task(state, item)
    else:
        yield from _run_local_pool(task, items, init, init_args, jobs=jobs, retries=retries)


# --------------------------------------------------------------------------------------------
# local process pool

_STATE: Any = None


def _pool_init(init: Callable, init_args: tuple) -> None:
    global _STATE
    _STATE = init(*init_args)


def _pool_call(task: Callable, item: Any) -> Any:
    return task(_STATE, item)


def _run_local_pool(task, items, init, init_args, *, jobs: int, retries: int):
    context = multiprocessing.get_context("spawn")
    pending = list(range(len(items)))
    attempts = [0] * len(items)
    while pending:
        lost: list[int] = []
        with concurrent.futures.ProcessPoolExecutor(
                max_workers=jobs, mp_context=context, initializer=_pool_init,
                initargs=(init, init_args)) as pool:
            futures = {pool.submit(_pool_call, task, items[i]): i for i in pending}
            for future in concurrent.futures.as_completed(futures):
                i = futures[future]
                try:
                    outcome = future.result()
                except BrokenProcessPool:  # a worker died: this pool is gone
                    lost.append(i)
                    continue
                yield i, outcome
        pending = []
        for i in lost:
            attempts[i] += 1
            if attempts[i] > retries:
                yield i, WorkerLost(attempts[i], "worker process died")
            else:
                pending.append(i)
        if pending:
            logger.warning("a worker process died; retrying %d unfinished item(s)", len(pending))


# --------------------------------------------------------------------------------------------
# Ray

class _RayWorker:
    """One actor: the state built once, then items."""

    def __init__(self, init: Callable, init_args: tuple):
        self.state = init(*init_args)

    def run(self, task: Callable, item: Any) -> Any:
        return task(self.state, item)


def _run_ray(task, items, init, init_args, *, jobs: int, address: "str | None", retries: int):
    import ray
    from ray.exceptions import RayActorError, WorkerCrashedError

    started = False
    if not ray.is_initialized():
        if address:
            ray.init(address=address, log_to_driver=False, configure_logging=False)
        else:
            ray.init(num_cpus=jobs, include_dashboard=False, log_to_driver=False,
                     configure_logging=False)
        started = True
    try:
        actor_cls = ray.remote(num_cpus=1, max_restarts=retries, max_task_retries=retries)(
            _RayWorker)
        args_ref = ray.put(init_args)
        actors = [actor_cls.remote(init, args_ref) for _ in range(min(jobs, len(items)))]
        todo = list(range(len(items)))[::-1]
        running: dict = {}

        def submit(actor) -> None:
            i = todo.pop()
            running[actor.run.remote(task, items[i])] = (i, actor)

        for actor in actors:
            if todo:
                submit(actor)
        while running:
            [ref], _ = ray.wait(list(running), num_returns=1)
            i, actor = running.pop(ref)
            try:
                outcome = ray.get(ref)
            except (RayActorError, WorkerCrashedError) as exc:
                # Ray restarted and retried the actor `retries` times: give up on this item,
                # carry on with a fresh actor
                outcome = WorkerLost(retries + 1, f"Ray worker died ({type(exc).__name__})")
                actor = actor_cls.remote(init, args_ref)
            yield i, outcome
            if todo:
                submit(actor)
    finally:
        if started:
            ray.shutdown()
