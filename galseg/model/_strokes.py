"""A simulated expert's brush strokes, for training and benchmarks.

Strokes follow interactive-segmentation practice (RITM, SAM). An expert
paints in one of three styles (:data:`STROKE_STYLES`):

- ``"line"``: a brush line along the middle of the feature (along its
  skeleton, :func:`skimage.morphology.skeletonize`), over 20-60 % of it;
- ``"dabs"``: short dabs, a few pixels along the skeleton;
- ``"clicks"``: single clicks, one brush disc each.

The first stroke lies on the feature (at a random place); negative strokes lie
outside it; each further stroke goes into the largest error of the current
prediction — positive where it misses the feature, negative where it spills —
starting from the error's most interior pixel (the maximum of its distance
transform). Every stroke stays inside the region it is drawn in. Pure
numpy/scipy/scikit-image; each function takes a
:class:`numpy.random.Generator`.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.morphology import disk, skeletonize

__all__ = ["BRUSH", "STROKE_STYLES", "negative_stroke", "next_stroke", "scribble", "stroke"]

BRUSH = 2
"""Default brush radius in pixels (a stroke 5 pixels wide)."""

STROKE_STYLES = ("line", "dabs", "clicks")
"""How a simulated expert paints (see the module notes)."""

DAB_REACH = (2, 6)
"""Range of a dab's half-length along the skeleton, in pixels."""

_EIGHT = np.ones((3, 3), dtype=bool)


def scribble(
    region: np.ndarray,
    rng: np.random.Generator,
    *,
    brush: int = BRUSH,
    length: tuple[float, float] = (0.2, 0.6),
    start: tuple[int, int] | None = None,
    reach: tuple[int, int] | None = None,
) -> np.ndarray:
    """A stroke along the skeleton of a region, inside the region.

    The stroke is the set of skeleton pixels within a geodesic distance ``r``
    (along the skeleton) of a start pixel, drawn with a round brush and
    clipped to the region. ``r`` is half a random fraction (drawn in
    ``length``) of the skeleton's length in the start pixel's connected piece,
    so the stroke covers that fraction of the piece; or, with ``reach``, a
    number of pixels drawn in that range (a dab).

    Parameters
    ----------
    region : ndarray of bool, shape (y, x)
        Where to draw (e.g. a truth mask of one class).
    rng : numpy.random.Generator
        Random numbers.
    brush : int
        Brush radius in pixels.
    length : tuple of float
        Range of the fraction of the skeleton piece covered.
    start : tuple of int, optional
        ``(y, x)``: start at the skeleton pixel nearest to it; by default at a
        random skeleton pixel (so larger pieces are likelier).
    reach : tuple of int, optional
        Range of ``r`` in pixels, instead of a fraction of the piece.

    Returns
    -------
    ndarray of bool, shape (y, x)
        The stroke; empty if the region is.

    Examples
    --------
    >>> import numpy as np
    >>> band = np.zeros((32, 32), bool); band[14:19, 2:30] = True
    >>> stroke = scribble(band, np.random.default_rng(0))
    >>> bool(stroke.any()), bool((stroke <= band).all())
    (True, True)
    """
    region = np.asarray(region, dtype=bool)
    if not region.any():
        return np.zeros(region.shape, dtype=bool)
    skeleton = skeletonize(region)
    ys, xs = np.nonzero(skeleton)
    if start is None:
        pick = rng.integers(len(ys))
    else:
        pick = int(np.argmin((ys - start[0]) ** 2 + (xs - start[1]) ** 2))
    seed = np.zeros(region.shape, dtype=bool)
    seed[ys[pick], xs[pick]] = True
    if reach is None:
        pieces, _ = ndimage.label(skeleton, structure=_EIGHT)
        piece_length = int((pieces == pieces[ys[pick], xs[pick]]).sum())
        steps = max(1, round(rng.uniform(*length) * piece_length / 2))
    else:
        steps = int(rng.integers(reach[0], reach[1] + 1))
    path = seed  # binary_dilation would take 0 iterations to mean "until nothing changes"
    if steps > 0:
        path = ndimage.binary_dilation(seed, structure=_EIGHT, iterations=steps, mask=skeleton)
    return ndimage.binary_dilation(path, structure=disk(brush)) & region


def stroke(
    region: np.ndarray,
    rng: np.random.Generator,
    style: str = "line",
    *,
    brush: int = BRUSH,
    start: tuple[int, int] | None = None,
) -> np.ndarray:
    """A stroke in one of the :data:`STROKE_STYLES`, inside ``region``.

    Parameters
    ----------
    region : ndarray of bool, shape (y, x)
        Where to draw.
    rng : numpy.random.Generator
        Random numbers.
    style : str
        ``"line"`` (:func:`scribble` over 20-60 % of the piece), ``"dabs"``
        (:func:`scribble` over :data:`DAB_REACH` pixels each way) or
        ``"clicks"`` (one brush disc on the region's skeleton).
    brush : int
        Brush radius in pixels.
    start : tuple of int, optional
        ``(y, x)`` near which to draw (default: a random skeleton pixel).

    Returns
    -------
    ndarray of bool, shape (y, x)
        The stroke; empty if the region is.

    Raises
    ------
    ValueError
        For an unknown style.

    Examples
    --------
    >>> import numpy as np
    >>> band = np.zeros((32, 128), bool); band[14:19, 2:126] = True
    >>> sizes = [int(stroke(band, np.random.default_rng(0), s).sum()) for s in STROKE_STYLES]
    >>> sizes[0] > sizes[1] > sizes[2] > 0
    True
    """
    if style == "line":
        return scribble(region, rng, brush=brush, start=start)
    if style == "dabs":
        return scribble(region, rng, brush=brush, start=start, reach=DAB_REACH)
    if style == "clicks":
        return scribble(region, rng, brush=brush, start=start, reach=(0, 0))
    raise ValueError(f"unknown stroke style {style!r}; styles are {', '.join(STROKE_STYLES)}")


def negative_stroke(
    target: np.ndarray,
    rng: np.random.Generator,
    *,
    other: np.ndarray | None = None,
    brush: int = BRUSH,
    margin: int | None = None,
) -> np.ndarray:
    """A stroke outside the target: on another feature if given, else on empty sky.

    Parameters
    ----------
    target : ndarray of bool, shape (y, x)
        The feature being completed.
    rng : numpy.random.Generator
        Random numbers.
    other : ndarray of bool, optional
        Other labelled pixels (e.g. other classes' masks): the stroke goes
        there when they lie outside the target, as an expert's stroke of
        another class would.
    brush : int
        Brush radius in pixels.
    margin : int, optional
        Least distance in pixels between the stroke and the target (default
        twice the brush).

    Returns
    -------
    ndarray of bool, shape (y, x)
        The stroke, at least ``margin`` pixels from the target; empty if there
        is no room.

    Examples
    --------
    >>> import numpy as np
    >>> target = np.zeros((40, 40), bool); target[10:20, 10:20] = True
    >>> stroke = negative_stroke(target, np.random.default_rng(1))
    >>> bool(stroke.any()), bool((stroke & target).any())
    (True, False)
    """
    target = np.asarray(target, dtype=bool)
    margin = 2 * brush if margin is None else margin
    away = ndimage.distance_transform_edt(~target) > margin if target.any() else ~target
    region = away
    if other is not None and (np.asarray(other, dtype=bool) & away).any():
        region = np.asarray(other, dtype=bool) & away
    return scribble(region, rng, brush=brush, length=(0.05, 0.2))


def next_stroke(
    target: np.ndarray,
    prediction: np.ndarray,
    rng: np.random.Generator,
    *,
    brush: int = BRUSH,
    style: str = "line",
) -> tuple[np.ndarray, bool]:
    """The stroke an expert makes next: into the largest error of a prediction.

    The errors are the connected pieces of the missed pixels (target, not
    predicted) and of the spilled ones (predicted, not target); the largest
    piece gets a :func:`stroke` of ``style`` starting at its most interior
    pixel (the maximum of its distance transform).

    Parameters
    ----------
    target : ndarray of bool, shape (y, x)
        The true mask.
    prediction : ndarray of bool, shape (y, x)
        The current completion.
    rng : numpy.random.Generator
        Random numbers.
    brush : int
        Brush radius in pixels.
    style : str
        One of :data:`STROKE_STYLES`.

    Returns
    -------
    stroke : ndarray of bool, shape (y, x)
        Inside the chosen error piece; empty if the prediction is exact.
    positive : bool
        True for a stroke on missed pixels (paint), False on spilled ones
        (erase).

    Examples
    --------
    >>> import numpy as np
    >>> target = np.zeros((30, 30), bool); target[5:25, 5:15] = True
    >>> prediction = np.zeros((30, 30), bool); prediction[5:25, 5:10] = True
    >>> stroke, positive = next_stroke(target, prediction, np.random.default_rng(0))
    >>> positive, bool((stroke <= (target & ~prediction)).all())
    (True, True)
    """
    target = np.asarray(target, dtype=bool)
    prediction = np.asarray(prediction, dtype=bool)
    best, best_area, positive = None, 0, True
    for errors, is_missed in ((target & ~prediction, True), (prediction & ~target, False)):
        pieces, count = ndimage.label(errors, structure=_EIGHT)
        if count == 0:
            continue
        areas = np.bincount(pieces.ravel())[1:]
        if areas.max() > best_area:
            best, best_area, positive = pieces == (areas.argmax() + 1), int(areas.max()), is_missed
    if best is None:
        return np.zeros(target.shape, dtype=bool), True
    inside = ndimage.distance_transform_edt(best)
    centre = np.unravel_index(int(np.argmax(inside)), inside.shape)
    start = (int(centre[0]), int(centre[1]))
    return stroke(best, rng, style, brush=brush, start=start), positive
