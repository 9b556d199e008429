"""Display-only smoothing: faint, extended light made visible above the per-pixel noise.

Experts look at low-surface-brightness features smoothed or binned (DS9's
Smooth; binned views of deep surveys): the noise of one pixel hides light
that an average over a few pixels shows. :func:`smooth_cutout` gives the
cutout to *display*; painting, the cursor read-out and the model keep the
native pixels.

Examples
--------
>>> SMOOTHINGS[:3]
('none', 'gauss 1', 'gauss 2')
>>> data = np.zeros((1, 4, 4), np.float32); data[0, 0, 0] = 4
>>> smooth(data, "2x2")[0].tolist()[:2]
[[1.0, 1.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0]]
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy import ndimage

from .cutout import Cutout

__all__ = ["SMOOTHINGS", "smooth", "smooth_cutout"]

SMOOTHINGS = ("none", "gauss 1", "gauss 2", "gauss 4", "2x2", "4x4")
"""Display smoothings: none, a Gaussian of sigma 1, 2 or 4 pixels, or block
averages of 2x2 or 4x4 pixels shown at native size."""


def smooth(data: np.ndarray, kind: str) -> np.ndarray:
    """Smooth each band of ``data`` (band, y, x) for display.

    Parameters
    ----------
    data : ndarray of float, shape (band, y, x)
        The pixels; NaNs stay NaN where they were.
    kind : str
        One of :data:`SMOOTHINGS`.

    Returns
    -------
    ndarray of float32, same shape
        ``data`` itself for ``"none"``.

    Raises
    ------
    ValueError
        If ``kind`` is unknown.
    """
    if kind not in SMOOTHINGS:
        raise ValueError(f"unknown smoothing {kind!r}; choose from {', '.join(SMOOTHINGS)}")
    if kind == "none":
        return data
    nan = np.isnan(data)
    filled = np.where(nan, 0.0, data).astype(np.float32)
    if kind.startswith("gauss"):
        sigma = float(kind.split()[1])
        out = ndimage.gaussian_filter(filled, sigma=(0, sigma, sigma), mode="nearest")
    else:
        block = int(kind.split("x")[0])
        bands, ny, nx = filled.shape
        py, px = -ny % block, -nx % block
        padded = np.pad(filled, ((0, 0), (0, py), (0, px)), mode="edge")
        means = padded.reshape(bands, -1, block, padded.shape[2] // block, block).mean(axis=(2, 4))
        out = np.repeat(np.repeat(means, block, axis=1), block, axis=2)[:, :ny, :nx]
    out = out.astype(np.float32, copy=False)
    out[nan] = np.nan
    return out


def smooth_cutout(cutout: Cutout, kind: str) -> Cutout:
    """The cutout to display under smoothing ``kind`` (the same one for ``"none"``)."""
    if kind == "none":
        return cutout
    return replace(cutout, data=smooth(cutout.data, kind))
