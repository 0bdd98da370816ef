"""The service's processes run numpy's BLAS on one thread (``kernel.threads``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from threadpoolctl import threadpool_info

from service.kernel.threads import one_blas_thread


def _blas_threads() -> list[int]:
    return [int(lib["num_threads"]) for lib in threadpool_info() if lib["user_api"] == "blas"]


def test_the_limit_applies_and_restores() -> None:
    before = _blas_threads()
    assert before, "numpy's BLAS is loaded"
    with one_blas_thread():
        assert _blas_threads() == [1] * len(before)
    assert _blas_threads() == before


CHILD = """
import json
from threadpoolctl import threadpool_info
from service.app import create_app_from_environment
create_app_from_environment()
print(json.dumps([lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]))
"""


def test_the_server_factory_sets_one_blas_thread(tmp_path: Path) -> None:
    """What each `modelmon serve` worker process runs at start, in a fresh interpreter with
    two BLAS threads to begin with."""
    env = {
        **os.environ,
        "MODELMON_DATABASE_URL": f"sqlite:///{tmp_path / 'threads.db'}",
        "MODELMON_MIGRATE_ON_START": "true",
        "OPENBLAS_NUM_THREADS": "2",
    }
    env.pop("MODELMON_ENVIRONMENT", None)
    done = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    threads = json.loads(done.stdout.strip().splitlines()[-1])
    assert threads and set(threads) == {1}
