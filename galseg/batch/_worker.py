"""What a Dask worker does with one batch: read, segment, write into the store.

Each worker process loads the model once (:func:`worker_assistant`) and keeps
it for every batch it runs. A batch is idempotent: a cutout whose latest
prediction in the store came from the same checkpoint is skipped, so a batch
that Dask runs again after a worker died does not write twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
import time
from typing import TYPE_CHECKING, Literal

from ..cutout import Cutout
from ..discovery import QueueItem
from ..errors import GalsegError
from ..store import MaskStore

if TYPE_CHECKING:
    from ..model import Assistant, Segmentation

__all__ = [
    "PREDICTOR",
    "Job",
    "Outcome",
    "check_worker",
    "describe",
    "has_prediction",
    "is_done",
    "predict_batch",
    "worker_assistant",
]

PREDICTOR = "galseg-predict"
"""Annotator name of the masks that ``galseg predict`` writes (provenance ``predicted``)."""

_ASSISTANTS: dict[tuple[str, str], Assistant] = {}
"""The model of this process, by (checkpoint, device): loaded once per worker."""


@dataclass(frozen=True)
class Job:
    """What every batch of a run shares (sent to the workers with each batch).

    Attributes
    ----------
    store : str
        The output mask store (created by the client before the run).
    checkpoint : str
        The checkpoint file.
    identity : str
        Its SHA-256, as the client read it.
    device : str
        ``"auto"``, ``"cpu"`` or ``"cuda"``.
    embed : bool
        Also store each cutout's embedding.
    threads : int or None
        Torch threads per worker (None: torch's default).
    run : str
        This run's id, kept in each prediction's metadata: a cutout predicted
        earlier in the same run from another input is that input's duplicate.
    """

    store: str
    checkpoint: str
    identity: str
    device: str = "auto"
    embed: bool = False
    threads: int | None = None
    run: str = ""

    @property
    def model_name(self) -> str:
        """Name of the model in the store's embeddings: 16 hex digits of its identity."""
        return self.identity[:16]


@dataclass(frozen=True)
class Outcome:
    """What happened to one input.

    Attributes
    ----------
    input : str
        The input's file(s) (see :func:`describe`).
    status : {"predicted", "skipped", "duplicate", "failed"}
        Written now, done already (before this run) with the same checkpoint,
        the same pixels as another input of this run, or not possible.
    reason : str
        Why it failed (empty otherwise).
    cutout_id : str or None
        The cutout's id in the store, once known.
    read_seconds, model_seconds, write_seconds : float
        Time spent reading its files, on its share of the model's batch, and
        writing its mask (and embedding) into the store.
    """

    input: str
    status: Literal["predicted", "skipped", "duplicate", "failed"]
    reason: str = ""
    cutout_id: str | None = None
    read_seconds: float = 0.0
    model_seconds: float = 0.0
    write_seconds: float = 0.0


def describe(item: QueueItem) -> str:
    """An input as the report names it: its files, or its store and cutout id."""
    if item.store_path is not None:
        return f"{item.store_path} cutout {item.store_id}"
    return ", ".join(str(path) for path in item.sources)


def has_prediction(store: MaskStore, cutout_id: str, identity: str) -> bool:
    """Whether a cutout's latest prediction came from the checkpoint of SHA-256 ``identity``."""
    latest = store.latest(cutout_id, PREDICTOR)
    return (
        latest is not None
        and latest.provenance == "predicted"
        and latest.metadata.get("model", {}).get("sha256") == identity
    )


def is_done(store: MaskStore, cutout_id: str, job: Job) -> bool:
    """Whether the job has nothing left to write for a cutout of the store."""
    return has_prediction(store, cutout_id, job.identity) and _embedding_done(store, cutout_id, job)


def _embedding_done(store: MaskStore, cutout_id: str, job: Job) -> bool:
    """Whether the job wants no embedding of a cutout, or the store has it."""
    return not job.embed or store.has_embedding(cutout_id, job.model_name)


def worker_assistant(job: Job) -> Assistant:
    """The model of this process for ``job``, loaded on first use.

    Kept by checkpoint identity: a checkpoint rewritten in place between runs
    is loaded afresh (and an older model in this process is let go).

    Raises
    ------
    GalsegError
        If the checkpoint cannot be read here, is not the one the client read,
        or the device is not available on this worker.
    """
    from ..model import load_assistant

    key = (job.identity, job.device)
    if key not in _ASSISTANTS:
        if job.threads:
            import torch

            torch.set_num_threads(job.threads)
        assistant = load_assistant(job.checkpoint, job.device)
        if assistant.identity != job.identity:
            raise GalsegError(
                f"{job.checkpoint}: the checkpoint changed since the run started "
                f"(SHA-256 {assistant.identity[:12]}…, not {job.identity[:12]}…)"
            )
        _ASSISTANTS.clear()
        _ASSISTANTS[key] = assistant
    return _ASSISTANTS[key]


def check_worker(job: Job) -> str:
    """Load the model and open the store on a worker, before any batch is sent.

    Returns
    -------
    str
        The device the model runs on there.

    Raises
    ------
    GalsegError
        If the worker cannot read the checkpoint or the store, or lacks the
        device: problems every batch would hit, so the run stops at once.
    """
    assistant = worker_assistant(job)
    MaskStore.open(job.store, mode="r+")
    return str(assistant.device)


@dataclass
class _Pending:
    item: QueueItem
    cutout: Cutout
    read_seconds: float
    mask_done: bool


def predict_batch(items: Sequence[QueueItem], job: Job) -> list[Outcome]:
    """Segment a batch of cutouts and write the masks into the job's store.

    An input that cannot be read, or that the model or the store cannot take,
    is a failed :class:`Outcome` with the reason; the others are written.
    Masks are saved as annotator :data:`PREDICTOR` with provenance
    ``predicted`` and metadata ``model`` (checkpoint name and SHA-256),
    ``threshold``, ``confidence`` (each class's highest probability, see
    :class:`galseg.model.Segmentation`) and ``name`` (the input's name, e.g.
    from a catalogue's name column). A cutout whose latest prediction came
    from the same checkpoint is skipped; a second input with the same pixels
    in the run (here or in another batch) is a ``"duplicate"``; a cutout this
    same input wrote earlier in the run (a batch run again after its worker
    died) counts as ``"predicted"``: running a batch again never writes twice.

    Parameters
    ----------
    items : sequence of QueueItem
        The inputs.
    job : Job
        The run's settings.

    Returns
    -------
    list of Outcome
        One per item, in order.
    """
    assistant = worker_assistant(job)
    store = MaskStore.open(job.store, mode="r+")
    outcomes: dict[int, Outcome] = {}
    pending: dict[int, _Pending] = {}
    seen: set[str] = set()
    for i, item in enumerate(items):
        start = time.perf_counter()
        try:
            cutout = item.read()
        except Exception as exc:  # any reason the input cannot be read goes to the report
            outcomes[i] = Outcome(describe(item), "failed", _reason(exc, describe(item)))
            continue
        seconds = time.perf_counter() - start
        cutout_id = cutout.content_hash[:16]
        mask_done = cutout_id in store and has_prediction(store, cutout_id, job.identity)
        if cutout_id in seen:
            outcomes[i] = Outcome(describe(item), "duplicate", cutout_id=cutout_id)
        elif mask_done and _embedding_done(store, cutout_id, job):
            status = _earlier_status(store, cutout_id, item, job)
            outcomes[i] = Outcome(describe(item), status, cutout_id=cutout_id)
        else:
            pending[i] = _Pending(item, cutout, seconds, mask_done)
        seen.add(cutout_id)
    start = time.perf_counter()
    results = _segment(assistant, [p.cutout for p in pending.values()], job.embed)
    model_seconds = (time.perf_counter() - start) / max(1, len(pending))
    for (i, p), result in zip(pending.items(), results, strict=True):
        name = describe(p.item)
        if isinstance(result, BaseException):
            outcomes[i] = Outcome(
                name, "failed", _reason(result, name), read_seconds=p.read_seconds
            )
            continue
        start = time.perf_counter()
        try:
            cutout_id, wrote = _write(store, p, result, assistant, job)
        except Exception as exc:  # a cutout the store refuses fails alone
            outcomes[i] = Outcome(name, "failed", _reason(exc, name))
            continue
        outcomes[i] = Outcome(
            name,
            "predicted" if wrote else _earlier_status(store, cutout_id, p.item, job),
            cutout_id=cutout_id,
            read_seconds=p.read_seconds,
            model_seconds=model_seconds,
            write_seconds=time.perf_counter() - start,
        )
    return [outcomes[i] for i in range(len(items))]


def _segment(
    assistant: Assistant, cutouts: list[Cutout], embed: bool
) -> list[Segmentation | BaseException]:
    """Segmentations in one batch; one by one if the batch fails (a cutout the model
    cannot take, memory running out), so that a bad cutout fails alone: its entry
    is then the exception."""
    if not cutouts:
        return []
    try:
        return list(assistant.segment_many(cutouts, embed=embed))
    except Exception:
        results: list[Segmentation | BaseException] = []
        for cutout in cutouts:
            try:
                results.extend(assistant.segment_many([cutout], embed=embed))
            except Exception as exc:
                results.append(exc)
        return results


def _write(
    store: MaskStore, pending: _Pending, result: Segmentation, assistant: Assistant, job: Job
) -> tuple[str, bool]:
    """Write a cutout's prediction (and embedding); returns its id and whether this
    wrote it (not if another worker, with the same pixels in another batch, just did)."""
    model = {"checkpoint": assistant.checkpoint_path.name, "sha256": assistant.identity}
    cutout_id = store.add_cutout(pending.cutout, copy_pixels=False)
    if not pending.mask_done and has_prediction(store, cutout_id, job.identity):
        return cutout_id, False
    if not pending.mask_done:
        store.save_mask(
            cutout_id,
            result.labels,
            PREDICTOR,
            provenance="predicted",
            content_hash=pending.cutout.content_hash,
            metadata={
                "model": model,
                "threshold": assistant.threshold,
                "confidence": result.confidence,
                "uncertainty": result.uncertainty,
                "name": pending.item.name,
                "run": job.run,
                "input": describe(pending.item),
            },
        )
    if job.embed:
        store.save_embedding(cutout_id, result.embedding, job.model_name, metadata=model)
    return cutout_id, True


def _earlier_status(
    store: MaskStore, cutout_id: str, item: QueueItem, job: Job
) -> Literal["predicted", "skipped", "duplicate"]:
    """How to count an input whose cutout the store has a prediction of already:
    from an earlier run (skipped), from this input earlier in this run (predicted:
    its batch is being run again), or from another input of this run (duplicate)."""
    latest = store.latest(cutout_id, PREDICTOR)
    metadata = latest.metadata if latest is not None else {}
    if not job.run or metadata.get("run") != job.run:
        return "skipped"
    return "predicted" if metadata.get("input") == describe(item) else "duplicate"


def _reason(exc: BaseException, source: str) -> str:
    """One line for the report: a galseg error's message without the input's name,
    which the report gives beside it; any other exception with its type."""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    message = message.removeprefix(f"{source}: ")
    return message if isinstance(exc, GalsegError) else f"{type(exc).__name__}: {message}"
