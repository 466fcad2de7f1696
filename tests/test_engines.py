"""Tests of midi_ddsp.engines: the same tasks on the local pool and on Ray, state built once per
worker, a worker that dies retried."""
from __future__ import annotations

import os
import sys

import pytest

from midi_ddsp.engines import WorkerLost, check_engine, run_tasks
from midi_ddsp.errors import ParameterError


def _init(tag):
    """Per-worker state: the tag and this process's id (so tests can count workers)."""
    return {"tag": tag, "pid": os.getpid()}


def _square(state, item):
    return state["tag"], state["pid"], item * item


def _die_once(state, item):
    """Kills its worker the first time it sees an item with a marker path."""
    value, marker = item
    if marker is not None and not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(1)
    return value


def _always_die(state, item):
    os._exit(1)


@pytest.fixture(scope="module")
def ray_engine():
    ray = pytest.importorskip("ray")
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the tasks live in this test
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield "ray"
    ray.shutdown()


@pytest.mark.parametrize("jobs", [1, 2])
def test_local_engine_runs_every_item_once_with_state_per_worker(jobs):
    out = dict(run_tasks(_square, list(range(7)), init=_init, init_args=("x",), jobs=jobs))
    assert sorted(out) == list(range(7))
    assert [out[i][2] for i in range(7)] == [i * i for i in range(7)]
    assert all(tag == "x" for tag, _, _ in out.values())
    pids = {pid for _, pid, _ in out.values()}
    assert (pids == {os.getpid()}) if jobs == 1 else (len(pids) <= 2 and os.getpid() not in pids)


def test_ray_engine_matches_local(ray_engine):
    local = dict(run_tasks(_square, list(range(6)), init=_init, init_args=("y",), jobs=2))
    ray = dict(run_tasks(_square, list(range(6)), init=_init, init_args=("y",), engine=ray_engine,
                         jobs=2))
    assert {i: v[2] for i, v in ray.items()} == {i: v[2] for i, v in local.items()}
    assert len({pid for _, pid, _ in ray.values()}) <= 2  # the state is built once per actor


@pytest.mark.parametrize("engine", ["local", "ray"])
def test_a_worker_killed_mid_task_is_retried(engine, tmp_path, request):
    if engine == "ray":
        request.getfixturevalue("ray_engine")
    items = [(i, str(tmp_path / f"marker{i}") if i in (1, 4) else None) for i in range(6)]
    out = dict(run_tasks(_die_once, items, init=_init, init_args=("z",), engine=engine, jobs=2))
    assert out == {i: i for i in range(6)}
    assert (tmp_path / "marker1").exists() and (tmp_path / "marker4").exists()


def test_a_worker_that_always_dies_gives_up_on_that_item_only():
    out = dict(run_tasks(_always_die, [0], init=_init, init_args=("w",), jobs=2, retries=1))
    assert isinstance(out[0], WorkerLost) and out[0].attempts == 2
    assert dict(run_tasks(_square, [3], init=_init, init_args=("w",), jobs=2))[0][2] == 9


def test_bad_engine_settings_are_one_line_errors():
    with pytest.raises(ParameterError, match="engine must be one of local, ray"):
        check_engine("spark", jobs=2)
    with pytest.raises(ParameterError, match="jobs must be an integer >= 1"):
        list(run_tasks(_square, [1], init=_init, init_args=("v",), jobs=0))
