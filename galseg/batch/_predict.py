"""The client side of a catalogue run: inputs in, batches out to Dask, a report back."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
import json
import os
from pathlib import Path
import time
from typing import Any
import uuid

from .. import __version__
from .._atomic import write_file
from .._progress import Progress, track
from ..checkpoint_info import SHIPPED_CHECKPOINT, CheckpointInfo, inspect_checkpoint
from ..errors import GalsegError
from ..store import MaskStore
from ..taxonomy import Taxonomy
from ._cluster import (
    check_workers,
    connect,
    dashboard,
    n_workers,
    plural,
    require_distributed,
    run_batches,
)
from ._head_start import LocalRun
from ._inputs import find_inputs
from ._worker import Job, Outcome, describe, is_done, worker_assistant

__all__ = ["PredictReport", "default_report_path", "predict"]

DEVICES = ("auto", "cpu", "cuda")
"""Where the workers run the model."""


_STATUSES = ("predicted", "skipped", "failed")
"""What becomes of each cutout; an input naming a cutout again is a ``"duplicate"``."""
_STAGES = ("read", "model", "write")


@dataclass
class PredictReport:
    """What a run did: counts, worker time, and every input that failed with its reason.

    Only the failures are kept one by one (a run over millions of cutouts
    keeps running totals of the rest).

    Attributes
    ----------
    store, checkpoint, sha256 : str
        The output store, and the checkpoint file and its SHA-256.
    scheduler : str
        ``"local"`` or the scheduler's address.
    workers : int
        Dask workers when the run started (0 if it started no cluster).
    batch_size : int
    seconds : float
        Wall time of the run.
    counts : dict of str to int
        Inputs ``"predicted"``, ``"skipped"`` (done before) and ``"failed"``,
        each cutout once; and ``"duplicate"``: inputs that named a cutout
        another input had named (the same files, or the same pixels).
    failures : list of Outcome
        The inputs that failed, with the reasons.
    started : str
        ISO 8601 UTC time.
    in_process : int
        Inputs predicted by the calling process (a run on the local cluster
        predicts there while the cluster starts).
    """

    store: str
    checkpoint: str
    sha256: str
    scheduler: str
    workers: int = 0
    batch_size: int = 0
    seconds: float = 0.0
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys((*_STATUSES, "duplicate"), 0)
    )
    failures: list[Outcome] = field(default_factory=list)
    started: str = ""
    in_process: int = 0
    _stage_seconds: dict[str, float] = field(
        default_factory=lambda: dict.fromkeys(_STAGES, 0.0), init=False, repr=False
    )

    def add(self, outcome: Outcome) -> None:
        """Count one input's outcome."""
        self.counts[outcome.status] += 1
        if outcome.status == "failed":
            self.failures.append(outcome)
        elif outcome.status == "predicted":
            self._stage_seconds["read"] += outcome.read_seconds
            self._stage_seconds["model"] += outcome.model_seconds
            self._stage_seconds["write"] += outcome.write_seconds

    @property
    def total(self) -> int:
        """Inputs counted, duplicates left out."""
        return sum(self.counts[status] for status in _STATUSES)

    def seconds_per_cutout(self) -> dict[str, float]:
        """Mean read, model and write seconds per predicted cutout (worker time)."""
        n = max(1, self.counts["predicted"])
        return {stage: seconds / n for stage, seconds in self._stage_seconds.items()}

    def summary(self) -> str:
        """One line for the terminal.

        Examples
        --------
        >>> report = PredictReport("m.zarr", "c.safetensors", "ab", "local", 2, 8, 3.0)
        >>> report.add(Outcome("a.fits", "predicted"))
        >>> report.add(Outcome("b.fits", "failed", "not a FITS file"))
        >>> report.add(Outcome("c.fits", "duplicate"))
        >>> report.summary()
        '1 predicted, 0 skipped (done before), 1 failed of 2 inputs in 3.0 s; 1 duplicate input'
        """
        duplicates = self.counts["duplicate"]
        return (
            f"{self.counts['predicted']} predicted, {self.counts['skipped']} skipped "
            f"(done before), {self.counts['failed']} failed of {self.total} inputs "
            f"in {self.seconds:.1f} s"
        ) + (f"; {plural(duplicates, 'duplicate input')}" if duplicates else "")

    def to_dict(self) -> dict[str, Any]:
        """The report as written to its JSON file."""
        return {
            "galseg_version": __version__,
            "started": self.started,
            "store": self.store,
            "checkpoint": self.checkpoint,
            "sha256": self.sha256,
            "scheduler": self.scheduler,
            "workers": self.workers,
            "in_process": self.in_process,
            "batch_size": self.batch_size,
            "seconds": round(self.seconds, 3),
            "counts": dict(self.counts),
            "seconds_per_cutout": self.seconds_per_cutout(),
            "failures": [{"input": o.input, "reason": o.reason} for o in self.failures],
        }

    def write(self, path: str | os.PathLike[str]) -> Path:
        """Write the report as JSON, atomically; returns the path."""
        path = Path(path)
        write_file(path, json.dumps(self.to_dict(), indent=1).encode())
        return path


def default_report_path(out: str | os.PathLike[str]) -> Path:
    """Where a run writes its report by default: beside the store.

    Examples
    --------
    >>> default_report_path("runs/masks.zarr").as_posix()
    'runs/masks.predict-report.json'
    """
    out = Path(out)
    return out.with_name(f"{out.stem}.predict-report.json")


def predict(
    inputs: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    *,
    checkpoint: str | os.PathLike[str] | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    batch_size: int = 16,
    device: str = "auto",
    threads: int | None = None,
    embeddings: bool = False,
    report: str | os.PathLike[str] | None = None,
    client: Any = None,
    progress: Progress = False,
    say: Callable[[str], object] = lambda message: None,
) -> PredictReport:
    """Segment every cutout of a catalogue into a mask store, on a Dask cluster.

    The inputs are split into batches of ``batch_size`` cutouts, each one a
    Dask task (:func:`galseg.batch.predict_batch`): the worker reads the
    files, runs automatic mode (:meth:`galseg.model.Assistant.segment_many`,
    batched, on the worker's GPU when it has one) and writes each mask as a
    new revision (annotator :data:`~galseg.batch.PREDICTOR`, provenance
    ``predicted``, the checkpoint and per-class confidence in its metadata).
    The store's atomic writes make concurrent workers safe. Each worker loads
    the model once.

    On the local cluster (no ``scheduler`` or ``client``) this process does
    not wait for the workers to start: it loads the model, predicts the first
    cutout at once and goes on batch by batch until they are ready
    (:class:`galseg.batch._head_start.LocalRun`); a run of one batch or less
    starts no cluster.

    The run is resumable: cutouts whose latest prediction came from the same
    checkpoint are skipped (by their files before any task is sent, by their
    pixels on the workers); when none is left, neither torch nor Dask is
    imported, and no cluster is started. Each
    cutout counts once: inputs naming it again (the same files, or the same
    pixels) are counted as ``"duplicate"``. The store is created only once the
    inputs, the checkpoint and the scheduler are known to be good. It is fault
    tolerant: a batch lost with its worker is run again by the scheduler, and
    an input that cannot be read or predicted is listed in the report with the
    reason instead of stopping the run.

    Parameters
    ----------
    inputs : sequence of str or path-like
        Files, folders, globs, mask stores and catalogue tables
        (:func:`galseg.batch.find_inputs`).
    out : path-like
        The mask store to write (created if missing, with the checkpoint's
        taxonomy).
    checkpoint : path-like, optional
        The model; by default the one shipped with galseg.
    scheduler : str, optional
        Address of a running ``distributed`` scheduler (``tcp://host:8786``,
        e.g. from ``dask-jobqueue``); by default a ``LocalCluster`` on this
        machine, closed at the end.
    workers : int, optional
        Workers of the local cluster (default: one per core, at most 4);
        not with ``scheduler`` or ``client``.
    batch_size : int
        Cutouts per task.
    device : str
        ``"auto"`` (each worker's GPU when it has one), ``"cpu"`` or ``"cuda"``.
    threads : int, optional
        Torch threads in each worker. By default the local cluster shares
        this machine's cores among its workers; on other clusters torch keeps
        Dask's setting (one thread: run one worker per core, or set this).
    embeddings : bool
        Also store each cutout's embedding (the encoder's pooled features),
        under the model name ``sha256[:16]`` (:meth:`MaskStore.embeddings`).
    report : path-like, optional
        The JSON report to write; by default :func:`default_report_path`.
    client : distributed.Client, optional
        Use this client (and its cluster) instead of making one.
    progress : bool or callable
        See :mod:`galseg._progress` (counted in cutouts).
    say : callable, optional
        Called with one-line messages (the cluster and its dashboard).

    Returns
    -------
    PredictReport
        Counts, worker time per cutout, and the failed inputs with their
        reasons (also written to ``report``, even when the run is
        interrupted).

    Raises
    ------
    GalsegError
        On bad settings, unusable inputs (a missing path, a glob matching
        nothing, a catalogue without a path column, no FITS cutout), an unreadable
        checkpoint, a store with other classes, an unreachable scheduler, or
        workers that cannot load the model or open the store. Problems with
        single cutouts never raise: they are in the report.
    """
    if batch_size < 1:
        raise GalsegError(f"batch size must be at least 1, got {batch_size}")
    if workers is not None and workers < 1:
        raise GalsegError(f"workers must be at least 1, got {workers}")
    if workers is not None and (scheduler is not None or client is not None):
        raise GalsegError("workers is for the local cluster: give it or a scheduler, not both")
    if threads is not None and threads < 1:
        raise GalsegError(f"threads must be at least 1, got {threads}")
    if device not in DEVICES:
        raise GalsegError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
    started, start = datetime.now(UTC).isoformat(timespec="seconds"), time.perf_counter()
    found = find_inputs(inputs)
    if not found.items and not found.problems:
        raise GalsegError(f"no FITS cutouts found in {', '.join(map(str, inputs))}")
    model = _inspect_model(checkpoint)
    out = Path(out).resolve()
    store = _existing_store(out, model)
    job = Job(str(out), str(model.path), model.identity, device, embeddings, run=uuid.uuid4().hex)
    result = PredictReport(str(out), str(model.path), model.identity, scheduler or "local")
    result.batch_size, result.started = batch_size, started
    result.counts["duplicate"] = found.duplicates
    for problem in found.problems:
        result.add(Outcome(problem.input, "failed", problem.reason))
    done = _done_sources(store, job, progress) if store is not None else set()
    todo = []
    for item in found.items:
        sources = tuple(path.resolve() for path in item.sources)
        if sources and sources in done:
            result.add(Outcome(describe(item), "skipped"))
        else:  # absolute paths: workers may run in other folders, or on other machines
            todo.append(replace(item, sources=sources))
    report_path = Path(report) if report is not None else default_report_path(out)
    if not todo:  # nothing to do: no model loaded, no cluster started
        return _finish(result, start, report_path, say)
    require_distributed()
    if client is None and scheduler is None:
        _check_model(job, load_here=True)  # it predicts here while the cluster starts
        local = LocalRun(job, workers or min(os.cpu_count() or 1, 4), threads, batch_size, say)
        try:  # an interrupted run still reports what it did
            if store is None:  # made only now that the inputs and the model are known good
                store = MaskStore.open(out, mode="w-", taxonomy=model.taxonomy)
            for outcome in track(
                local.outcomes(todo), len(todo), "predict", progress, unit="cutout"
            ):
                result.add(outcome)
        finally:
            result.workers, result.in_process = local.started_workers, local.in_process
            _finish(result, start, report_path, say)
        return result
    _check_model(job, load_here=False)
    with connect(client, scheduler) as (dask_client, where):
        try:  # an interrupted run still reports what it did
            if store is None:  # made only now that the inputs and the scheduler are known good
                store = MaskStore.open(out, mode="w-", taxonomy=model.taxonomy)
            job = replace(job, threads=threads)
            result.workers = n_workers(dask_client)
            say(f"Dask: {where}, {plural(result.workers, 'worker')}" + dashboard(dask_client))
            check_workers(dask_client, job, say)
            batches = [todo[i : i + batch_size] for i in range(0, len(todo), batch_size)]
            for outcome in track(
                run_batches(dask_client, batches, job), len(todo), "predict", progress
            ):
                result.add(outcome)
        finally:
            _finish(result, start, report_path, say)
    return result


def _finish(
    result: PredictReport, start: float, path: Path, say: Callable[[str], object]
) -> PredictReport:
    """Time the run and write its report."""
    result.seconds = time.perf_counter() - start
    result.write(path)
    say(f"report: {path}")
    return result


def _inspect_model(checkpoint: str | os.PathLike[str] | None) -> CheckpointInfo:
    """The checkpoint to run (its path made absolute): its identity and classes, read
    without torch (a re-run with nothing left to do never imports it)."""
    return inspect_checkpoint(Path(checkpoint or SHIPPED_CHECKPOINT).resolve())


def _check_model(job: Job, *, load_here: bool) -> None:
    """Read the whole checkpoint before anything is created: load the model into this
    process when it predicts here too, else only read the weights.

    Raises
    ------
    GalsegError
        If the model's dependencies are missing, or the weights cannot be read.
    """
    try:
        from ..model import read_checkpoint
    except ImportError as exc:
        raise GalsegError(
            f"catalogue runs need the model's dependencies ({exc}): pip install 'galseg[batch]'"
        ) from None
    if load_here:
        worker_assistant(job)
    else:
        read_checkpoint(job.checkpoint)


def _existing_store(out: Path, model: CheckpointInfo) -> MaskStore | None:
    """The output store if it exists (it must have the checkpoint's classes), else None."""
    if not out.exists():
        return None
    store = MaskStore.open(out, mode="r+")
    if store.taxonomy != model.taxonomy:
        raise GalsegError(
            f"{store.path}: the store's classes ({_names(store.taxonomy)}) are not those of "
            f"{model.path.name} ({_names(model.taxonomy)}); write into a new store"
        )
    return store


def _done_sources(store: MaskStore, job: Job, progress: Progress) -> set[tuple[Path, ...]]:
    """The source files of the store's cutouts that the job has nothing left to do for.

    Matched by path: files rewritten in place with other pixels are not seen
    as new (predict them into a new store).
    """
    ids = store.ids()
    checked = track(ids, len(ids), "check store", progress) if ids else ids
    return {
        tuple(path.resolve() for path in store.source_paths(cutout_id))
        for cutout_id in checked
        if is_done(store, cutout_id, job)
    } - {()}


def _names(taxonomy: Taxonomy) -> str:
    return ", ".join(c.name for c in taxonomy.feature_classes)
