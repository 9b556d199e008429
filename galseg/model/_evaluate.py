"""The simulated expert's protocol: stroke after stroke, each into the largest error.

Shared by the completion benchmark (:mod:`galseg.model._bench`, several
methods on the same strokes) and fine-tuning's held-back score
(:func:`interactive_score`, galseg alone). Stroke 1 lies on the feature, in
one of the :data:`~galseg.model.STROKE_STYLES` (a line along it by default);
each next stroke, of the same style, goes into the largest error of the
driving method's completion (:func:`~galseg.model.next_stroke`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
import time

import numpy as np

from ..agreement import iou
from ..cutout import Cutout
from ..errors import GalsegError
from ._assistant import Assistant
from ._strokes import next_stroke, stroke

__all__ = [
    "GOOD_IOU",
    "Completer",
    "galseg_completer",
    "interactive_score",
    "iou",
    "run_episode",
    "strokes_alone",
]

Completer = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""``completer(positive, negative) -> mask``: one method's answer to the strokes so far."""

GOOD_IOU = 0.8
"""The IoU of NoC@80."""


def strokes_alone(positive: np.ndarray, negative: np.ndarray) -> np.ndarray:
    """The baseline of no completion: painted pixels minus erased ones.

    Examples
    --------
    >>> strokes_alone(np.array([1, 1, 0], bool), np.array([0, 1, 1], bool))
    array([ True, False, False])
    """
    return np.asarray(positive, dtype=bool) & ~np.asarray(negative, dtype=bool)


def galseg_completer(
    assistant: Assistant,
    label: int | str,
    times: list[float] | None = None,
    localities: list[float] | None = None,
) -> Completer:
    """Complete with ``assistant`` on its current image, feeding each completion back.

    Parameters
    ----------
    assistant : Assistant
        With the cutout set (:meth:`Assistant.set_image`).
    label : int or str
        The class completed.
    times : list of float, optional
        Where to append the seconds each :meth:`Assistant.complete` takes.
    localities : list of float, optional
        Where to append each completion's :attr:`Completion.locality`.
    """
    previous: np.ndarray | None = None

    def complete(positive: np.ndarray, negative: np.ndarray) -> np.ndarray:
        nonlocal previous
        start = time.perf_counter()
        completion = assistant.complete(positive, negative, label, previous)
        if times is not None:
            times.append(time.perf_counter() - start)
        if localities is not None:
            localities.append(completion.locality)
        previous = completion.probability
        return completion.mask

    return complete


def run_episode(
    target: np.ndarray,
    completers: Mapping[str, Completer],
    rng: np.random.Generator,
    *,
    driver: str = "galseg",
    max_strokes: int = 10,
    always: int = 5,
    style: str = "line",
) -> tuple[dict[str, list[float]], list[bool]]:
    """Play one simulated expert's strokes and score every method on each.

    Stroke 1 is a :func:`~galseg.model.stroke` of ``style`` on ``target``;
    each next stroke goes into the largest error of the ``driver``'s
    completion. Every completer gets the same cumulative
    ``(positive, negative)`` masks (fresh arrays at each stroke).

    Parameters
    ----------
    target : ndarray of bool, shape (y, x)
        The true mask.
    completers : mapping of str to callable
        ``completer(positive, negative) -> mask`` by method name.
    rng : numpy.random.Generator
        Random numbers for the strokes.
    driver : str
        The method whose errors place the next stroke.
    max_strokes : int
        Most strokes.
    always : int
        Every method runs on strokes 1 to ``always``; later, only until its
        IoU reaches :data:`GOOD_IOU` (the driver runs on every stroke).
    style : str
        How the expert paints: one of :data:`~galseg.model.STROKE_STYLES`.

    Returns
    -------
    ious : dict of str to list of float
        Each method's IoU after each stroke it ran on.
    signs : list of bool
        Each stroke: True to paint, False to erase.

    Examples
    --------
    >>> target = np.zeros((32, 32), bool); target[8:24, 4:28] = True
    >>> ious, signs = run_episode(target, {"strokes": strokes_alone}, np.random.default_rng(0),
    ...                           driver="strokes", max_strokes=3)
    >>> len(ious["strokes"]), signs[0]
    (3, True)
    """
    if driver not in completers:
        raise GalsegError(f"the driver {driver!r} is not one of the methods {list(completers)}")
    target = np.asarray(target, dtype=bool)
    positive, negative = stroke(target, rng, style), np.zeros(target.shape, dtype=bool)
    ious: dict[str, list[float]] = {name: [] for name in completers}
    signs = [True]
    while True:
        masks = {}
        for name, complete in completers.items():
            if name == driver or len(signs) <= always or not _reached(ious[name]):
                masks[name] = complete(positive, negative)
                ious[name].append(iou(masks[name], target))
        done = len(signs) >= always and all(_reached(v) for v in ious.values())
        if done or len(signs) >= max_strokes:
            break
        more, is_positive = next_stroke(target, masks[driver], rng, style=style)
        if not more.any():  # the driver is exact: nothing left to correct
            break
        if is_positive:
            positive = positive | more
        else:
            negative = negative | more
        signs.append(is_positive)
    return ious, signs


def _reached(ious: Sequence[float]) -> bool:
    return any(value >= GOOD_IOU for value in ious)


def interactive_score(
    assistant: Assistant,
    examples: Iterable[tuple[Cutout, np.ndarray]],
    *,
    strokes: int = 3,
    seed: int = 0,
    known: Sequence[np.ndarray | None] | None = None,
) -> tuple[float, int]:
    """Mean IoU after ``strokes`` strokes over every class present in every example.

    The strokes of example ``i`` and class ``v`` come from the seed
    ``(seed, i, v)``, so two assistants scored with the same seed get the
    same first stroke.

    Parameters
    ----------
    assistant : Assistant
        The assistant.
    examples : iterable of (Cutout, ndarray of uint8)
        Cutouts and their label masks.
    strokes : int
        Strokes per class.
    seed : int
        Seed of the strokes.
    known : sequence of (ndarray of bool or None), optional
        Per example, the pixels its mask carries information for (e.g. those
        a transferred mask covers, :func:`galseg.transfer.covered_pixels`);
        completions count only there, and so do the errors the next strokes
        go to. None: every pixel.

    Returns
    -------
    score : float
        Mean IoU (NaN when no example has a feature class).
    count : int
        Number of (example, class) pairs scored.
    """
    scores = []
    values = {c.value for c in assistant.config.classes}
    for i, (cutout, mask) in enumerate(examples):
        assistant.set_image(cutout)
        for value in sorted(set(np.unique(mask).tolist()) & values):
            rng = np.random.default_rng([seed, i, value])
            completers = {"galseg": galseg_completer(assistant, value)}
            where = None if known is None else known[i]
            if where is not None:
                completers = {"galseg": _only(completers["galseg"], where)}
            ious, _ = run_episode(
                mask == value, completers, rng, max_strokes=strokes, always=strokes
            )
            scores.append(ious["galseg"][-1])
    return (float(np.mean(scores)) if scores else float("nan")), len(scores)


def _only(complete: Completer, known: np.ndarray) -> Completer:
    """A completer whose masks are cut to ``known`` pixels."""
    return lambda positive, negative: complete(positive, negative) & known
