"""The methods galseg is compared with: scikit-image's random walker on the same strokes.

(The other baseline, the strokes alone, is
:func:`galseg.model._evaluate.strokes_alone`.)
"""

from __future__ import annotations

import warnings

import numpy as np

from ...cutout import Cutout
from ...stretch import normalize
from .._evaluate import Completer

__all__ = ["WALKER_BETA", "random_walker_completer", "walker_image"]

WALKER_BETA = 2000.0
"""``beta`` of the random walker, tuned lightly on 12 training-range cutouts
(3 per class, seeds 900 000 on, the walker's own errors placing the strokes):
mean IoU after 3 strokes 0.36, 0.44, 0.51 and 0.47 for ``beta`` 130
(scikit-image's default), 500, 2000 and 5000; 30 and 20 000 did no better."""


def random_walker_completer(image: np.ndarray, *, beta: float = WALKER_BETA) -> Completer:
    """Complete with :func:`skimage.segmentation.random_walker` on a 2-D image.

    Seeds: label 1 on the positive strokes, label 2 on the negative strokes
    and on the image's one-pixel border (a walker needs a background seed from
    stroke 1 on; a positive stroke overrides the border). It is solved
    directly (``mode="bf"``): on 256x256 cutouts with so few seeds the
    conjugate-gradient modes took 25-30 times longer for the same masks.

    Examples
    --------
    >>> image = np.zeros((20, 20)); image[5:15, 5:15] = 1.0
    >>> positive = np.zeros((20, 20), bool); positive[9:11, 9:11] = True
    >>> mask = random_walker_completer(image)(positive, np.zeros_like(positive))
    >>> int(mask.sum())
    100
    """
    from skimage.segmentation import random_walker

    border = np.ones(image.shape, dtype=bool)
    border[1:-1, 1:-1] = False

    def complete(positive: np.ndarray, negative: np.ndarray) -> np.ndarray:
        labels = np.where(border | negative, 2, 0).astype(np.int32)
        labels[positive] = 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # isolated pixels, probability range
            return random_walker(image, labels, beta=beta, mode="bf") == 1

    return complete


def walker_image(cutout: Cutout, stretch: str) -> np.ndarray:
    """The random walker's image: the stretched bands' mean (what the model sees).

    Examples
    --------
    >>> from galseg import Cutout
    >>> cutout = Cutout.from_array(np.ones((3, 8, 8), np.float32), ("g", "r", "z"))
    >>> walker_image(cutout, "linear").shape
    (8, 8)
    """
    return normalize(cutout, stretch).mean(axis=0)
