"""A run on the local cluster that predicts in this process while the cluster starts.

A ``LocalCluster`` takes seconds to be of use: each worker process imports
torch and loads the model. :class:`LocalRun` does not wait for it. This
process loads the model, predicts the first cutout at once, and goes on batch
by batch while the cluster starts in a background thread; the batches still
left when the workers have loaded the model go to them. A run of one batch or
less starts no cluster at all: a batch is what one worker takes, so none
could finish it sooner.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
import contextlib
from dataclasses import dataclass, replace
import os

from ..discovery import QueueItem
from ._cluster import check_workers, dashboard, local_cluster, n_workers, plural, run_batches
from ._worker import Job, Outcome, predict_batch

__all__ = ["LocalRun"]


@dataclass
class LocalRun:
    """Predict a list of inputs here, and on a local cluster once it has started.

    Attributes
    ----------
    job : Job
        The run's settings (its ``threads`` is ignored: see ``threads``).
    workers : int
        Worker processes of the cluster.
    threads : int or None
        Torch threads per worker; by default the cores are shared among them.
        This process keeps its own torch setting.
    batch_size : int
        Cutouts per batch.
    say : callable
        Called with one-line messages (the cluster and its dashboard, from the
        thread that starts it).
    started_workers : int
        The cluster's workers once they have loaded the model (0 until then,
        and if no cluster starts).
    in_process : int
        Inputs predicted in this process so far.

    Examples
    --------
    One cutout is less than a batch: it is predicted here, and no cluster starts.

    >>> from galseg import MaskStore
    >>> from galseg.discovery import find_cutouts
    >>> from galseg.model import SHIPPED_CHECKPOINT, load_assistant
    >>> model = load_assistant()  # doctest: +SKIP
    >>> store = MaskStore.open("masks.zarr", taxonomy=model.taxonomy)  # doctest: +SKIP
    >>> job = Job(str(store.path), str(SHIPPED_CHECKPOINT), model.identity)  # doctest: +SKIP
    >>> run = LocalRun(job, workers=2, threads=None, batch_size=16, say=print)  # doctest: +SKIP
    >>> items = find_cutouts(["sample_data/stream_legacy.fits"])
    >>> [o.status for o in run.outcomes(items)], run.in_process  # doctest: +SKIP
    (['predicted'], 1)
    """

    job: Job
    workers: int
    threads: int | None
    batch_size: int
    say: Callable[[str], object]
    started_workers: int = 0
    in_process: int = 0

    def outcomes(self, items: Sequence[QueueItem]) -> Iterator[Outcome]:
        """Each input's outcome, the first as soon as this process has predicted it.

        The job's store must exist. A cluster that cannot run the model stops
        the run (:class:`~galseg.errors.GalsegError`) once the batches that
        this process took are done; one started in vain (this process
        finished first) is waited for and closed.
        """
        queue = deque(items)
        if queue:  # the first cutout alone: its mask is in the store at once
            yield from self._here([queue.popleft()])
        if len(items) <= self.batch_size:
            yield from self._here(list(queue))
            return
        self.say(
            f"predicting in this process while a local cluster of "
            f"{plural(self.workers, 'worker')} starts"
        )
        with ThreadPoolExecutor(1, thread_name_prefix="galseg-local-cluster") as pool:
            starting = pool.submit(self._start)
            try:
                while queue and not starting.done():
                    yield from self._here(_take(queue, self.batch_size))
                if queue:
                    client = starting.result()[1]
                    left, size = list(queue), self.batch_size
                    batches = [left[i : i + size] for i in range(0, len(left), size)]
                    yield from run_batches(client, batches, self._cluster_job)
            finally:
                if starting.exception() is None:  # waits for a cluster started in vain
                    starting.result()[0].close()

    @property
    def _cluster_job(self) -> Job:
        shared = max(1, (os.cpu_count() or 1) // self.workers)
        return replace(self.job, threads=self.threads or shared)

    def _here(self, batch: list[QueueItem]) -> list[Outcome]:
        if not batch:
            return []
        outcomes = predict_batch(batch, replace(self.job, threads=None))
        self.in_process += len(batch)
        return outcomes

    def _start(self) -> tuple[contextlib.ExitStack, object]:
        """Start the cluster and check its workers; returns what closes it, and its client."""
        from distributed import Client

        stack = contextlib.ExitStack()
        try:
            # Closed by callbacks, not as context managers: the client is entered in this
            # thread and closed in the caller's, and a Client's context is per thread
            cluster = local_cluster(self.workers)
            stack.callback(cluster.close)
            client = Client(cluster, set_as_default=False)
            stack.callback(client.close)
            workers = n_workers(client)
            self.say(f"Dask: local cluster, {plural(workers, 'worker')}" + dashboard(client))
            check_workers(client, self._cluster_job, self.say)
            self.started_workers = workers
        except BaseException:
            stack.close()
            raise
        return stack, client


def _take(queue: deque[QueueItem], n: int) -> list[QueueItem]:
    """Up to ``n`` items from the front of ``queue``."""
    return [queue.popleft() for _ in range(min(n, len(queue)))]
