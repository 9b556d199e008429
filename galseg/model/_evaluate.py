"""Scoring completions the way an expert would use them: stroke after stroke."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ..cutout import Cutout
from ._assistant import Assistant
from ._strokes import next_stroke, scribble

__all__ = ["interactive_ious", "interactive_score", "iou"]


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two masks (1 when both are empty).

    Examples
    --------
    >>> import numpy as np
    >>> iou(np.array([1, 1, 0], bool), np.array([0, 1, 1], bool))
    0.3333333333333333
    """
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    union = np.count_nonzero(a | b)
    return 1.0 if union == 0 else float(np.count_nonzero(a & b) / union)


def interactive_ious(
    assistant: Assistant,
    cutout: Cutout,
    target: np.ndarray,
    label: int | str,
    rng: np.random.Generator,
    strokes: int = 5,
) -> list[float]:
    """IoU of the completion after each of a simulated expert's strokes.

    Stroke 1 is a :func:`~galseg.model.scribble` along the target; each next
    stroke goes into the largest error of the last completion
    (:func:`~galseg.model.next_stroke`), which is fed back as ``previous``.

    Parameters
    ----------
    assistant : Assistant
        The assistant; ``cutout`` becomes its current image.
    cutout : Cutout
        The image.
    target : ndarray of bool, shape (y, x)
        The true mask of the class.
    label : int or str
        The class.
    rng : numpy.random.Generator
        Random numbers for the strokes.
    strokes : int
        Number of strokes.

    Returns
    -------
    list of float
        IoU after strokes 1, 2, ..., ``strokes``.
    """
    target = np.asarray(target, dtype=bool)
    assistant.set_image(cutout)
    positive = scribble(target, rng)
    negative = np.zeros_like(positive)
    completion = assistant.complete(positive, negative, label)
    ious = [iou(completion.mask, target)]
    for _ in range(strokes - 1):
        stroke, is_positive = next_stroke(target, completion.mask, rng)
        (positive if is_positive else negative)[stroke] = True
        completion = assistant.complete(positive, negative, label, completion.probability)
        ious.append(iou(completion.mask, target))
    return ious


def interactive_score(
    assistant: Assistant,
    examples: Iterable[tuple[Cutout, np.ndarray]],
    *,
    strokes: int = 3,
    seed: int = 0,
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
        for value in sorted(set(np.unique(mask).tolist()) & values):
            rng = np.random.default_rng([seed, i, value])
            ious = interactive_ious(assistant, cutout, mask == value, value, rng, strokes)
            scores.append(ious[-1])
    return (float(np.mean(scores)) if scores else float("nan")), len(scores)
