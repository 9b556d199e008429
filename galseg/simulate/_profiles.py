"""Light profiles and pixel sampling.

Coordinates are pixel offsets from a centre, ``x`` to the right (west on a
north-up, east-left image) and ``y`` up (north). A position angle is measured
from north through east, so the unit vector at position angle ``pa`` is
``(-sin pa, cos pa)``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.special import gammaincinv

__all__ = [
    "broken_exponential",
    "deposit",
    "ferrers",
    "moffat",
    "rotate",
    "sample",
    "sersic",
]

Profile = Callable[[np.ndarray, np.ndarray], np.ndarray]


def rotate(x: np.ndarray, y: np.ndarray, pa: float) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates along (``u``) and across (``v``) position angle ``pa`` (radians).

    Examples
    --------
    >>> u, v = rotate(np.array(0.0), np.array(2.0), 0.0)   # due north, pa = 0
    >>> float(u), float(v)
    (2.0, 0.0)
    """
    c, s = np.cos(pa), np.sin(pa)
    return -x * s + y * c, x * c + y * s


def sersic(r: np.ndarray, n: float) -> np.ndarray:
    """Sérsic profile in units of the effective radius, 1 at ``r = 1``.

    Examples
    --------
    >>> round(float(sersic(np.array(0.0), 1.0)), 3)   # exp(b_1), b_1 ≈ 1.678
    5.357
    """
    b = gammaincinv(2.0 * n, 0.5)
    return np.exp(-b * (r ** (1.0 / n) - 1.0))


def broken_exponential(r: np.ndarray, r_break: float, outer: float) -> np.ndarray:
    """Exponential disc with a down-bending break, in units of the scale length.

    ``exp(-r)`` inside ``r_break``; beyond it the scale length is ``outer``
    times shorter-or-equal (``outer <= 1``) and the profile is continuous.

    Examples
    --------
    >>> broken_exponential(np.array([0.0, 3.0, 4.0]), 3.0, 0.5).round(4).tolist()
    [1.0, 0.0498, 0.0067]
    """
    return np.where(r <= r_break, np.exp(-r), np.exp(-r_break - (r - r_break) / outer))


def ferrers(m: np.ndarray, n: float) -> np.ndarray:
    """Ferrers profile ``(1 - m²)^n`` inside ``m < 1``, zero outside.

    Examples
    --------
    >>> ferrers(np.array([0.0, 0.5, 1.2]), 1.0).tolist()
    [1.0, 0.75, 0.0]
    """
    return np.clip(1.0 - m * m, 0.0, None) ** n


def moffat(r: np.ndarray, fwhm: float, beta: float) -> np.ndarray:
    """Moffat profile with the given FWHM, 1 at the centre.

    Examples
    --------
    >>> round(float(moffat(np.array(1.5), 3.0, 2.5)), 12)   # half maximum at FWHM / 2
    0.5
    """
    alpha = fwhm / (2.0 * np.sqrt(2.0 ** (1.0 / beta) - 1.0))
    return (1.0 + (r / alpha) ** 2) ** (-beta)


def sample(profile: Profile, xs: np.ndarray, ys: np.ndarray, oversample: int = 1) -> np.ndarray:
    """Average a profile over the pixels of a grid.

    Parameters
    ----------
    profile : callable
        ``profile(x, y)`` of broadcastable arrays of offsets.
    xs, ys : ndarray
        Offsets of the pixel centres along x (columns) and y (rows).
    oversample : int
        Sub-pixels per pixel side: each pixel is the mean of ``oversample²``
        evaluations (1: the value at the pixel centre).

    Returns
    -------
    ndarray, shape (len(ys), len(xs))

    Examples
    --------
    >>> axis = np.arange(-1.0, 2.0)
    >>> sample(lambda x, y: x + 0 * y, axis, axis, oversample=4)[0].tolist()
    [-1.0, 0.0, 1.0]
    """
    sub = (np.arange(oversample) + 0.5) / oversample - 0.5
    fine_x = (np.asarray(xs, dtype=float)[:, None] + sub).ravel()
    fine_y = (np.asarray(ys, dtype=float)[:, None] + sub).ravel()
    fine = profile(fine_x[None, :], fine_y[:, None])
    return fine.reshape(len(ys), oversample, len(xs), oversample).mean(axis=(1, 3))


def deposit(
    shape: tuple[int, int], x: np.ndarray, y: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """Spread point weights onto a pixel grid by bilinear interpolation.

    Points outside the grid are dropped (their share beyond the edge is lost).

    Examples
    --------
    >>> deposit((2, 2), np.array([0.5]), np.array([0.0]), np.array([1.0])).tolist()
    [[0.5, 0.5], [0.0, 0.0]]
    """
    ny, nx = shape
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = x - x0, y - y0
    out = np.zeros(ny * nx)
    for dx, dy, w in (
        (0, 0, (1 - fx) * (1 - fy)),
        (1, 0, fx * (1 - fy)),
        (0, 1, (1 - fx) * fy),
        (1, 1, fx * fy),
    ):
        xi, yi = x0 + dx, y0 + dy
        inside = (xi >= 0) & (xi < nx) & (yi >= 0) & (yi < ny)
        out += np.bincount((yi * nx + xi)[inside], weights=(w * weights)[inside], minlength=ny * nx)
    return out.reshape(shape)
