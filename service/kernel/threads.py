"""Numeric libraries compute each call on the calling thread.

numpy's OpenBLAS starts a thread per core for a matrix product and keeps them spinning after
it. modelmon's parallelism is its own: slices of a cold read profiled in threads, requests in
threads, workers in processes, Postgres on the same cores. There the BLAS threads only compete:
a profile of 10^6 benchmark rows (15 numeric columns, its multivariate model's products) took
4.2-5.3 s of CPU with two BLAS threads and 2.8-3.4 s with one, on 2 cores, for the same result.
"""

from __future__ import annotations

from typing import Any


def one_blas_thread() -> Any:
    """Limit the BLAS libraries loaded so far (numpy's) to one thread, for the process; the
    limiter returned restores them (``restore_original_limits``) or works as a context manager."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")
