"""Assist mode's bookkeeping: brush strokes in, completion previews out.

An expert completes one feature at a time. Each stroke of the feature's class
adds to its positive prompt, each eraser stroke to its negative prompt, and
asks the model for a new completion (a :class:`Request`), which it answers
with a probability map; the preview is that map above a threshold the expert
can move without asking the model again. A stroke made while a completion is
still being computed supersedes it: every request carries a generation
number, and an answer to an older one is dropped (:meth:`AssistSession.receive`).
Accepting merges the preview into the mask (:func:`merge_preview`); a stroke of
another class starts a new feature.

This module is pure numpy: the napari widget calls it on the UI thread and
runs the model elsewhere; scripts and tests drive it directly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
import threading
import time
from typing import Any, Protocol

import numpy as np

from .cutout import Cutout

__all__ = [
    "AssistSession",
    "AssistModel",
    "ModelRunner",
    "Preview",
    "Request",
    "brush_footprint",
    "merge_preview",
]


def brush_footprint(
    points: Sequence[Sequence[float]], size: float, shape: tuple[int, int]
) -> np.ndarray:
    """Pixels a round brush covers when dragged through ``points``.

    Consecutive points are joined by steps of at most half a pixel, and each
    position covers the pixels within ``floor(size / 2) + 0.5`` of it, as
    napari's Labels brush does; points outside the image are clipped.

    Parameters
    ----------
    points : sequence of (y, x)
        The brush's positions in pixel coordinates, in order.
    size : float
        Brush diameter in pixels.
    shape : tuple of int
        ``(y, x)`` of the image.

    Returns
    -------
    ndarray of bool, shape ``shape``

    Examples
    --------
    >>> brush_footprint([(2, 1), (2, 5)], 1, (5, 7)).astype(int)[2]
    array([0, 1, 1, 1, 1, 1, 0])
    """
    footprint = np.zeros(shape, dtype=bool)
    if len(points) == 0:
        return footprint
    path = np.asarray(points, dtype=float).reshape(-1, 2)
    steps = [path[:1]]
    for start, end in zip(path[:-1], path[1:], strict=True):
        n = max(1, int(np.ceil(2 * np.abs(end - start).max())))
        steps.append(start + (end - start) * (np.arange(1, n + 1)[:, None] / n))
    centres = np.round(np.concatenate(steps)).astype(int)
    radius = np.floor(size / 2) + 0.5
    reach = int(np.floor(radius))
    dy, dx = np.mgrid[-reach : reach + 1, -reach : reach + 1]
    inside = dy**2 + dx**2 <= radius**2
    offsets = np.stack([dy[inside], dx[inside]], axis=1)
    covered = (centres[:, None, :] + offsets[None]).reshape(-1, 2)
    keep = (covered >= 0).all(axis=1) & (covered[:, 0] < shape[0]) & (covered[:, 1] < shape[1])
    footprint[covered[keep, 0], covered[keep, 1]] = True
    return footprint


def merge_preview(
    mask: np.ndarray, preview: np.ndarray, label: int, *, overwrite: bool = False
) -> np.ndarray:
    """The mask with an accepted preview painted in with ``label``.

    Parameters
    ----------
    mask : ndarray of int, shape (y, x)
        The label mask.
    preview : ndarray of bool, shape (y, x)
        The accepted completion.
    label : int
        Its class.
    overwrite : bool
        Also paint over pixels of other classes (by default only unlabelled
        pixels take the preview, so nothing an expert painted is lost).

    Returns
    -------
    ndarray
        A new mask (``mask`` is not changed).

    Examples
    --------
    >>> merge_preview(np.array([0, 2, 0]), np.array([True, True, False]), 1)
    array([1, 2, 0])
    """
    mask = np.asarray(mask)
    where = np.asarray(preview, dtype=bool) & ((mask == 0) | overwrite)
    return np.where(where, np.asarray(label, dtype=mask.dtype), mask)


@dataclass(frozen=True, eq=False)
class Request:
    """What the model is asked for after a stroke.

    Attributes
    ----------
    generation : int
        The session's generation when it was made (later strokes supersede it).
    label : int
        The class to complete.
    positive, negative : ndarray of bool, shape (y, x)
        Every positive and negative stroke of the feature so far.
    previous : ndarray of float32 or None
        The preview's probability, fed back so each stroke refines it.
    """

    generation: int
    label: int
    positive: np.ndarray
    negative: np.ndarray
    previous: np.ndarray | None


@dataclass(frozen=True, eq=False)
class Preview:
    """A completion shown to the expert, not yet in the mask.

    Attributes
    ----------
    label : int
        Its class.
    probability : ndarray of float32, shape (y, x)
        The model's probability of each pixel.
    generation : int
        The generation of the request it answers.
    seconds : float
        How long the model took.
    """

    label: int
    probability: np.ndarray
    generation: int = 0
    seconds: float = 0.0

    def mask(self, threshold: float) -> np.ndarray:
        """The pixels whose probability reaches ``threshold``."""
        return self.probability >= threshold


class AssistSession:
    """One cutout's assist state: the feature being completed and its preview.

    Parameters
    ----------
    shape : tuple of int
        ``(y, x)`` of the cutout.

    Examples
    --------
    >>> session = AssistSession((4, 4))
    >>> stroke = np.zeros((4, 4), bool); stroke[1, 1:3] = True
    >>> request = session.stroke(stroke, np.zeros_like(stroke), label=1)
    >>> session.receive(request, np.full((4, 4), 0.9, np.float32))
    True
    >>> int(session.preview.mask(0.5).sum())
    16
    """

    def __init__(self, shape: tuple[int, int]) -> None:
        self.shape = tuple(shape)
        self.generation = 0
        self.label: int | None = None
        self.positive = np.zeros(self.shape, dtype=bool)
        self.negative = np.zeros(self.shape, dtype=bool)
        self.preview: Preview | None = None
        self._answered = 0

    @property
    def pending(self) -> bool:
        """Whether the latest stroke's completion has not arrived yet."""
        return self._answered < self.generation

    def stroke(self, positive: np.ndarray, negative: np.ndarray, label: int) -> Request | None:
        """Record a stroke and return the completion to ask for.

        A stroke of another class than the feature's starts a new feature
        (its preview is dropped). Negative strokes alone do not start one.

        Parameters
        ----------
        positive, negative : ndarray of bool, shape (y, x)
            The stroke's painted pixels of ``label`` and its erased pixels.
        label : int
            The class the expert paints with.

        Returns
        -------
        Request or None
            None when there is nothing to complete (no positive stroke yet).
        """
        positive = np.asarray(positive, dtype=bool)
        negative = np.asarray(negative, dtype=bool)
        if not (positive.any() or negative.any()):
            return None
        if label != self.label and positive.any():
            self.reset()
            self.label = label
        if self.label is None:
            return None
        self.negative = (self.negative & ~positive) | negative  # repainting takes it back
        self.positive = (self.positive | positive) & ~negative  # erasing takes it back
        if not self.positive.any():
            return None
        self.generation += 1
        previous = None if self.preview is None else self.preview.probability
        return Request(
            self.generation, self.label, self.positive.copy(), self.negative.copy(), previous
        )

    def receive(self, request: Request, probability: np.ndarray, seconds: float = 0.0) -> bool:
        """Take a completion; False (and nothing changes) if a later stroke superseded it."""
        if request.generation != self.generation or request.label != self.label:
            return False
        self._answered = request.generation
        probability = np.asarray(probability, np.float32)
        self.preview = Preview(request.label, probability, request.generation, seconds)
        return True

    def preview_mask(self, threshold: float) -> np.ndarray | None:
        """The preview at ``threshold``, less every pixel erased since (None without one)."""
        if self.preview is None:
            return None
        return self.preview.mask(threshold) & ~self.negative

    def accept(self, mask: np.ndarray, threshold: float, *, overwrite: bool = False) -> np.ndarray:
        """The mask with :meth:`preview_mask` merged in; the session starts afresh.

        Raises
        ------
        ValueError
            If there is no preview to accept.
        """
        if self.preview is None:
            raise ValueError("no completion to accept")
        preview = self.preview_mask(threshold)
        merged = merge_preview(mask, preview, self.preview.label, overwrite=overwrite)
        self.reset()
        return merged

    def reset(self) -> None:
        """Forget the feature, its strokes and preview (pending answers become stale)."""
        self.generation += 1
        self._answered = self.generation
        self.label = None
        self.positive = np.zeros(self.shape, dtype=bool)
        self.negative = np.zeros(self.shape, dtype=bool)
        self.preview = None


class AssistModel(Protocol):
    """What assist mode needs of a model (:class:`galseg.model.Assistant` is one)."""

    def set_image(self, cutout: Cutout) -> None: ...

    def complete(
        self,
        positive: np.ndarray,
        negative: np.ndarray,
        label: int | str,
        previous: np.ndarray | None = None,
    ) -> Any: ...


class ModelRunner:
    """Calls a model from worker threads one at a time, skipping superseded requests.

    A UI runs :meth:`encode` when a cutout opens and :meth:`complete` after
    each stroke, each in a worker thread of its own; a lock keeps the model's
    calls in order (a completion waits for its cutout's encoding), and a
    request that a later stroke superseded while it waited is not computed.

    Parameters
    ----------
    model : AssistModel
        The model, e.g. :func:`galseg.model.load_assistant`'s.
    """

    def __init__(self, model: AssistModel) -> None:
        self.model = model
        self._lock = threading.Lock()

    def encode(self, cutout: Cutout) -> float:
        """Encode ``cutout`` (its features are cached); return the seconds it took."""
        with self._lock:
            start = time.perf_counter()
            self.model.set_image(cutout)
            return time.perf_counter() - start

    def complete(
        self, cutout: Cutout, request: Request, is_current: Callable[[Request], bool]
    ) -> tuple[Request, np.ndarray, float] | None:
        """Complete ``request`` on ``cutout``, unless it is stale by the time the model is free.

        Returns
        -------
        (request, probability, seconds) or None
            None if ``is_current(request)`` was False when its turn came.
        """
        with self._lock:
            if not is_current(request):
                return None
            start = time.perf_counter()
            self.model.set_image(cutout)
            completion = self.model.complete(
                request.positive, request.negative, request.label, request.previous
            )
            return request, completion.probability, time.perf_counter() - start
