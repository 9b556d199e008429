"""What sky subtraction and coaddition leave on a cutout's sky.

Real survey cutouts are not white noise around zero. Three effects matter at
the surface brightness of tidal features, and none of them is a feature:

- **a smooth residual** of the sky fit: a low-order surface, here a sum of
  Legendre polynomials of degree up to 2 in ``x`` and ``y`` (a tilt and a
  bowl), as left by over- or under-subtraction and scattered light;
- **large-scale fluctuations** such as Galactic cirrus and flat-field
  residuals: a Gaussian random field with power spectrum ``P(k) ∝ k^-γ``,
  2.3 ≤ γ ≤ 3.2 (cirrus is near 2.8), with no power on scales beyond the
  cutout;
- **correlated noise** from resampling exposures onto the coadd grid:
  bilinear interpolation at a fractional offset ``(f_x, f_y)`` mixes each
  pixel with its neighbours by the weights ``(1 - f, f)`` along each axis,
  which lowers the per-pixel noise and raises it on larger scales. The noise
  is rescaled so that its per-pixel σ stays the survey's.

Amplitudes are drawn per cutout, log-uniformly, in units of the per-pixel
noise σ of each band: from far below anything visible to several σ of the
noise smoothed as an expert smooths it (see the truth rule in
:mod:`galseg.simulate`).
"""

from __future__ import annotations

import numpy as np
from numpy.polynomial import legendre
from scipy.ndimage import correlate1d

__all__ = ["CIRRUS_RMS", "SMOOTH_PEAK_TO_PEAK", "correlate_noise", "sky_residual"]

#: Range of the smooth residual's peak-to-peak amplitude, in per-pixel noise σ.
SMOOTH_PEAK_TO_PEAK = (0.05, 3.0)
#: Range of the large-scale fluctuations' r.m.s., in per-pixel noise σ.
CIRRUS_RMS = (0.02, 0.6)


def sky_residual(rng: np.random.Generator, sigma: np.ndarray, size: int) -> np.ndarray:
    """A smooth residual plus large-scale fluctuations, per band.

    Parameters
    ----------
    rng : numpy.random.Generator
        The random stream.
    sigma : ndarray of float, shape (band,)
        Per-pixel noise σ of each band.
    size : int
        Side of the square cutout.

    Returns
    -------
    ndarray of float32, shape (band, size, size)

    Examples
    --------
    >>> sigma = np.array([1.0, 2.0])
    >>> residual = sky_residual(np.random.default_rng(1), sigma, 64)
    >>> residual.shape, residual.dtype.name
    ((2, 64, 64), 'float32')
    """
    smooth = _legendre_surface(rng, size)
    smooth *= np.exp(rng.uniform(*np.log(SMOOTH_PEAK_TO_PEAK))) / np.ptp(smooth)
    cirrus = _power_law_field(rng, size, rng.uniform(2.3, 3.2))
    cirrus *= np.exp(rng.uniform(*np.log(CIRRUS_RMS))) / cirrus.std()
    # Scattered light is nearly grey; cirrus has its own colour.
    grey = rng.uniform(0.8, 1.2, len(sigma))
    tint = rng.uniform(0.5, 1.5, len(sigma))
    residual = sigma[:, None, None] * (grey[:, None, None] * smooth + tint[:, None, None] * cirrus)
    return residual.astype(np.float32)


def correlate_noise(rng: np.random.Generator, noise: np.ndarray) -> np.ndarray:
    """White noise as bilinear resampling leaves it, at its old per-pixel σ.

    Parameters
    ----------
    rng : numpy.random.Generator
        Draws the fractional offsets ``f_x`` and ``f_y``, uniform in [0, 1).
    noise : ndarray of float, shape (band, y, x)
        Unit-variance white noise.

    Returns
    -------
    ndarray of float32, same shape
        Noise of unit variance whose neighbours are correlated.

    Examples
    --------
    At ``f_x = 0.51`` neighbours along x share half their light, a correlation
    of ``f (1 - f) / ((1 - f)² + f²)``, about 0.5:

    >>> white = np.random.default_rng(0).standard_normal((1, 300, 300))
    >>> mixed = correlate_noise(np.random.default_rng(1), white)
    >>> round(float(mixed.std()), 2)
    1.0
    >>> round(float(np.corrcoef(mixed[0, :, 1:].ravel(), mixed[0, :, :-1].ravel())[0, 1]), 1)
    0.5
    """
    out = np.asarray(noise, dtype=np.float64)
    for axis, f in ((-1, rng.uniform()), (-2, rng.uniform())):
        weights = np.array([1.0 - f, f])
        out = correlate1d(out, weights, axis=axis, mode="wrap") / np.hypot(*weights)
    return out.astype(np.float32)


def _legendre_surface(rng: np.random.Generator, size: int) -> np.ndarray:
    """A random sum of Legendre polynomials of total degree 1 to 2 over [-1, 1]²."""
    axis = np.linspace(-1.0, 1.0, size)
    coefficients = rng.normal(size=(3, 3)) * np.array([[0, 1, 1], [1, 1, 0], [1, 0, 0]])
    surface = legendre.leggrid2d(axis, axis, coefficients)
    return surface if np.ptp(surface) > 0 else np.add.outer(axis, 0 * axis)


def _power_law_field(rng: np.random.Generator, size: int, slope: float) -> np.ndarray:
    """A zero-mean Gaussian random field with power spectrum ``k**-slope``."""
    k = np.hypot(*np.meshgrid(np.fft.fftfreq(size), np.fft.rfftfreq(size), indexing="ij"))
    amplitude = np.zeros_like(k)
    beyond_cutout = k < 1.0 / size
    amplitude[~beyond_cutout] = k[~beyond_cutout] ** (-slope / 2)
    spectrum = amplitude * (rng.normal(size=k.shape) + 1j * rng.normal(size=k.shape))
    return np.fft.irfft2(spectrum, s=(size, size))
