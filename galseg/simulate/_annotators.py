"""Simulated annotators with known habits, to test what measures annotators."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..taxonomy import DEFAULT_TAXONOMY, Taxonomy

__all__ = ["SimulatedAnnotator"]


@dataclass(frozen=True)
class SimulatedAnnotator:
    """An annotator who paints the truth with fixed habits.

    Attributes
    ----------
    name : str
        Their annotator name in a store.
    widen : int
        Pixels painted beyond each feature's edge (into unlabelled pixels).
    keep : float
        Fraction of each feature painted: each connected part of a class is
        cut across its longest axis and only the part before the cut painted.
    only : tuple of str, optional
        The classes the habits apply to (the others are painted as the truth
        is); all classes if None.

    Examples
    --------
    >>> import numpy as np
    >>> truth = np.zeros((5, 12), np.uint8); truth[2, 2:10] = 1
    >>> SimulatedAnnotator("half", keep=0.5).paint(truth)[2].tolist()
    [0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    >>> int(SimulatedAnnotator("wide", widen=1).paint(truth).sum())
    26
    """

    name: str
    widen: int = 0
    keep: float = 1.0
    only: tuple[str, ...] | None = None

    def paint(self, truth: np.ndarray, taxonomy: Taxonomy = DEFAULT_TAXONOMY) -> np.ndarray:
        """Their mask of a cutout whose truth is ``truth`` (uint8 labels)."""
        truth = np.asarray(truth, dtype=np.uint8)
        painted = truth.copy()
        for feature in taxonomy.feature_classes:
            if self.only is not None and feature.name not in self.only:
                continue
            region = truth == feature.value
            if not region.any():
                continue
            if self.keep < 1.0:
                kept = _keep_part(region, self.keep)
                painted[region & ~kept] = 0
                region = kept
            if self.widen > 0:
                near = ndimage.distance_transform_edt(~region) <= self.widen
                painted[near & (painted == 0)] = feature.value
        return painted


def _keep_part(region: np.ndarray, fraction: float) -> np.ndarray:
    """Each connected part of ``region`` up to ``fraction`` of its length along its longest axis."""
    parts, n = ndimage.label(region, structure=np.ones((3, 3)))
    kept = np.zeros_like(region)
    for index in range(1, n + 1):
        ys, xs = np.nonzero(parts == index)
        points = np.stack([ys, xs], axis=1).astype(float)
        centred = points - points.mean(axis=0)
        if len(points) > 1:
            axis = np.linalg.svd(centred, full_matrices=False)[2][0]
            along = centred @ axis
        else:
            along = np.zeros(1)
        order = np.argsort(along, kind="stable")
        chosen = order[: int(round(fraction * len(order)))]
        kept[ys[chosen], xs[chosen]] = True
    return kept
