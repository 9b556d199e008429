"""Automatic mode's rule: from each class's probability map to one label image."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

__all__ = ["AutomaticRule"]

_EIGHT = np.ones((3, 3), dtype=bool)


@dataclass(frozen=True)
class AutomaticRule:
    """Per-class thresholds and a least piece size for automatic mode.

    A pixel gets the class of highest probability among those whose
    probability reaches their own threshold (else 0); then every connected
    piece (8-neighbour) of a class smaller than ``min_pixels`` is dropped.
    Checkpoints calibrated by ``galseg train automatic`` carry their rule in
    the model card (``automatic``); others use one threshold for every class.

    Attributes
    ----------
    thresholds : dict of str to float
        Threshold per class name; a class not listed uses ``default``.
    default : float
        Threshold of unlisted classes.
    min_pixels : int
        Least pixels of a kept piece.

    Examples
    --------
    >>> rule = AutomaticRule({"bar": 0.8}, min_pixels=2)
    >>> p = np.array([[[0.9, 0.9, 0.0, 0.6]], [[0.0, 0.7, 0.6, 0.0]]])  # bar, shell
    >>> rule.labels(p, ("bar", "shell"), np.array([4, 2], np.uint8))
    array([[4, 4, 0, 0]], dtype=uint8)
    """

    thresholds: Mapping[str, float] = field(default_factory=dict)
    default: float = 0.5
    min_pixels: int = 0

    @classmethod
    def from_card(cls, card: Mapping[str, Any], default: float) -> AutomaticRule:
        """The rule a model card records, or one threshold ``default`` for all."""
        entry = card.get("automatic")
        if not entry:
            return cls(default=default)
        return cls(dict(entry["thresholds"]), default, int(entry.get("min_pixels", 0)))

    def labels(
        self, probability: np.ndarray, names: Sequence[str], values: np.ndarray
    ) -> np.ndarray:
        """Label image (y, x) from probabilities (class, y, x) of the classes ``names``."""
        limits = np.array([self.thresholds.get(n, self.default) for n in names], dtype=np.float32)
        passing = np.where(probability >= limits[:, None, None], probability, -1.0)
        best = passing.argmax(axis=0)
        labels = np.where(passing.max(axis=0) >= 0, values[best], 0).astype(np.uint8)
        if self.min_pixels > 1:
            for value in values:
                pieces, count = ndimage.label(labels == value, structure=_EIGHT)
                if count:
                    small = np.bincount(pieces.ravel())[1:] < self.min_pixels
                    labels[np.isin(pieces, np.flatnonzero(small) + 1)] = 0
        return labels

    def record(self) -> dict[str, Any]:
        """The rule as a model-card entry."""
        return {"thresholds": dict(self.thresholds), "min_pixels": self.min_pixels}
