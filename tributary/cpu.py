"""How a process that runs stages uses the CPU: in parallel by process and thread only.

Throughput comes from one worker process per core, each with a few consumer threads.
A BLAS thread pool inside every process on top of that oversubscribes the cores, and
OpenBLAS's pool spins for a while after each call waiting for the next one: with two
workers on two cores it took about half the CPU from the stages themselves.
"""

from __future__ import annotations

import functools

from threadpoolctl import threadpool_limits


@functools.cache
def one_blas_thread() -> None:
    """Make numpy's BLAS library use a single thread in this process.

    threadpoolctl only sees libraries already loaded, so numpy is imported first:
    called before anything imported it, the limit would silently do nothing.
    """
    import numpy  # noqa: F401 - loads the BLAS library the limit applies to

    threadpool_limits(limits=1, user_api="blas")
