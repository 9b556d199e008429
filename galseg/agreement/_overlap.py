"""Overlap of masks: of two, and of one class over many pairs."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["iou", "mean_iou"]


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


def mean_iou(pairs: Sequence[tuple[np.ndarray, np.ndarray]], value: int) -> float | None:
    """Mean IoU of class ``value`` over the pairs of label masks where either has it.

    Examples
    --------
    >>> import numpy as np
    >>> a, b = np.array([1, 1, 0, 0]), np.array([1, 0, 0, 0])
    >>> mean_iou([(a, b), (b, b), (a * 0, b * 0)], 1)
    0.75
    >>> mean_iou([(a * 0, b * 0)], 1) is None
    True
    """
    scores = [
        iou(a == value, b == value) for a, b in pairs if (a == value).any() or (b == value).any()
    ]
    return float(np.mean(scores)) if scores else None
