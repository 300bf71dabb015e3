"""How many worker processes `minibase serve` runs: `workers`, or by default (auto) one per core
the server may use, as a container's CPU limit allows, at most AUTO_WORKERS_MAX; one in --dev.
And how each worker sets up its process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from minibase.config import ConfigError, Settings, load_settings
from minibase.server import YOUNG_COLLECTION_EVERY
from minibase.serving import AUTO_WORKERS_MAX, usable_cores, worker_count

CORES = len(os.sched_getaffinity(0))


def test_a_set_worker_count_is_taken_as_it_is() -> None:
    assert worker_count(Settings(workers=7)) == 7
    assert worker_count(Settings(workers=1, dev=False)) == 1


def test_auto_runs_one_worker_per_usable_core_up_to_a_cap() -> None:
    assert Settings().workers is None  # auto is the default
    assert worker_count(Settings()) == min(AUTO_WORKERS_MAX, usable_cores())
    assert worker_count(Settings(dev=True)) == 1  # it reloads functions in its process


def test_auto_is_spelled_auto_and_a_count_must_be_positive() -> None:
    assert load_settings({"workers": "auto"}).workers is None
    assert load_settings({"workers": "2"}).workers == 2
    for wrong in ("0", "-1", "many"):
        with pytest.raises(ConfigError, match="workers"):
            load_settings({"workers": wrong})


def write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


@pytest.mark.parametrize(
    ("files", "cpus"),
    [
        ({}, CORES),  # no cgroup files: the CPU affinity
        ({"cpu.max": "max 100000\n"}, CORES),  # cgroup v2, no limit
        ({"cpu.max": "50000 100000\n"}, 1),  # half a core: one worker
        ({"cpu.max": "150000 100000\n"}, min(CORES, 2)),  # 1.5 cores: rounded up
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, CORES),  # v1
        ({"cpu/cpu.cfs_quota_us": "100000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 1),
        ({"cpu.max": "garbage\n"}, CORES),
    ],
)
def test_a_containers_cpu_limit_caps_the_usable_cores(
    tmp_path: Path, files: dict[str, str], cpus: int
) -> None:
    assert usable_cores(write(tmp_path, files)) == cpus


def test_a_worker_collects_young_objects_less_often_and_sets_its_imports_aside(
    tmp_path: Path,
) -> None:
    """What a worker process does when it builds its app (in a process of its own: the
    collector's settings are the process's)."""
    script = (
        "import gc; from minibase.server import app_from_environment; app_from_environment();"
        " print(gc.get_threshold()[0], gc.get_freeze_count())"
    )
    env = {**os.environ, "MINIBASE_DATA_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    threshold, frozen = map(int, done.stdout.split())
    assert threshold == YOUNG_COLLECTION_EVERY > 700  # Python's default
    assert frozen > 10_000  # the modules, the routes, the app
