"""Automatic mode's rule: from each class's probability map to one label image."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

__all__ = ["AutomaticRule", "axis_ratios"]

_EIGHT = np.ones((3, 3), dtype=bool)


def axis_ratios(pieces: np.ndarray, count: int) -> np.ndarray:
    """Minor-to-major axis ratio of each labelled piece, from its second moments.

    For a piece of pixels at ``(y, x)`` with covariance matrix ``C`` (the
    second central moments), the ratio is ``sqrt(λ_min / λ_max)`` of the
    eigenvalues of ``C``: 1 for a disc or a square, ``b / a`` for an ellipse
    of semi-axes ``a ≥ b``, near 0 for a line. A bar is an elongated structure
    (ellipticity ``1 - b/a`` of about 0.4 and more), and a galaxy's round
    centre is not.

    Parameters
    ----------
    pieces : ndarray of int, shape (y, x)
        Labels ``1..count`` of the pieces, 0 elsewhere (as from
        :func:`scipy.ndimage.label`).
    count : int
        Number of pieces.

    Returns
    -------
    ndarray of float, shape (count,)
        The ratio of piece ``i + 1`` at index ``i`` (1 for a piece of one pixel).

    Examples
    --------
    >>> image = np.zeros((9, 12), int)
    >>> image[1:8, 1:8] = 1  # a square
    >>> image[4, 9:12] = 2  # a line
    >>> axis_ratios(image, 2).round(2)
    array([1., 0.])
    """
    index = np.arange(1, count + 1)
    y, x = np.indices(pieces.shape, dtype=float)
    n = ndimage.sum_labels(np.ones_like(y), pieces, index)
    my, mx = (ndimage.sum_labels(v, pieces, index) / n for v in (y, x))
    cyy = ndimage.sum_labels(y * y, pieces, index) / n - my**2
    cxx = ndimage.sum_labels(x * x, pieces, index) / n - mx**2
    cxy = ndimage.sum_labels(x * y, pieces, index) / n - mx * my
    half_trace = (cxx + cyy) / 2
    root = np.sqrt(np.maximum(((cxx - cyy) / 2) ** 2 + cxy**2, 0.0))
    major, minor = half_trace + root, np.maximum(half_trace - root, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(major > 0, np.sqrt(minor / major), 1.0)


@dataclass(frozen=True)
class AutomaticRule:
    """Per-class thresholds, least piece sizes and piece shapes for automatic mode.

    A pixel gets the class of highest probability among those whose
    probability reaches their own threshold (else 0); then every connected
    piece (8-neighbour) of a class listed in ``min_pixels`` that is smaller
    than its limit is dropped, and so is every piece of a class listed in
    ``max_axis_ratio`` that is rounder than its limit (:func:`axis_ratios`).
    Checkpoints calibrated by ``galseg train automatic`` carry their rule in
    the model card (``automatic``); others use one threshold for every class.

    Attributes
    ----------
    thresholds : dict of str to float
        Threshold per class name; a class not listed uses ``default``.
    default : float
        Threshold of unlisted classes.
    min_pixels : dict of str to int
        Least pixels of a kept piece, per class name (a class not listed
        keeps pieces of any size).
    max_axis_ratio : dict of str to float
        Most minor-to-major axis ratio of a kept piece, per class name (a
        class not listed keeps pieces of any shape).

    Examples
    --------
    >>> rule = AutomaticRule({"bar": 0.8}, min_pixels={"bar": 2})
    >>> p = np.array([[[0.9, 0.9, 0.0, 0.6]], [[0.0, 0.7, 0.6, 0.0]]])  # bar, shell
    >>> rule.labels(p, ("bar", "shell"), np.array([4, 2], np.uint8))
    array([[4, 4, 2, 0]], dtype=uint8)

    A round bar piece is no bar:

    >>> p = np.zeros((1, 9, 9)); p[0, 2:7, 2:7] = 1.0
    >>> AutomaticRule(max_axis_ratio={"bar": 0.5}).labels(p, ("bar",), np.array([4])).any()
    np.False_
    """

    thresholds: Mapping[str, float] = field(default_factory=dict)
    default: float = 0.5
    min_pixels: Mapping[str, int] = field(default_factory=dict)
    max_axis_ratio: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def from_card(cls, card: Mapping[str, Any], default: float) -> AutomaticRule:
        """The rule a model card records, or one threshold ``default`` for all.

        Cards calibrated before least piece sizes were per class record one
        number, which then holds for every class with a threshold.
        """
        entry = card.get("automatic")
        if not entry:
            return cls(default=default)
        thresholds = dict(entry["thresholds"])
        min_pixels = entry.get("min_pixels", {})
        if isinstance(min_pixels, int):
            min_pixels = dict.fromkeys(thresholds, min_pixels)
        return cls(
            thresholds,
            default,
            {name: int(n) for name, n in min_pixels.items()},
            dict(entry.get("max_axis_ratio", {})),
        )

    def labels(
        self, probability: np.ndarray, names: Sequence[str], values: np.ndarray
    ) -> np.ndarray:
        """Label image (y, x) from probabilities (class, y, x) of the classes ``names``."""
        limits = np.array([self.thresholds.get(n, self.default) for n in names], dtype=np.float32)
        passing = np.where(probability >= limits[:, None, None], probability, -1.0)
        best = passing.argmax(axis=0)
        labels = np.where(passing.max(axis=0) >= 0, values[best], 0).astype(np.uint8)
        for name, value in zip(names, values, strict=True):
            least, ratio = self.min_pixels.get(name, 0), self.max_axis_ratio.get(name)
            if least <= 1 and ratio is None:
                continue
            pieces, count = ndimage.label(labels == value, structure=_EIGHT)
            if not count:
                continue
            dropped = np.bincount(pieces.ravel(), minlength=count + 1)[1:] < least
            if ratio is not None:
                dropped |= axis_ratios(pieces, count) > ratio
            labels[np.isin(pieces, np.flatnonzero(dropped) + 1)] = 0
        return labels

    def record(self) -> dict[str, Any]:
        """The rule as a model-card entry."""
        return {
            "thresholds": dict(self.thresholds),
            "min_pixels": dict(self.min_pixels),
            "max_axis_ratio": dict(self.max_axis_ratio),
        }
