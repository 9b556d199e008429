"""The Dask side of a catalogue run: the cluster, its workers' checks, and batches in flight."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
import contextlib
import importlib.util
import logging
import os
from typing import Any

from ..discovery import QueueItem
from ..errors import GalsegError
from ._worker import Job, Outcome, check_worker, describe, predict_batch

__all__ = [
    "IN_FLIGHT_PER_WORKER",
    "RETRIES",
    "check_workers",
    "connect",
    "dashboard",
    "local_cluster",
    "n_workers",
    "plural",
    "require_distributed",
    "run_batches",
]

RETRIES = 2
"""Times Dask runs a batch again after it raised (a batch lost with its worker
is rerun by the scheduler in any case)."""

IN_FLIGHT_PER_WORKER = 4
"""Batches submitted per worker at a time: enough to keep every worker busy,
few enough that the scheduler and this client hold little of a long run."""


def local_cluster(workers: int, dashboard: bool = True) -> Any:
    """A ``distributed.LocalCluster`` set up for the model: one process per worker.

    Each worker runs one task at a time (torch has threads of its own).
    Dask's default ``MALLOC_TRIM_THRESHOLD_`` for worker processes is left
    out: it makes every large tensor a fresh ``mmap``, which halved the
    model's speed here (a 256x256 cutout took 324 ms in a worker with it,
    152 ms without, as in a plain process).

    Parameters
    ----------
    workers : int
        Worker processes.
    dashboard : bool
        Serve the Dask dashboard (on a free port).

    Returns
    -------
    distributed.LocalCluster
        Started; close it (or use it as a context manager).
    """
    import dask
    from distributed import LocalCluster

    with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
        return LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0" if dashboard else None,
            silence_logs=logging.ERROR,
        )


@contextlib.contextmanager
def connect(client: Any, scheduler: str) -> Iterator[tuple[Any, str]]:
    """``(client, description)`` for a given client, or one connected to ``scheduler``
    (closed at the end).

    Raises
    ------
    GalsegError
        If Dask distributed is missing or the scheduler cannot be reached.
    """
    if client is not None:
        yield client, f"scheduler {client.scheduler.address}"
        return
    require_distributed()
    from distributed import Client

    try:
        remote = Client(scheduler)  # waits distributed.comm.timeouts.connect (30 s)
    except (OSError, TimeoutError, ValueError) as exc:
        raise GalsegError(f"cannot reach the Dask scheduler at {scheduler} ({exc})") from None
    with remote:
        yield remote, f"scheduler {scheduler}"


def require_distributed() -> None:
    """A one-line error saying what to install if Dask distributed is missing (checked
    without importing it)."""
    if importlib.util.find_spec("distributed") is None:
        raise GalsegError('catalogue runs need Dask distributed: pip install "galseg[batch]"')


def check_workers(client: Any, job: Job, say: Callable[[str], object]) -> None:
    """Stop before any batch if a worker cannot load the model or open the store;
    warn of workers that run the model slowly."""
    try:
        client.submit(check_worker, job, pure=False).result()
    except GalsegError as exc:
        raise GalsegError(f"a Dask worker cannot run the model: {exc}") from None
    except Exception as exc:
        raise GalsegError(
            f"a Dask worker cannot run the model ({type(exc).__name__}: {exc})"
        ) from None
    slow = sorted(address for address, value in client.run(_malloc_trim).items() if value)
    if slow:
        say(
            f"warning: {plural(len(slow), 'Dask worker')} ({', '.join(slow)}) set "
            "MALLOC_TRIM_THRESHOLD_, which makes the model about 2-3x slower: start them "
            "with DASK_DISTRIBUTED__NANNY__PRE_SPAWN_ENVIRON__MALLOC_TRIM_THRESHOLD_=None "
            "(as galseg's local cluster does), or with --no-nanny"
        )


def _malloc_trim() -> str | None:
    """This process's ``MALLOC_TRIM_THRESHOLD_`` (run on each worker)."""
    return os.environ.get("MALLOC_TRIM_THRESHOLD_")


def run_batches(client: Any, batches: Sequence[Sequence[QueueItem]], job: Job) -> Iterator[Outcome]:
    """Outcomes of every batch as the batches finish, with a few batches per worker
    in flight (the scheduler never holds a whole catalogue's tasks)."""
    from distributed import as_completed

    queue = iter(batches)
    futures: dict[Any, Sequence[QueueItem]] = {}

    def submit() -> Any:
        batch = next(queue, None)
        if batch is None:
            return None
        future = client.submit(predict_batch, batch, job, pure=False, retries=RETRIES)
        futures[future] = batch
        return future

    def window() -> int:  # asks the scheduler: a cluster may grow or shrink during a run
        return IN_FLIGHT_PER_WORKER * max(1, n_workers(client))

    size = window()
    first = [f for f in (submit() for _ in range(size)) if f is not None]
    running = as_completed(first, loop=client.loop)  # the client need not be Dask's default
    for finished, future in enumerate(running, start=1):
        batch = futures.pop(future)
        try:
            yield from future.result()
        except Exception as exc:  # the batch failed on every try: its inputs are reported
            reason = f"batch failed: {type(exc).__name__}: {exc}".splitlines()[0]
            yield from (Outcome(describe(item), "failed", reason) for item in batch)
        future.release()
        if finished % 32 == 0:
            size = window()
        while len(futures) < size and (following := submit()) is not None:
            running.add(following)


def n_workers(client: Any) -> int:
    """Workers the scheduler has now."""
    return len(client.nthreads())


def dashboard(client: Any) -> str:
    """``", dashboard at URL"`` when the scheduler serves one (it needs bokeh)."""
    try:
        link = client.dashboard_link
    except Exception:  # no dashboard configured
        return ""
    return f", dashboard at {link}" if link else ""


def plural(n: int, word: str) -> str:
    """``n word`` or ``n words``.

    Examples
    --------
    >>> plural(1, "worker"), plural(2, "worker")
    ('1 worker', '2 workers')
    """
    return f"{n} {word}" + ("" if n == 1 else "s")
