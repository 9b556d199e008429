"""One annotation session: the queue, the mask being painted, its saves, and assist mode.

:class:`AnnotationSession` is what an expert works with, whatever draws it:
it steps through the queue, owns the mask of the open cutout and its undo
history, saves every change within ``max_save_delay`` seconds (and at once on
navigation and close, never dropping a mask whose save failed), turns strokes
into completion requests and previews, merges accepted previews as
``assisted`` revisions, keeps flags, and runs retraining. It runs the model,
the saves and retraining in threads of its own and reports through plain
:class:`~galseg.annotate.Event` s, on the thread that owns it. A napari widget
is one view over it; a script or a test is another.

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> import numpy as np
>>> from galseg import MaskStore
>>> from galseg.io import write_cutout
>>> from galseg.simulate import simulate_cutout
>>> folder = Path(tempfile.mkdtemp())
>>> _ = write_cutout(simulate_cutout(1, size=32)[0], folder / "gal1.fits")
>>> session = AnnotationSession.from_paths([folder], folder / "masks.zarr", "ada")
>>> session.open()
True
>>> stroke = np.zeros((32, 32), bool); stroke[10, 5:20] = True
>>> session.paint(stroke, label=1)
>>> session.stroke_finished() is None  # no model: strokes stay strokes
True
>>> session.close()
True
>>> int((session.store.load_mask(session.current_id, "ada") == 1).sum())
15
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
import importlib
import os
from pathlib import Path
import tempfile
import threading
import time
from typing import Any

import numpy as np

from ..assist import AssistSession, ModelRunner, Request
from ..autosave import Autosaver
from ..checkpoint_info import SHIPPED_CHECKPOINT
from ..discovery import find_cutouts
from ..errors import GalsegError
from ..rank import QueueScores
from ..store import MaskStore, check_name
from ._calibration import Calibration, Feedback
from ._events import Event, Inbox
from ._history import Edit, History
from ._models import limit_model_threads
from ._process import ModelProcess, finetune_in_process
from ._queue import AnnotationQueue, OpenedCutout

__all__ = ["AnnotationSession", "RetrainRun", "Revision", "retrain_output"]

Index = tuple[np.ndarray, ...]


@dataclass(frozen=True, eq=False)
class Revision:
    """A mask handed to the autosaver, with how it came to be."""

    mask: np.ndarray
    provenance: str = "painted"
    metadata: dict | None = None


@dataclass
class RetrainRun:
    """A retraining run: where it writes, and how it ended.

    Attributes
    ----------
    checkpoint : Path
        The checkpoint it writes.
    start : Path
        The checkpoint it starts from.
    report : object or None
        :class:`galseg.model.FinetuneReport` once it succeeded (its fields, and
        its ``improved`` and ``checkpoint``, as a plain namespace when the
        model runs in its own process).
    error : str or None
        Why it failed, in one line.
    rerank : bool
        Whether the queue is scored again with the new model once it is in
        use (only if it scored better than the start).
    """

    checkpoint: Path
    start: Path
    rerank: bool = False
    report: Any = None
    error: str | None = None
    done: threading.Event = field(default_factory=threading.Event, repr=False)


def retrain_output(store: str | os.PathLike, when: float | None = None) -> Path:
    """Where a retraining run on ``store`` writes its checkpoint by default.

    A ``galseg-models`` folder beside the store, one file per run, named after
    the store and the local time.

    Examples
    --------
    >>> retrain_output("/data/masks.zarr", when=0).parent.as_posix()
    '/data/galseg-models'
    >>> retrain_output("/data/masks.zarr", when=0).name.startswith("masks-finetuned-19")
    True
    """
    store = Path(store)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(when))
    return store.parent / "galseg-models" / f"{store.stem}-finetuned-{stamp}.safetensors"


class _Cancelled(Exception):
    """Raised inside a retraining run's progress callback when the session closes."""


class AnnotationSession:
    """An expert's annotation session over a queue of cutouts.

    Parameters
    ----------
    queue : AnnotationQueue
        The cutouts, the working store and the annotator.
    models : mapping of str to callable, optional
        Assistants by name, each ``load() -> model`` (see
        :func:`galseg.annotate.assistants`). The first is loaded at once, in
        the model's thread; none leaves assist mode off.
    post : callable, optional
        ``post(function)`` runs ``function`` on the thread that owns the
        session (a GUI's event loop). By default results wait in an
        :class:`Inbox` until :meth:`wait` or :meth:`run_pending`.
    save_delay, max_save_delay : float
        Seconds of quiet before a change is saved, and the longest a change
        waits for its save.
    model_threads : int, optional
        torch's threads (default: all cores but one, so a UI keeps one).
    model_process : bool
        Load and run each model in a process of its own
        (:class:`~galseg.annotate.ModelProcess`), so that this process never
        imports torch and its user interface never waits on the model's
        Python; ``models`` must then be picklable (module-level functions or
        partials of them, as :func:`~galseg.annotate.assistants` gives).
    import_model : callable, optional
        Returns :mod:`galseg.model`, for checkpoints switched to and
        retraining (a GUI may need to import it its own way).
    calibration : Calibration, optional
        Calibration cutouts mixed into the queue: leaving one that the
        annotator painted measures them against its truth
        (``calibration_feedback``).
    retrain_every : int, optional
        Offer to retrain and re-rank (``retrain_offered``) each time the
        annotator has saved masks of this many more cutouts that had none of
        theirs; never by default.

    Attributes
    ----------
    events
        Callbacks a view connects to, each an :class:`Event`:
        ``opening()`` (a cutout is being read in the background), ``opened()``,
        ``mask_changed(bbox)`` (the session changed pixels: undo, redo,
        accept; ``bbox`` a tuple of slices), ``preview_changed()``,
        ``label_changed(label)``, ``saved(revision)``, ``error(message)``,
        ``model_changed()``, ``busy_changed(busy)``, ``retrain_progress(done,
        total)``, ``retrained(run)``, ``retrain_offered(n_new)``,
        ``scoring_progress(done, total)``, ``scored(scores)`` and
        ``calibration_feedback(feedback, new_hints)``.
    threshold : float
        Probability above which a pixel is in the preview.
    overwrite : bool
        Whether an accepted preview also paints over other classes.
    latencies : list of float
        Seconds from each stroke's end to its preview, for the last ones.
    new_masks : set of str
        Cutouts that had no mask of the annotator's when opened, and have one now.
    feedback : Feedback or None
        The annotator's skill on the calibration cutouts, as last measured.
    unreadable : list of str
        Why each cutout tried before the open one could not be read (by the
        last :meth:`open_first_readable`).
    """

    EVENTS = (
        "opening",
        "opened",
        "mask_changed",
        "preview_changed",
        "label_changed",
        "saved",
        "error",
        "model_changed",
        "busy_changed",
        "retrain_progress",
        "retrained",
        "retrain_offered",
        "scoring_progress",
        "scored",
        "calibration_feedback",
    )

    def __init__(
        self,
        queue: AnnotationQueue,
        *,
        models: Mapping[str, Callable[[], Any]] | None = None,
        post: Callable[[Callable[[], None]], None] | None = None,
        save_delay: float = 0.5,
        max_save_delay: float = 1.5,
        model_threads: int | None = None,
        model_process: bool = False,
        import_model: Callable[[], Any] | None = None,
        calibration: Calibration | None = None,
        retrain_every: int | None = None,
    ) -> None:
        self.queue = queue
        self.calibration = calibration
        self.feedback: Feedback | None = None
        self._hinted: set[str] = set()  # classes hinted at this session
        self.retrain_every = retrain_every
        self.new_masks: set[str] = set()
        self._fresh: set[str] = set()  # opened without a mask of the annotator's
        self._offered_at = 0  # len(new_masks) at the last offer
        self._rerank = False  # score the queue once the retrained model is loaded
        self._import_model = import_model or (lambda: importlib.import_module("galseg.model"))
        self.models = dict(models or {})
        self.events = type("SessionEvents", (), {})()
        for name in self.EVENTS:
            setattr(self.events, name, Event(name))
        self._inbox = Inbox()
        self._post = post or self._inbox.post
        self._save_delay, self._max_save_delay = save_delay, max_save_delay
        self._model_threads = model_threads
        self._model_process = model_process
        self._processes: list[ModelProcess] = []  # model processes started, the last in use
        self.opened: OpenedCutout | None = None
        self.open_error: str | None = None
        self.unreadable: list[str] = []
        self.mask: np.ndarray | None = None
        self.history = History()
        self.label = 1
        self.threshold = 0.5
        self.overwrite = False
        self.assist_enabled = bool(self.models)
        self.assist: AssistSession | None = None
        self.latencies: list[float] = []
        self.model_name = "no model"
        self.model_state = "off" if not self.models else "loading"
        self.model: Any = None
        self.retrain_run: RetrainRun | None = None
        self.scores: QueueScores | None = None
        self._scoring: int | None = None  # the model generation being scored
        self._generation = 0  # counts the models loaded: scores belong to one
        self._wish: Callable[[], bool] | None = None  # to open once the scores are in
        self.last_saved: float | None = None
        self.last_error: str | None = None
        self._stroke: list[Edit] = []
        self._autosaver: Autosaver | None = None
        self._runner: ModelRunner | None = None  # set in the model's thread
        self._latest: Request | None = None  # the one request whose answer is wanted
        self._released: dict[int, float] = {}
        self._jobs = 0  # model jobs submitted and not yet answered
        self._retrain_thread: threading.Thread | None = None
        self._closed = False
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="galseg-model")
        self._reader = ThreadPoolExecutor(1, thread_name_prefix="galseg-read")
        self._reading: Future | None = None  # the background read whose cutout is wanted
        if self.models:
            self.load_model(next(iter(self.models.values())), next(iter(self.models)))

    @classmethod
    def from_paths(
        cls,
        paths: Sequence[str | os.PathLike],
        store: str | os.PathLike | MaskStore,
        annotator: str,
        **kwargs: Any,
    ) -> AnnotationSession:
        """A session on the cutouts in ``paths`` (see :func:`galseg.discovery.find_cutouts`).

        Raises
        ------
        GalsegError
            If no cutout is found, or the store or the name is unusable.
        """
        items = find_cutouts(paths)
        if not items:
            raise GalsegError(f"no FITS cutouts found in {', '.join(map(str, paths))}")
        mask_store = store if isinstance(store, MaskStore) else MaskStore.open(store)
        return cls(AnnotationQueue(items, mask_store, annotator), **kwargs)

    def __repr__(self) -> str:
        return f"<AnnotationSession {self.queue!r}, model {self.model_state}>"

    # ----------------------------------------------------------------- state
    @property
    def store(self) -> MaskStore:
        """The working mask store."""
        return self.queue.store

    @property
    def annotator(self) -> str:
        """Who is painting; every revision is saved under this name."""
        return self.queue.annotator

    @property
    def current_id(self) -> str | None:
        """Store id of the open cutout (None if it could not be opened)."""
        return self.opened.cutout_id if self.opened else None

    @property
    def busy(self) -> bool:
        """Whether the model is loading, encoding or completing."""
        return self._jobs > 0

    @property
    def assisting(self) -> bool:
        """Whether strokes are completed: a model is loaded or loading, and assist is on."""
        return self.assist_enabled and self.model_state in ("loading", "ready")

    @property
    def opening(self) -> bool:
        """Whether a cutout is being read in the background (nothing can be painted)."""
        return self._reading is not None

    @property
    def pending(self) -> bool:
        """Whether a unsaved change waits for its save."""
        return self._autosaver is not None and self._autosaver.pending

    # ------------------------------------------------------------ navigation
    def open(self, index: int | None = None, *, background: bool = False) -> bool:
        """Save the open cutout, then open item ``index`` (default: the current one).

        With ``background``, the cutout is read (and added to the store) in a
        thread of the session's, and the caller's thread goes on: ``opening()``
        is emitted, :attr:`opening` is True and nothing can be painted until
        ``opened()``. A later open supersedes it.

        Returns
        -------
        bool
            False if the open mask could not be saved (nothing changes), or
            the new cutout could not be read (:attr:`open_error` says why,
            and :attr:`opened` is None). In the background: whether the
            reading started.
        """
        if not self.flush():
            return False
        left = self.current_id
        index = self.queue.index if index is None else self.queue.go(index)
        self._read([index], background, listing=False)
        if (
            self.calibration is not None
            and left in self.calibration.ids
            and left != self.current_id
        ):
            self._measure_calibration()  # it is saved: how did the annotator do?
        return background or self.opened is not None

    def _measure_calibration(self) -> None:
        """The annotator left a calibration cutout: measure them against the truth."""
        try:
            self.feedback = self.calibration.feedback(self.store, self.annotator)
        except GalsegError as exc:
            self._report(f"could not measure the calibration cutouts: {exc}")
            return
        new = [hint for hint in self.feedback.hints if hint.name not in self._hinted]
        self._hinted.update(hint.name for hint in new)
        self.events.calibration_feedback.emit(self.feedback, new)

    def open_first_readable(self, *, background: bool = False) -> list[str]:
        """Open the current cutout, or the first one after it that can be read.

        With ``background``, as :meth:`open`: once ``opened()`` is emitted,
        :attr:`opened` is None if none could be read (:attr:`open_error`
        lists why) and :attr:`unreadable` says why the ones skipped could not.

        Returns
        -------
        list of str
            Why each cutout tried before it could not be read (empty in the
            background).

        Raises
        ------
        GalsegError
            If no cutout of the queue can be read; the message lists why.
        """
        if not self.flush():
            raise GalsegError(f"could not save the mask: {self.last_error}")
        start = self.queue.index
        self._read([*range(start, len(self.queue)), *range(start)], background, listing=True)
        if background:
            return []
        if self.opened is None:
            raise GalsegError(self.open_error)
        return self.unreadable

    def _read(self, indices: list[int], background: bool, *, listing: bool) -> None:
        """Close the open cutout, then open the first of ``indices`` that can be read.

        If none can, :attr:`open_error` is the reason, or with ``listing``
        every reason under "no cutout could be read".
        """
        if self._closed:
            return
        self._close_cutout()
        self.opened, self.mask, self.assist = None, None, None
        if self._reading is not None:
            self._reading.cancel()  # superseded: its answer is dropped if it runs
        if not background:
            self._reading = None
            self._opened_first(_read_first(self.queue, indices), listing)
            return
        future = self._reader.submit(_read_first, self.queue, indices)
        self._reading = future

        def answer() -> None:
            if future is self._reading:
                self._reading = None
                self._opened_first(future.result(), listing)

        future.add_done_callback(
            lambda future: None if future.cancelled() else self._post_unless_closed(answer)
        )
        self.events.opening.emit()

    def _opened_first(self, read: tuple[int, Any, list[str]], listing: bool) -> None:
        """Make the cutout read current (or say why none could be), on the owner's thread."""
        index, opened, reasons = read
        self.queue.go(index)
        if opened is None:
            self.opened, self.mask, self.assist = None, None, None
            self.open_error = (
                "no cutout could be read:\n  " + "\n  ".join(reasons) if listing else reasons[0]
            )
            self.unreadable = reasons
            self._report(self.open_error)
        else:
            self.open_error, self.unreadable = None, reasons
            self._start_cutout(opened)
        self.events.opened.emit()

    def next(self, *, background: bool = False) -> bool:
        """Save, then open the next cutout (see :meth:`open`)."""
        return self.open(self.queue.index + 1, background=background)

    def previous(self, *, background: bool = False) -> bool:
        """Save, then open the previous cutout (see :meth:`open`)."""
        return self.open(self.queue.index - 1, background=background)

    def next_unannotated(self, *, background: bool = False) -> bool:
        """Save, then open the next cutout this annotator has not done (False if none)."""
        if not self.flush():
            return False
        index = self.queue.next_unannotated()
        return index is not None and self.open(index, background=background)

    def next_most_informative(self) -> bool:
        """Save, then open the cutout not done yet that automatic mode is least sure of.

        Its uncertainty is :func:`galseg.model.uncertainty`, as ``galseg rank``
        orders a catalogue. The queue is scored first if it has not been with
        the model in use (in the model's thread: ``scoring_progress`` reports
        it), and the cutout opens once it is.

        Returns
        -------
        bool
            Whether a cutout opened now (False while the queue is being
            scored, or if every cutout is done, or there is no model that
            segments: :attr:`can_rank`).
        """
        return self._when_scored(self._open_most_informative)

    def more_like_this(self) -> bool:
        """Save, then open the cutout not done yet most like the open one.

        Nearest in the encoder's embedding space (cosine similarity, as
        ``galseg rank --by similar:CUTOUT``); scores the queue first if needed,
        as :meth:`next_most_informative` does.

        Returns
        -------
        bool
            Whether a cutout opened now.
        """
        index = self.queue.index
        return self._when_scored(lambda: self._open_most_like(index))

    @property
    def can_rank(self) -> bool:
        """Whether the model in use can score the queue (galseg's, not Segment Anything)."""
        return self.model_state == "ready" and hasattr(self.model, "segment_many")

    def score_queue(self) -> bool:
        """Score every cutout of the queue with the model in use, in the model's thread.

        One cutout per job, so that completions of strokes run in between;
        ``scoring_progress(done, total)`` reports each, ``scored(scores)`` the
        end, and :attr:`scores` holds them. A new model starts afresh.

        Returns
        -------
        bool
            False if there is no model that segments, or scoring is under way.
        """
        if not self.can_rank or self._scoring is not None:
            return False
        if self.scores is None:
            self.scores = QueueScores(len(self.queue))
        self._scoring = self._generation
        self._score_next(self._generation)
        return True

    def _when_scored(self, open_next: Callable[[], bool]) -> bool:
        if not self.can_rank or not self.flush():
            return False
        if self.scores is not None and self.scores.complete:
            return open_next()
        self._wish = open_next
        self.score_queue()
        return False

    def _done_indices(self) -> set[int]:
        return {i for i in range(len(self.queue)) if self.queue.is_done(i)}

    def _open_most_informative(self) -> bool:
        index = self.scores.most_informative(self._done_indices()) if self.scores else None
        return index is not None and self.open(index)

    def _open_most_like(self, index: int) -> bool:
        skip = self._done_indices()
        found = self.scores.most_like(index, skip) if self.scores else None
        return found is not None and self.open(found)

    def _score_next(self, generation: int) -> None:
        if generation != self._generation:
            return  # another model came: its own scoring takes over
        scores = self.scores
        missing = scores.missing() if scores is not None else []
        if scores is None or not missing:
            self._scoring = None
            if scores is not None:
                self.events.scored.emit(scores)
            wish, self._wish = self._wish, None
            if wish is not None:
                wish()
            return
        index = missing[0]

        def scored(result: tuple[float, np.ndarray] | None) -> None:
            if generation == self._generation:
                scores.add(index, *(result or (None, None)))
                self.events.scoring_progress.emit(scores.n_scored, scores.size)
            self._score_next(generation)

        self._submit(self._score, self.queue.items[index], done=scored)

    def _score(self, item) -> tuple[float, np.ndarray] | None:
        """Automatic mode's uncertainty and embedding of a queue item (None if unreadable)."""
        runner = self._runner
        if runner is None:
            return None
        try:
            result = runner.model.segment_many([item.read()], embed=True)[0]
        except GalsegError:
            return None
        return result.uncertainty, result.embedding

    def rename(self, annotator: str) -> bool:
        """Save, then go on as ``annotator`` (the open cutout is reopened with their mask).

        Raises
        ------
        GalsegError
            If the name is not a valid annotator name.
        """
        check_name(annotator, "annotator", "galseg")
        if not self.flush():
            return False
        self.queue.annotator = annotator
        return self.open()

    # --------------------------------------------------------------- painting
    def select(self, label: int) -> None:
        """Paint with class ``label`` from now on."""
        if label != self.label:
            self.label = int(label)
            self.events.label_changed.emit(self.label)

    def paint(self, where: np.ndarray | Index, label: int | None = None) -> None:
        """Paint ``where`` (a boolean mask or an index) with ``label`` (default: the class).

        One undo step; part of the current stroke until :meth:`stroke_finished`.
        """
        if self.mask is None:
            return
        index = np.nonzero(where) if isinstance(where, np.ndarray) else tuple(where)
        value = self.label if label is None else int(label)
        old = self.mask[index]
        changed = old != value
        index = tuple(axis[changed] for axis in index)
        edit = Edit(index, old[changed], np.full(changed.sum(), value, self.mask.dtype))
        self.mask[index] = edit.new
        self.edited([edit])

    def edited(self, edits: Sequence[Edit]) -> None:
        """Record edits a view made, or is making, to :attr:`mask`, as one undo step.

        A napari Labels layer that shares the mask reports each committed
        stroke this way, from its ``paint`` event (which napari may send just
        before it writes the pixels: the session writes them too).
        """
        edits = [edit for edit in edits if edit.size]
        if self.mask is None or not edits:
            return
        for edit in edits:
            self.mask[edit.index] = edit.new
        self.history.push(edits)
        self._stroke.extend(edits)
        self._changed()

    def undo(self) -> bool:
        """Undo the last step (a stroke, a fill, an accepted preview); False if none."""
        return self._replay(self.history.undo())

    def redo(self) -> bool:
        """Redo the last undone step; False if none."""
        return self._replay(self.history.redo())

    def _replay(self, edits: list[Edit] | None) -> bool:
        if self.mask is None or edits is None:
            return False
        for edit in edits:
            self.mask[edit.index] = edit.new
        self._changed()
        self.events.mask_changed.emit(_bbox(edits))
        return True

    def set_flag(self, flag: str, on: bool = True) -> None:
        """Set or clear a flag (``no_feature``, ``unsure``, ``bad_data``) on the open cutout.

        Raises
        ------
        GalsegError
            If no cutout is open, or the store refuses it.
        """
        self.queue.set_flag(flag, on)

    def flags(self) -> list[str]:
        """The flags this annotator set on the open cutout."""
        return self.queue.flags()

    # ---------------------------------------------------------------- review
    def review_masks(self) -> dict[str, np.ndarray]:
        """Other annotators' latest masks of the open cutout, and their consensus, to review.

        People's masks only (:data:`galseg.agreement.HUMAN_PROVENANCES`), by
        annotator name, then ``"consensus"``: the one ``galseg consensus``
        saved in the store, or else the STAPLE consensus of everyone's masks,
        this annotator's as it is now included, when two or more painted it.

        Examples
        --------
        >>> session.review_masks()  # doctest: +SKIP
        {'bea': array(...), 'cy': array(...), 'consensus': array(...)}
        """
        from ..agreement import CONSENSUS_ANNOTATOR, AnnotatedCutout, annotated_cutouts, consensus

        if self.opened is None or self.mask is None:
            return {}
        cutout_id = self.opened.cutout_id
        found = next(annotated_cutouts(self.store, ids=[cutout_id]), None)
        everyone = dict(found.masks) if found is not None else {}
        mine = everyone.pop(self.annotator, None)
        review = dict(everyone)
        if mine is not None or self.mask.any():
            everyone[self.annotator] = self.mask.copy()
        saved = self.store.latest(cutout_id, CONSENSUS_ANNOTATOR)
        if saved is not None:
            review["consensus"] = self.store.load_mask(cutout_id, revision=saved.revision)
        elif len(everyone) >= 2:
            shared = AnnotatedCutout(cutout_id, everyone, {}, None)
            review["consensus"] = consensus([shared], self.store.taxonomy).labels[cutout_id]
        return review

    def copy_from(self, name: str) -> bool:
        """Make another annotator's mask, or the consensus, this annotator's own.

        One undo step, saved at once as a new revision (provenance
        ``imported``, with ``copied_from`` in its metadata).

        Returns
        -------
        bool
            False if there is no such mask to copy (see :meth:`review_masks`).
        """
        chosen = self.review_masks().get(name)
        if chosen is None or self.mask is None:
            return False
        index = np.nonzero(chosen != self.mask)
        if not index[0].size:
            return True
        edit = Edit(index, self.mask[index], chosen[index].astype(self.mask.dtype))
        self.mask[index] = edit.new
        self.history.push([edit])
        self._changed(Revision(self.mask.copy(), "imported", {"copied_from": name}))
        self.events.mask_changed.emit(_bbox([edit]))
        return self.flush()

    # ---------------------------------------------------------------- saving
    def _changed(self, revision: Revision | None = None) -> None:
        if self._autosaver is None or self.mask is None:
            return
        if revision is None:
            self._autosaver.changed(Revision(self.mask.copy()))
        else:
            self._autosaver.changed(revision, keep=True)

    def flush(self, timeout: float | None = None) -> bool:
        """Save every change now and wait for it (False, and an error event, if it failed)."""
        if self._autosaver is None or self._autosaver.flush(timeout):
            return True
        self._report(f"could not save the mask, so it stays open: {self.last_error}")
        return False

    def _saver(self, opened: OpenedCutout):
        """The save function of one cutout and annotator, fixed at opening: a save that
        runs later, in the autosaver's thread, can never land on another cutout or name.
        A mask equal to the last one saved is not saved again."""
        store, annotator = self.store, self.annotator
        cutout_id, content_hash = opened.cutout_id, opened.cutout.content_hash
        last = {"mask": opened.mask, "revision": opened.revision}  # never painted: no copy

        def save(revision: Revision) -> int | None:
            if np.array_equal(revision.mask, last["mask"]):
                return last["revision"]
            number = store.save_mask(
                cutout_id,
                revision.mask,
                annotator,
                revision.provenance,
                content_hash=content_hash,
                metadata=revision.metadata,
            )
            last["mask"], last["revision"] = revision.mask, number
            return number

        return save

    def _on_saved(self, cutout_id: str, revision: int | None, when: float) -> None:
        def saved() -> None:
            self.last_saved = when
            self.events.saved.emit(revision)
            if revision is not None and cutout_id in self._fresh:
                self.new_masks.add(cutout_id)
                self._offer_retrain()

        self._post_unless_closed(saved)

    def _offer_retrain(self) -> None:
        every, n_new = self.retrain_every, len(self.new_masks)
        if every and self.models and n_new - self._offered_at >= every:
            self._offered_at = n_new
            self.events.retrain_offered.emit(n_new)

    def _on_save_error(self, exc: Exception) -> None:
        self.last_error = str(exc)
        self._post_unless_closed(lambda: self._report(f"could not save the mask: {exc}"))

    def _close_cutout(self) -> None:
        if self._autosaver is not None:
            self._autosaver.close()
            self._autosaver = None

    def _start_cutout(self, opened: OpenedCutout) -> None:
        self.opened = opened
        if opened.revision is None:
            self._fresh.add(opened.cutout_id)
        self.mask = np.array(opened.mask, dtype=np.uint8, copy=True)
        self.history.clear()
        self._stroke = []
        latest = self.store.latest(opened.cutout_id, self.annotator)
        self.last_saved = _timestamp(latest.time) if latest else None
        self._autosaver = Autosaver(
            self._saver(opened),
            delay=self._save_delay,
            max_delay=self._max_save_delay,
            on_saved=partial(self._on_saved, opened.cutout_id),
            on_error=self._on_save_error,
        )
        self.assist = AssistSession(opened.cutout.image_shape)
        self._latest = None
        if self.model_state in ("loading", "ready"):
            self._submit(self._encode, opened.cutout)

    # ---------------------------------------------------------------- assist
    def load_model(self, load: Callable[[], Any], name: str | None = None) -> None:
        """Load a model in the model's thread, then use it (the open cutout is encoded next)."""
        self.model_state = "loading"
        self.events.model_changed.emit()
        self._submit(self._load, load, done=self._on_model_loaded, failed=self._on_model_failed)
        if self.opened is not None:
            self._submit(self._encode, self.opened.cutout)

    def use_checkpoint(self, path: str | os.PathLike) -> None:
        """Switch to a galseg checkpoint (e.g. the one :meth:`retrain` wrote)."""
        from ._models import assistants

        importer = None if self._model_process else self._import_model  # a child imports plainly
        self.load_model(assistants(path, import_model=importer)["galseg"])

    def _load(self, load: Callable[[], Any]) -> Any:
        """Load in the model's thread, its torch threads capped (the cap is per thread).

        With ``model_process``, the model loads in a process of its own; the
        process of the model it replaces ends once it is ready.
        """
        if self._model_process:
            model = ModelProcess(load, threads=self._model_threads)
            self._processes.append(model)  # so that close() can end it while it loads
            model.wait_loaded()
        else:
            limit_model_threads(self._model_threads)  # torch imported already: the load too
            model = load()
            limit_model_threads(self._model_threads)
        self._runner = ModelRunner(model)  # later jobs of this thread use it
        for old in self._processes[:-1]:
            old.close()
        del self._processes[:-1]
        return model

    def _encode(self, cutout) -> float:
        runner = self._runner
        return 0.0 if runner is None else runner.encode(cutout)

    def _on_model_loaded(self, model: Any) -> None:
        self.model = model
        self._generation += 1  # scores of another model do not rank for this one
        self.scores, self._scoring = None, None
        path = getattr(model, "checkpoint_path", None)
        name = Path(path).name if path else type(model).__name__
        device = str(getattr(model, "device", "cpu"))
        self.model_name = f"{name} ({'CUDA' if device.startswith('cuda') else 'CPU'})"
        self.model_state = "ready"
        self.events.model_changed.emit()
        if self._wish is not None or self._rerank:  # asked for with the last model
            self._rerank = False
            self.score_queue()

    def _on_model_failed(self, message: str) -> None:
        self.model_state = "ready" if self.model is not None else "failed"
        self.events.model_changed.emit()
        self._report(f"could not load the model: {message}")

    def stroke_finished(self, erased: np.ndarray | None = None) -> Request | None:
        """End the current stroke and ask for its completion.

        Pixels painted with the class since the last call are positive (a
        class other than the feature's starts a new feature); without any,
        pixels that lost the feature's class are negative, as are the pixels
        in ``erased`` (an eraser passing over unlabelled pixels changes none).
        A stroke finished while the model still loads is completed as soon as
        it is ready.

        Returns
        -------
        Request or None
            The completion asked for, or None (assist off, nothing to complete).
        """
        edits, self._stroke = self._stroke, []
        if self.assist is None or self.opened is None:
            return None
        shape = self.assist.shape
        positive, negative = np.zeros(shape, bool), np.zeros(shape, bool)
        for edit in edits:
            positive[tuple(axis[edit.new == self.label] for axis in edit.index)] = True
        if not positive.any() and self.assist.label is not None:  # an eraser on the feature
            feature = self.assist.label
            for edit in edits:
                lost = (edit.old == feature) & (edit.new != feature)
                negative[tuple(axis[lost] for axis in edit.index)] = True
        if erased is not None:
            negative |= erased
        if not self.assisting:
            return None
        request = self.assist.stroke(positive, negative, self.label)
        if request is None:
            return None
        self._released[request.generation] = time.perf_counter()
        self._latest = request
        self._submit(self._complete, self.opened.cutout, request, done=self._on_completion)
        return request

    def _complete(self, cutout, request: Request):
        runner = self._runner
        if runner is None:
            raise GalsegError("no model to complete the stroke with")
        return runner.complete(cutout, request, lambda r: r is self._latest)

    def _on_completion(self, result) -> None:
        if result is None or self.assist is None:
            return
        request, probability, seconds = result
        if request is not self._latest or not self.assist.receive(request, probability, seconds):
            return  # a later stroke superseded it
        released = self._released.pop(request.generation, None)
        self._released = {g: t for g, t in self._released.items() if g > request.generation}
        if released is not None:
            self.latencies = [*self.latencies[-99:], time.perf_counter() - released]
        self.events.preview_changed.emit()

    @property
    def preview(self) -> np.ndarray | None:
        """The preview at :attr:`threshold`, or None."""
        return None if self.assist is None else self.assist.preview_mask(self.threshold)

    def set_threshold(self, threshold: float) -> None:
        """Grow or shrink the preview from its probabilities, without the model."""
        self.threshold = float(threshold)
        self.events.preview_changed.emit()

    def accept(self) -> bool:
        """Merge the preview into the mask: one undo step, one ``assisted`` revision, saved now.

        Only unlabelled pixels take it unless :attr:`overwrite`.

        Returns
        -------
        bool
            False if there was no preview.
        """
        assist, mask = self.assist, self.mask
        if assist is None or assist.preview is None or mask is None:
            return False
        label, probability = assist.preview.label, assist.preview.probability
        self._latest = None
        merged = assist.accept(mask, self.threshold, overwrite=self.overwrite)  # starts afresh
        index = np.nonzero(merged != mask)
        self.events.preview_changed.emit()
        if not index[0].size:
            return True
        edit = Edit(index, mask[index], np.full(index[0].size, label, mask.dtype))
        mask[index] = edit.new
        self.history.push([edit])
        taken = mask == label
        metadata = {
            "model": self.model_name,
            "label": int(label),
            "threshold": self.threshold,
            "mean_probability": float(probability[taken].mean()) if taken.any() else 0.0,
        }
        self._changed(Revision(mask.copy(), "assisted", metadata))
        self.events.mask_changed.emit(_bbox([edit]))
        return True

    def reject(self) -> None:
        """Drop the preview (the strokes stay in the mask as painted)."""
        self._latest = None
        if self.assist is not None:
            self.assist.reset()
        self.events.preview_changed.emit()

    def set_assist(self, on: bool) -> None:
        """Turn stroke completion on or off (off drops the preview)."""
        self.assist_enabled = bool(on)
        if not on:
            self.reject()

    # --------------------------------------------------------------- retrain
    def retrain(
        self,
        steps: int = 300,
        out: str | os.PathLike | None = None,
        holdout: float = 0.2,
        *,
        rerank: bool = False,
    ) -> RetrainRun | None:
        """Fine-tune the galseg model on the store's masks in a thread (``galseg finetune``).

        Starts from the galseg checkpoint in use (the shipped one otherwise);
        writes ``out`` (default :func:`retrain_output`); holds back
        ``holdout`` of the cutouts to score it. ``retrain_progress(done,
        total)`` reports progress and ``retrained(run)`` the end. With
        ``rerank``, a new model that scores better than the start is used at
        once and scores the queue afresh (:meth:`score_queue`), so that
        :meth:`next_most_informative` follows it.

        Returns
        -------
        RetrainRun or None
            None if a run is under way already or the mask could not be saved.

        Raises
        ------
        GalsegError
            If the output folder cannot be made.
        """
        if self._retrain_thread is not None or not self.flush():
            return None
        if self._model_process:  # torch stays out of this process
            start = getattr(self.model, "galseg_checkpoint", None)  # None if not galseg's
            finetune = partial(finetune_in_process, threads=self._model_threads)
        else:
            galseg_model = self._import_model()
            start = None
            if isinstance(self.model, galseg_model.Assistant):
                start = getattr(self.model, "checkpoint_path", None)
            finetune = galseg_model.finetune
        start = start or SHIPPED_CHECKPOINT
        out = Path(out) if out is not None else retrain_output(self.store.path)
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise GalsegError(f"{out.parent}: {exc.strerror or exc}") from exc
        run = RetrainRun(out, Path(start), rerank=rerank)
        self.retrain_run = run

        def progress(done: int, total: int) -> None:
            if self._closed:
                raise _Cancelled
            self._post_unless_closed(lambda: self.events.retrain_progress.emit(done, total))

        def work() -> None:
            try:
                run.report = finetune(
                    self.store.path, run.start, out, steps=steps, holdout=holdout, progress=progress
                )
            except _Cancelled:
                run.error = "cancelled"
            except Exception as exc:  # one line for the user, never a traceback
                run.error = (
                    str(exc) if isinstance(exc, GalsegError) else f"{type(exc).__name__}: {exc}"
                )
            run.done.set()
            self._post_unless_closed(lambda: self._on_retrained(run))

        self._retrain_thread = threading.Thread(target=work, name="galseg-retrain")
        self._retrain_thread.start()
        return run

    def _on_retrained(self, run: RetrainRun) -> None:
        self._retrain_thread = None
        if run.error is not None:
            self._report(f"could not retrain: {run.error}")
        self.events.retrained.emit(run)
        if run.rerank and run.report is not None and run.report.written:
            self._rerank = True
            self.use_checkpoint(run.checkpoint)

    # ---------------------------------------------------------------- threads
    def _submit(
        self,
        function: Callable,
        *args: Any,
        done: Callable[[Any], None] | None = None,
        failed: Callable[[str], None] | None = None,
    ) -> None:
        """Run ``function(*args)`` in the model's thread; answer on the owner's thread."""
        if self._closed:
            return
        self._jobs += 1
        if self._jobs == 1:
            self.events.busy_changed.emit(True)
        future = self._executor.submit(function, *args)

        def answer(future: Future) -> None:
            self._jobs -= 1
            if self._jobs == 0:
                self.events.busy_changed.emit(False)
            if future.cancelled():
                return
            exc = future.exception()
            if exc is None:
                if done is not None:
                    done(future.result())
                return
            message = str(exc) if isinstance(exc, GalsegError) else f"{type(exc).__name__}: {exc}"
            (failed or (lambda m: self._report(f"the model failed: {m}")))(message)

        future.add_done_callback(lambda future: self._post_unless_closed(lambda: answer(future)))

    def _post_unless_closed(self, function: Callable[[], None]) -> None:
        if not self._closed:
            self._post(lambda: None if self._closed else function())

    def run_pending(self, timeout: float = 0.0) -> int:
        """Take the results of background work on this thread (no GUI: call it, or :meth:`wait`)."""
        return self._inbox.run_pending(timeout)

    def wait(self, until: Callable[[], bool] | None = None, timeout: float = 60.0) -> bool:
        """Take background results until ``until()`` (default: the model idle), or ``timeout`` s.

        Returns
        -------
        bool
            Whether the condition was met.
        """
        until = until or (lambda: not self.busy)
        end = time.monotonic() + timeout
        while not until():
            if time.monotonic() > end:
                return False
            self.run_pending(0.02)
        return True

    def _report(self, message: str) -> None:
        self.last_error = message
        self.events.error.emit(message)

    # ----------------------------------------------------------------- close
    def close(self, timeout: float | None = 30.0) -> bool:
        """Save everything, stop the model and retraining; calling it again is harmless.

        Queued model work is cancelled, the running call is waited for (its
        answer dropped), a retraining run stops at its next step. If the
        last mask cannot be saved in the store it is kept in a ``.npy`` file
        (the error event names it).

        Returns
        -------
        bool
            Whether the last mask reached the store.
        """
        if self._closed:
            return True
        saved = self.flush(timeout)
        if not saved and self.mask is not None and self.opened is not None:
            kept = keep_unsaved(self.store.path, self.opened.cutout_id, self.mask)
            if kept is not None:
                self._report(f"the mask could not be saved to the store; it was kept in {kept}")
        self._closed = True
        self._close_cutout()
        self._reader.shutdown(wait=True, cancel_futures=True)
        for process in list(self._processes):  # a call waiting on it then returns
            process.close(timeout=0)
        self._executor.shutdown(wait=True, cancel_futures=True)
        for process in self._processes:  # one started as close() began
            process.close(timeout=0)
        if self._retrain_thread is not None:
            self._retrain_thread.join(timeout)
        for name in self.EVENTS:
            getattr(self.events, name).disconnect()
        return saved

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` ran."""
        return self._closed


def _read_first(
    queue: AnnotationQueue, indices: Sequence[int]
) -> tuple[int, OpenedCutout | None, list[str]]:
    """The first of the queue's items ``indices`` that can be read (safe in a worker thread).

    Returns ``(index, opened, reasons)``: the index read (the first one if
    none could be), its cutout or None, and why each one tried before could
    not be read, in one line each.
    """
    reasons: list[str] = []
    for index in indices:
        try:
            return index, queue.read(index), reasons
        except GalsegError as exc:
            reasons.append(str(exc))
        except Exception as exc:  # one line naming the file, never a traceback
            reasons.append(f"{queue.items[index].name}: {type(exc).__name__}: {exc}")
    return indices[0], None, reasons


def keep_unsaved(store_path: Path, cutout_id: str, mask: np.ndarray) -> Path | None:
    """Last resort when the store refuses a save at close: keep the mask as ``.npy``.

    Beside the store if possible, else in the temporary folder; returns the
    file, or None if neither could be written.
    """
    for folder in (Path(store_path).parent, Path(tempfile.gettempdir())):
        path = folder / f"galseg-unsaved-{cutout_id}-{int(time.time())}.npy"
        try:
            np.save(path, mask)
        except OSError:
            continue
        return path
    return None


def _bbox(edits: Sequence[Edit]) -> tuple[slice, ...]:
    """The bounding box of edits' pixels."""
    axes = zip(*(edit.index for edit in edits), strict=True)
    return tuple(
        slice(int(min(a.min() for a in axis)), int(max(a.max() for a in axis)) + 1) for axis in axes
    )


def _timestamp(iso_time: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso_time).timestamp()
