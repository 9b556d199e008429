"""Contaminants: foreground stars, satellites and background galaxies.

Numbers follow rough high-latitude counts per square degree in the reference
band, integrated over the field: stars ``N(<m) = 3000 · 10^{0.15 (m - 22)}``
for 14 < m < 25, galaxies ``N(<m) = 30000 · 10^{0.35 (m - 24)}`` for
17 < m < 25. Satellites of the host (0–2, 2–5 mag fainter than it) sit within
0.4 of the field of its centre.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ..surveys import Survey
from ._profiles import deposit, rotate, sample, sersic

__all__ = ["Contaminants", "draw_contaminants"]


class _Counts(NamedTuple):
    """Counts ``N(<m) = norm · 10^{slope (m - m_ref)}`` per deg², for bright < m < faint."""

    norm: float
    m_ref: float
    slope: float
    bright: float
    faint: float


_STARS = _Counts(3000.0, 22.0, 0.15, 14.0, 25.0)
_GALAXIES = _Counts(30000.0, 24.0, 0.35, 17.0, 25.0)


@dataclass(frozen=True)
class Contaminants:
    """Unconvolved contaminant light per band, and where the objects are."""

    images: dict[str, np.ndarray]  # band -> pixel values
    stars: np.ndarray  # (n, 2) x, y
    companions: np.ndarray  # (n, 2) x, y: satellites and background galaxies


def _magnitudes(rng: np.random.Generator, counts: _Counts, area: float) -> np.ndarray:
    """Magnitudes of the objects in ``area`` deg², a Poisson draw from ``counts``."""
    low, high = (10 ** (counts.slope * (m - counts.m_ref)) for m in (counts.bright, counts.faint))
    n = rng.poisson(counts.norm * area * (high - low))
    return counts.m_ref + np.log10(rng.uniform(low, high, n)) / counts.slope


def draw_contaminants(
    rng: np.random.Generator,
    survey: Survey,
    size: int,
    host_xy: tuple[float, float],
    host_mag: float,
) -> Contaminants:
    """Draw and render the stars and companion galaxies of one field.

    Parameters
    ----------
    rng : numpy.random.Generator
        Random numbers.
    survey : Survey
        The survey (pixel scale, bands, colours).
    size : int
        Side of the field in pixels.
    host_xy : (float, float)
        Pixel position of the host centre.
    host_mag : float
        Total magnitude of the host in the reference band.
    """
    zero_point = survey.reference.zero_point
    area = (size * survey.pixel_scale / 3600.0) ** 2
    images = {band: np.zeros((size, size)) for band in survey.band_names}

    star_mags = _magnitudes(rng, _STARS, area)
    stars = rng.uniform(-0.5, size - 0.5, (len(star_mags), 2))
    star_colours = rng.uniform(0.2, 1.4, len(star_mags))
    for band, image in images.items():
        ratios = np.array([survey.band_ratio(band, c) for c in star_colours])
        flux = 10 ** (-0.4 * (star_mags - zero_point)) * ratios
        image += deposit(image.shape, stars[:, 0], stars[:, 1], flux)

    galaxy_mags = _magnitudes(rng, _GALAXIES, area)
    galaxies = rng.uniform(-0.5, size - 0.5, (len(galaxy_mags), 2))
    n_satellites = int(rng.choice(3, p=(0.55, 0.3, 0.15)))
    satellite_mags = host_mag + rng.uniform(2.0, 5.0, n_satellites)
    distance = rng.uniform(0.15, 0.4, n_satellites) * size
    bearing = rng.uniform(0.0, 2 * np.pi, n_satellites)
    satellites = np.array(host_xy) + np.column_stack(
        [distance * np.cos(bearing), distance * np.sin(bearing)]
    )
    companions = np.concatenate([galaxies, satellites])
    for (x, y), mag in zip(companions, np.concatenate([galaxy_mags, satellite_mags]), strict=True):
        stamp, window = _galaxy_stamp(rng, survey.pixel_scale, size, x, y, mag)
        stamp *= 10 ** (-0.4 * (mag - zero_point))
        colour = rng.uniform(0.3, 1.1)
        for band, image in images.items():
            image[window] += survey.band_ratio(band, colour) * stamp
    return Contaminants(images, stars, companions)


def _galaxy_stamp(
    rng: np.random.Generator, pixel_scale: float, size: int, x: float, y: float, mag: float
) -> tuple[np.ndarray, tuple[slice, slice]]:
    """A small Sérsic galaxy of unit total light, and the part of the field it covers.

    Its effective radius follows a rough size-magnitude relation,
    ``R_e ≈ 0.8″ · 10^{-0.15 (m - 20)}`` with 0.15 dex scatter. The stamp is
    normalised before it is cut to the field.
    """
    radius = 0.8 * 10 ** (-0.15 * (mag - 20.0) + rng.normal(0.0, 0.15)) / pixel_scale
    index, axis_ratio, pa = rng.uniform(0.6, 2.5), rng.uniform(0.35, 1.0), rng.uniform(0, np.pi)
    half = int(np.clip(np.ceil(8 * radius + 2), 4, size // 4))
    cx, cy = int(round(x)), int(round(y))

    def profile(dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
        u, v = rotate(dx, dy, pa)
        return sersic(np.hypot(u, v / axis_ratio) / radius, index)

    offsets = np.arange(-half, half + 1, dtype=float)
    stamp = sample(profile, offsets + cx - x, offsets + cy - y, oversample=3)
    stamp /= stamp.sum()
    rows = slice(max(cy - half, 0), min(cy + half + 1, size))
    cols = slice(max(cx - half, 0), min(cx + half + 1, size))
    cut = (
        slice(rows.start - (cy - half), rows.stop - (cy - half)),
        slice(cols.start - (cx - half), cols.stop - (cx - half)),
    )
    return stamp[cut], (rows, cols)
