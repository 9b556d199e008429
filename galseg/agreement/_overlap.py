"""Overlap of two masks."""

from __future__ import annotations

import numpy as np

__all__ = ["iou"]


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
