"""Where sweep points run: local worker processes, or a Dask distributed cluster.

Both are ``concurrent.futures`` executors, so the sweep waits on them the same way.
"""
from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
from contextlib import contextmanager
from typing import Iterator

DASK_HINT = "pip install 'codesign[sweep]' (dask==2026.8.0, distributed==2026.8.0)"


@contextmanager
def executor(scheduler: str | None = None, workers: int = 1) -> Iterator[cf.Executor]:
    """Local processes (``spawn``: TensorFlow does not survive ``fork``), or the Dask
    scheduler at ``scheduler`` (e.g. ``tcp://10.0.0.5:8786``) when given."""
    if scheduler is None:
        with cf.ProcessPoolExecutor(max_workers=workers,
                                    mp_context=multiprocessing.get_context("spawn")) as pool:
            yield pool
        return
    try:
        from distributed import Client
    except ImportError:
        raise RuntimeError(f"a Dask scheduler was given but distributed is not installed: {DASK_HINT}") from None
    with Client(scheduler) as client:
        pool = client.get_executor(pure=False)
        try:
            yield pool
        finally:
            pool.shutdown(wait=True)
