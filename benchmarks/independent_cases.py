"""An independent family of cases for judging stroke completion.

galseg's completion model is trained on :mod:`galseg.simulate`. A model judged
only on the simulator it learnt from is judged on its own terms, so this module
makes a second family of cases that no training run draws from and that is
different on purpose. It imports neither :mod:`galseg.simulate` nor
:mod:`galseg.model`: hosts, features, PSF, noise and truth are written here.

What differs from the simulator
-------------------------------
- **Features.** Streams are rosette loops, forks, or arcs whose width and
  brightness change along their length; shells come two to four at a time,
  nested, partial, interleaved on both sides of an off-centre system; tails
  are broad fan-shaped plumes, narrow curved tails, or **bridges** between the
  host and a companion galaxy (all three are ``tidal_tail``); bars are boxy,
  flat-topped and sit inside a ring or a lens, which is disc light and no part
  of the bar's mask. A cutout holds the target feature and often other
  features (distractors).
- **Hosts.** De Vaucouleurs spheroids, exponential discs with a de Vaucouleurs
  bulge, sometimes a companion galaxy.
- **PSF.** A Moffat core with a power-law aureole, per band, with seeing drawn
  per cutout. Bright stars carry the aureole over the whole cutout.
- **Sky.** Correlated noise (white noise convolved with a small Gaussian and
  rescaled to the per-pixel depth), a sky gradient, and real images:

  * ``skimage/data/hubble_deep_field.jpg`` (shipped inside scikit-image, read
    from its path, so nothing is fetched): a random crop, rescaled, rotated,
    linearised (the JPEG's gamma of 2.2 undone, its sky floor subtracted), its
    blue, green and red channels taken as g, r and z, blurred by the cutout's
    PSF and pasted as real background galaxies, stars and faint sky texture;
  * ``astropy/io/fits/tests/data/comp.fits`` (astropy's test data, an image of
    the NGC 1316 field): the galaxy is removed with a 15-pixel median filter
    and isolated compact sources are cut out as stamps, which are enlarged,
    given stellar colours and pasted as contaminants.

The module is imported by its file path
(``importlib.util.spec_from_file_location``); it needs no package around it.
Run as a script, it times the family's generation::

    .venv/bin/python benchmarks/independent_cases.py --n 12

Depth and units
---------------
Legacy-Surveys-like: bands g, r, z; 0.262 arcsec per pixel; AB zero point 22.5
(a pixel value is ``10**(-0.4 * (sb - 22.5)) * 0.262**2`` for a surface
brightness ``sb`` in mag/arcsec²); per-pixel 1σ sky noise of 26.6, 26.2 and
25.0 mag/arcsec² in g, r and z. Feature peaks are drawn between 24.5 and 27.5
mag/arcsec² in r, from barely to clearly visible.

The visible truth
-----------------
Galseg's rule, written here for this family, on noiseless PSF-blurred light in
r. A pixel belongs to a tidal feature where the feature's light, smoothed by a
Gaussian of σ = 1 arcsec, reaches 3σ of the background smoothed alike (the
robust σ of the correlated noise plus the pasted deep field, measured on the
cutout's own fields), where the feature's light is at least 10% of the light of
all galaxies there (bulge, disc, ring or lens and bar), and where it is above
28.25 mag/arcsec². A bar pixel passes the same visibility test and has at least
half the disc's light (ring or lens included). Where features overlap, the
later-drawn one keeps the pixel. A case is redrawn until its target has at
least 50 pixels.

Examples
--------
>>> cases = independent_cases(1, seed=3, size=128)
>>> [case.kind for case in cases] == list(FAMILY_KINDS)
True
>>> case = cases[0]
>>> case.cutout.shape, case.target.dtype, bool((case.target & case.other).any())
((3, 128, 128), dtype('bool'), False)
"""

import argparse
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
import time

import astropy
from astropy.io import fits
from astropy.wcs import WCS
import numpy as np
from scipy import fft
from scipy.ndimage import distance_transform_edt, gaussian_filter, median_filter, zoom
import skimage
from skimage.feature import peak_local_max
from skimage.io import imread
from skimage.transform import rescale

from galseg import Cutout

__all__ = [
    "BANDS",
    "FAMILY_KINDS",
    "IndependentCase",
    "featureless_cutouts",
    "flux",
    "independent_cases",
]

#: The classes this family has cases of, in the order :func:`independent_cases` returns them.
FAMILY_KINDS = ("tidal_stream", "shell", "tidal_tail", "bar")
#: Band names of every cutout.
BANDS = ("g", "r", "z")
PIXEL_SCALE = 0.262
ZERO_POINT = 22.5
#: Per-pixel 1σ sky noise, mag/arcsec², per band.
NOISE_SB = {"g": 26.6, "r": 26.2, "z": 25.0}
#: Range of a feature's peak surface brightness in r, mag/arcsec².
FEATURE_PEAK_SB = (24.5, 27.5)
#: Surface brightness (r, mag/arcsec²) below which no light is truth.
DEEP_LIMIT_SB = 28.25
#: Gaussian σ of the smoothing under which light is judged, arcsec.
VISIBLE_SMOOTHING = 1.0
#: Smoothed light is visible from this many σ of the smoothed background.
VISIBLE_NSIGMA = 3.0
#: A tidal feature shows where it is at least this fraction of the galaxies' light.
HOST_CONTRAST = 0.1
#: A bar pixel has at least this fraction of the disc's light.
BAR_SHARE = 0.5
#: A case is redrawn until its target has this many pixels.
MIN_TARGET_PIXELS = 50
#: Draws of a case before giving up.
MAX_ATTEMPTS = 100

_REFERENCE = BANDS.index("r")
_DEEP_FIELD = Path(skimage.data.__file__).parent / "hubble_deep_field.jpg"
_STAR_FIELD = Path(astropy.__file__).parent / "io" / "fits" / "tests" / "data" / "comp.fits"


@dataclass(frozen=True, eq=False)
class IndependentCase:
    """One cutout of the independent family, with the truth of one feature.

    Attributes
    ----------
    name : str
        Short description of the target and the distractors.
    kind : str
        galseg class of the target: one of :data:`FAMILY_KINDS`.
    cutout : galseg.Cutout
        The g, r, z image.
    target : ndarray of bool, shape (y, x)
        The visible truth of the target feature.
    other : ndarray of bool, shape (y, x)
        The visible truth of every other feature in the cutout; disjoint from
        ``target``.
    observed : ndarray of bool, shape (y, x)
        The same rule applied to the target's light as observed, the cutout's
        own sky noise included: where it differs from ``target``, the noise
        decides what an eye could call visible.
    """

    name: str
    kind: str
    cutout: Cutout
    target: np.ndarray
    other: np.ndarray
    observed: np.ndarray


def flux(sb: float | np.ndarray) -> float | np.ndarray:
    """Pixel value of a surface brightness (mag/arcsec²) at this family's zero point and scale.

    Examples
    --------
    >>> round(float(flux(22.5)), 4)  # 0.262² arcsec² at the zero point
    0.0686
    """
    return 10 ** (-0.4 * (np.asarray(sb) - ZERO_POINT)) * PIXEL_SCALE**2


def independent_cases(n: int, *, seed: int = 0, size: int = 256) -> list[IndependentCase]:
    """``n`` cases per kind, in :data:`FAMILY_KINDS` order; deterministic in ``seed``.

    Case ``i`` of a kind depends only on ``seed``, the kind and ``i``, so a
    larger ``n`` extends a smaller one.

    Parameters
    ----------
    n : int
        Cases per kind.
    seed : int
        Seed of the whole family.
    size : int
        Side of each square cutout, pixels (at least 96).

    Returns
    -------
    list of IndependentCase
        ``4 * n`` cases.

    Examples
    --------
    >>> cases = independent_cases(1, seed=0, size=128)
    >>> [c.kind for c in cases]
    ['tidal_stream', 'shell', 'tidal_tail', 'bar']
    >>> all(c.target.sum() >= MIN_TARGET_PIXELS for c in cases)
    True
    """
    _check_size(size)
    return [
        _draw_case(np.random.default_rng([seed, k, i]), kind, size)
        for k, kind in enumerate(FAMILY_KINDS)
        for i in range(n)
    ]


def featureless_cutouts(n: int, *, seed: int = 0, size: int = 256) -> list[Cutout]:
    """Hosts with the family's sky, stars and contaminants but no tidal feature and no bar.

    For the false-positive rate of automatic mode. Hosts may have a companion,
    a ring or a lens.

    Examples
    --------
    >>> [c.shape for c in featureless_cutouts(2, size=96)]
    [(3, 96, 96), (3, 96, 96)]
    """
    _check_size(size)
    tag = len(FAMILY_KINDS)
    return [_draw_scene(np.random.default_rng([seed, tag, i]), None, size).cutout for i in range(n)]


def _check_size(size: int) -> None:
    if size < 96:
        raise ValueError(f"size must be at least 96 pixels, got {size}")


# --- colours -----------------------------------------------------------------


def _colour(g_r: float, r_z: float) -> np.ndarray:
    """Pixel-value ratio of each band to r, for colours g - r and r - z (mag)."""
    return np.array([10 ** (-0.4 * g_r), 1.0, 10 ** (0.4 * r_z)])


def _feature_colour(rng: np.random.Generator) -> np.ndarray:
    return _colour(rng.uniform(0.45, 0.85), rng.uniform(0.25, 0.55))


# --- geometry ----------------------------------------------------------------


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    y, x = np.mgrid[0:size, 0:size].astype(float)
    return x, y


def _rotated(x: np.ndarray, y: np.ndarray, x0: float, y0: float, pa: float):
    """Coordinates along and across an axis at angle ``pa`` through (x0, y0)."""
    dx, dy = x - x0, y - y0
    c, s = np.cos(pa), np.sin(pa)
    return dx * c + dy * s, -dx * s + dy * c


def _smoothstep(z: np.ndarray) -> np.ndarray:
    z = np.clip(z, 0.0, 1.0)
    return z * z * (3 - 2 * z)


def _wrap(angle: np.ndarray) -> np.ndarray:
    return (angle + np.pi) % (2 * np.pi) - np.pi


def _resample(points: np.ndarray, step: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Points spaced ``step`` pixels along a polyline, and their fraction of its length."""
    seg = np.hypot(*np.diff(points, axis=0).T)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    t = np.linspace(0.0, s[-1], max(int(s[-1] / step), 2))
    xy = np.column_stack([np.interp(t, s, points[:, 0]), np.interp(t, s, points[:, 1])])
    return xy, t / s[-1]


def _ridge(xy: np.ndarray, width: np.ndarray, amplitude: np.ndarray, size: int) -> np.ndarray:
    """Light of a ridge along points ``xy``: a Gaussian across it of the nearest point's width.

    Points outside the image still light the pixels near them.
    """
    margin = int(np.ceil(4 * width.max())) + 2
    n = size + 2 * margin
    index = np.full((n, n), -1)
    ij = np.round(xy).astype(int) + margin
    inside = (ij >= 0).all(axis=1) & (ij < n).all(axis=1)
    index[ij[inside, 1], ij[inside, 0]] = np.flatnonzero(inside)
    if not inside.any():
        return np.zeros((size, size))
    dist, (iy, ix) = distance_transform_edt(index < 0, return_indices=True)
    nearest = index[iy, ix]
    light = amplitude[nearest] * np.exp(-0.5 * (dist / width[nearest]) ** 2)
    return light[margin:-margin, margin:-margin]


# --- the PSF -----------------------------------------------------------------


def _psf(r: np.ndarray, fwhm: float, beta: float, aureole: float, scale: float) -> np.ndarray:
    """PSF per pixel at radius ``r``: a Moffat core plus a power-law aureole.

    The aureole falls as r⁻³ beyond ``scale`` pixels and holds the fraction
    ``aureole`` of the light; both parts integrate to one over the plane.
    """
    alpha = fwhm / (2 * np.sqrt(2 ** (1 / beta) - 1))
    core = (beta - 1) / (np.pi * alpha**2) * (1 + (r / alpha) ** 2) ** -beta
    wing = 1 / (2 * np.pi * scale**2) * (1 + (r / scale) ** 2) ** -1.5
    return (1 - aureole) * core + aureole * wing


@dataclass(frozen=True)
class _Seeing:
    """The PSF of one cutout in every band."""

    fwhm: np.ndarray  # pixels, per band
    beta: float
    aureole: float
    scale: float

    @classmethod
    def draw(cls, rng: np.random.Generator) -> "_Seeing":
        r_fwhm = rng.uniform(1.0, 1.6) / PIXEL_SCALE
        return cls(
            fwhm=r_fwhm * np.array([1.08, 1.0, 0.94]),
            beta=rng.uniform(2.5, 4.0),
            aureole=rng.uniform(0.03, 0.08),
            scale=rng.uniform(4.0, 8.0),
        )

    def profile(self, band: int, r: np.ndarray) -> np.ndarray:
        return _psf(r, self.fwhm[band], self.beta, self.aureole, self.scale)


class _Blur:
    """Convolution of an r-band image with the PSF of each band, by FFT.

    The kernels are cut at ``radius`` pixels and normalised there.
    """

    def __init__(self, seeing: _Seeing, size: int, radius: int = 40) -> None:
        self.size, self.radius = size, radius
        self.shape = (fft.next_fast_len(size + 2 * radius),) * 2
        y, x = np.mgrid[-radius : radius + 1, -radius : radius + 1]
        r = np.hypot(x, y)
        kernels = [seeing.profile(b, r) for b in range(len(BANDS))]
        self._ft = [fft.rfft2(k / k.sum(), self.shape) for k in kernels]

    def __call__(self, image: np.ndarray, colour: np.ndarray) -> np.ndarray:
        """The image blurred in each band and scaled by ``colour``: shape (band, y, x)."""
        ft = fft.rfft2(image, self.shape)
        planes = [c * self._inverse(ft * k) for c, k in zip(colour, self._ft, strict=True)]
        return np.stack(planes)

    def bands(self, images: np.ndarray) -> np.ndarray:
        """Each band of ``images`` (band, y, x) blurred with its own PSF."""
        return np.stack(
            [
                self._inverse(fft.rfft2(im, self.shape) * k)
                for im, k in zip(images, self._ft, strict=True)
            ]
        )

    def _inverse(self, ft: np.ndarray) -> np.ndarray:
        r, n = self.radius, self.size
        return fft.irfft2(ft, self.shape)[r : r + n, r : r + n]


# --- galaxies ----------------------------------------------------------------


def _de_vaucouleurs(m: np.ndarray, re: float, sb_e: float) -> np.ndarray:
    return flux(sb_e) * np.exp(-7.669 * (np.maximum(m, 0.3) / re) ** 0.25 + 7.669)


def _exponential(m: np.ndarray, h: float, sb_0: float) -> np.ndarray:
    return flux(sb_0) * np.exp(-m / h)


@dataclass
class _Galaxy:
    """A galaxy's components (r-band, unblurred) and its reach for placing features."""

    x: float
    y: float
    reach: float  # pixels from the centre to about 25 mag/arcsec²
    spheroid: np.ndarray  # the elliptical, or the disc galaxy's bulge
    disc: np.ndarray  # with its ring or lens
    bar: np.ndarray | None = None
    parts: list[str] = field(default_factory=list)  # "elliptical" or "disc", then "ring" or "lens"


def _draw_galaxy(
    rng: np.random.Generator,
    size: int,
    x0: float,
    y0: float,
    *,
    shrink: float,
    disc: bool,
    barred: bool,
) -> _Galaxy:
    """An elliptical (de Vaucouleurs), or a disc with a bulge, maybe barred, ringed or lensed."""
    x, y = _grid(size)
    pa = rng.uniform(0, np.pi)
    unit = size / 256 * shrink
    if not disc:
        re = rng.uniform(6, 16) * unit
        sb_e = rng.uniform(21.5, 23.0)
        q = rng.uniform(0.65, 1.0)
        u, v = _rotated(x, y, x0, y0, pa)
        spheroid = _de_vaucouleurs(np.hypot(u, v / q), re, sb_e)
        # radius where the spheroid falls to 25 mag/arcsec²
        reach = re * (1 + (25.0 - sb_e) / (2.5 * np.log10(np.e) * 7.669)) ** 4
        return _Galaxy(x0, y0, float(reach), spheroid, np.zeros_like(x), parts=["elliptical"])
    h = rng.uniform(9, 18) * unit
    sb_0 = rng.uniform(20.5, 21.8)
    q = rng.uniform(0.55, 1.0) if barred else rng.uniform(0.3, 1.0)
    u, v = _rotated(x, y, x0, y0, pa)
    m = np.hypot(u, v / q)
    disc_light = _exponential(m, h, sb_0)
    bulge = _de_vaucouleurs(
        np.hypot(u, v / max(q, 0.7)), rng.uniform(1.0, 3.0) * unit, rng.uniform(19.5, 21.0)
    )
    galaxy = _Galaxy(x0, y0, h * (25.0 - sb_0) / 1.086, bulge, disc_light, parts=["disc"])
    bar_length = rng.uniform(1.2, 2.4) * h
    surround = (
        rng.choice(["ring", "lens", "none"], p=[0.45, 0.35, 0.2])
        if barred
        else (rng.choice(["ring", "lens", "none"], p=[0.15, 0.15, 0.7]))
    )
    if surround == "ring":
        r_ring = rng.uniform(1.05, 1.35) * bar_length
        width = rng.uniform(0.07, 0.14) * r_ring
        level = rng.uniform(0.6, 1.5) * flux(sb_0) * np.exp(-r_ring / h)
        galaxy.disc = disc_light + level * np.exp(-0.5 * ((m - r_ring) / width) ** 2)
        galaxy.parts.append("ring")
    elif surround == "lens":
        r_lens = rng.uniform(1.0, 1.2) * bar_length
        level = rng.uniform(0.2, 0.5) * flux(sb_0)
        galaxy.disc = disc_light + level * np.sqrt(np.clip(1 - (m / r_lens) ** 2, 0, None))
        galaxy.parts.append("lens")
    if barred:
        bar_pa = pa + rng.uniform(-1.2, 1.2)
        c = rng.uniform(2.5, 4.0)
        ub, vb = _rotated(x, y, x0, y0, bar_pa)
        boxy = (
            np.abs(ub / bar_length) ** c + np.abs(vb / (bar_length * rng.uniform(0.2, 0.35))) ** c
        ) ** (1 / c)
        galaxy.bar = rng.uniform(0.6, 1.4) * flux(sb_0) * np.exp(-(boxy ** rng.uniform(3, 6)))
    return galaxy


# --- tidal features ----------------------------------------------------------
# Each returns a description and the feature's r-band light (unblurred), placed
# about the host by its centre and reach.


def _stream(rng: np.random.Generator, size: int, host: _Galaxy) -> tuple[str, np.ndarray]:
    """A rosette loop, a fork or a widening arc, its width and brightness varying along it."""
    variant = rng.choice(["loop", "fork", "arc"])
    reach = np.clip(host.reach, 0.08 * size, 0.22 * size)
    peak = flux(rng.uniform(*FEATURE_PEAK_SB))
    if variant == "loop":
        # a precessing rosette orbit about a point near the host
        phi = np.linspace(0, rng.uniform(1.4, 2.4) * np.pi, 600) + rng.uniform(0, 2 * np.pi)
        mean = rng.uniform(1.0, 1.5) * reach
        r = mean * (
            1 + rng.uniform(0.2, 0.45) * np.cos(rng.uniform(0.6, 0.9) * phi + rng.uniform(0, 6))
        )
        q = rng.uniform(0.55, 1.0)
        x0 = host.x + rng.normal(0, 0.1 * reach)
        y0 = host.y + rng.normal(0, 0.1 * reach)
        pa = rng.uniform(0, np.pi)
        u, v = r * np.cos(phi), q * r * np.sin(phi)
        path = np.column_stack(
            [x0 + u * np.cos(pa) - v * np.sin(pa), y0 + u * np.sin(pa) + v * np.cos(pa)]
        )
        paths = [path]
    else:
        # an arc about the host whose radius drifts; a fork splits off part-way
        phi0 = rng.uniform(0, 2 * np.pi)
        phi = phi0 + np.linspace(0, rng.choice([-1, 1]) * rng.uniform(0.7, 1.3) * np.pi, 400)
        r = reach * (rng.uniform(0.9, 1.3) + rng.uniform(0.2, 0.6) * np.linspace(0, 1, phi.size))
        path = np.column_stack([host.x + r * np.cos(phi), host.y + r * np.sin(phi)])
        paths = [path]
        if variant == "fork":
            start = int(rng.uniform(0.3, 0.55) * phi.size)
            drift = np.linspace(0, 1, phi.size - start) ** 1.5 * rng.uniform(0.35, 0.7) * reach
            rb = r[start:] + rng.choice([-1, 1]) * drift
            paths.append(
                np.column_stack(
                    [host.x + rb * np.cos(phi[start:]), host.y + rb * np.sin(phi[start:])]
                )
            )
    light = np.zeros((size, size))
    for k, path in enumerate(paths):
        xy, s = _resample(path)
        wiggle = np.sin(2 * np.pi * (rng.uniform(0.7, 2.0) * s + rng.uniform(0, 1)))
        width = (
            rng.uniform(1.5, 3.0) * (1 + 0.6 * wiggle) * (1 + rng.uniform(0, 1.5) * s) * size / 256
        )
        fade = _smoothstep(s / 0.15) * _smoothstep((1 - s) / 0.25)
        amplitude = (
            peak
            * (0.7 if k else 1.0)
            * fade
            * (1 + 0.3 * np.sin(2 * np.pi * rng.uniform(2, 5) * s))
        )
        light = np.maximum(light, _ridge(xy, np.maximum(width, 1.0), amplitude, size))
    name = {
        "loop": "stream: loop, variable width",
        "fork": "stream: fork",
        "arc": "stream: arc, widening",
    }
    return name[str(variant)], light


def _shells(rng: np.random.Generator, size: int, host: _Galaxy) -> tuple[str, np.ndarray]:
    """Two to four nested partial shells, interleaved on both sides of an off-centre point."""
    x, y = _grid(size)
    reach = np.clip(host.reach, 0.08 * size, 0.25 * size)
    count = int(rng.integers(2, 5))
    x0 = host.x + rng.uniform(-0.15, 0.15) * reach
    y0 = host.y + rng.uniform(-0.15, 0.15) * reach
    u, v = _rotated(x, y, x0, y0, rng.uniform(0, np.pi))
    q = rng.uniform(0.75, 1.0)
    r = np.hypot(u, v / q)
    angle = np.arctan2(v / q, u)
    axis = rng.uniform(-np.pi, np.pi)
    radii = reach * np.cumsum(rng.uniform(0.3, 0.6, count)) + reach * rng.uniform(0.7, 1.0)
    peak = flux(rng.uniform(*FEATURE_PEAK_SB))
    light = np.zeros((size, size))
    for i, radius in enumerate(radii):
        side = axis + (np.pi if i % 2 else 0.0) + rng.normal(0, 0.25)
        half = rng.uniform(0.25, 0.6) * np.pi
        window = _smoothstep((half - np.abs(_wrap(angle - side))) / (0.3 * half))
        d = r - radius
        edge = np.where(
            d < 0, np.exp(d / (rng.uniform(0.05, 0.15) * radius)), np.exp(-0.5 * (d / 1.5) ** 2)
        )
        light += peak * rng.uniform(0.6, 1.0) ** i * edge * window
    return f"shells: {count} nested, off-centre", light


def _tail(
    rng: np.random.Generator, size: int, host: _Galaxy, companion: _Galaxy | None
) -> tuple[str, np.ndarray]:
    """A bridge to ``companion`` if there is one, else a broad plume or a narrow curved tail."""
    x, y = _grid(size)
    reach = np.clip(host.reach, 0.08 * size, 0.25 * size)
    peak = flux(rng.uniform(*FEATURE_PEAK_SB))
    if companion is not None:
        # a bridge: a sagging band from the host to the companion
        start, end = np.array([host.x, host.y]), np.array([companion.x, companion.y])
        normal = np.array([start[1] - end[1], end[0] - start[0]])
        control = (start + end) / 2 + normal * rng.uniform(-0.35, 0.35)
        t = np.linspace(0, 1, 300)[:, None]
        path = (1 - t) ** 2 * start + 2 * t * (1 - t) * control + t**2 * end
        xy, s = _resample(path)
        width = rng.uniform(3.0, 7.0) * (1 + 0.4 * np.sin(np.pi * s)) * size / 256
        amplitude = peak * (1 - rng.uniform(0.2, 0.6) * np.sin(np.pi * s))
        return "bridge to a companion", _ridge(xy, width, amplitude, size)
    variant = rng.choice(["plume", "tail"])
    u, v = _rotated(x, y, host.x, host.y, rng.uniform(-np.pi, np.pi))
    rho, phi = np.hypot(u, v), np.arctan2(v, u)
    if variant == "plume":
        half = rng.uniform(0.3, 0.6)
        bend = rng.uniform(-0.3, 0.3)
        length = rng.uniform(0.8, 1.5) * reach
        name = "plume: broad fan"
    else:
        half = rng.uniform(0.1, 0.2)
        bend = rng.choice([-1, 1]) * rng.uniform(0.4, 0.9)
        length = rng.uniform(1.0, 1.6) * reach
        name = "tail: curved"
    centre = bend * (rho / reach - 0.6)
    across = np.exp(-0.5 * (_wrap(phi - centre) / half) ** 2)
    along = _smoothstep((rho - 0.5 * reach) / (0.5 * reach)) * np.exp(
        -np.maximum(rho - reach, 0) / length
    )
    far = _smoothstep((rng.uniform(3.0, 4.0) * reach - rho) / reach)
    return name, peak * across * along * far


# --- the sky -------------------------------------------------------------------


@lru_cache(maxsize=1)
def _deep_field() -> np.ndarray:
    """The Hubble Deep Field JPEG as linear light, sky floor removed: (g, r, z) from (B, G, R)."""
    rgb = imread(_DEEP_FIELD).astype(np.float32) / 255
    linear = rgb**2.2
    linear -= np.median(linear, axis=(0, 1))
    return np.ascontiguousarray(linear[..., ::-1].transpose(2, 0, 1))


@lru_cache(maxsize=1)
def _source_stamps() -> tuple[np.ndarray, ...]:
    """Isolated compact sources of astropy's comp.fits, each summing to one, 15 x 15."""
    image = fits.getdata(_STAR_FIELD, 1).astype(float)
    residual = image - median_filter(image, size=15)
    noise = 1.4826 * np.median(np.abs(residual - np.median(residual)))
    peaks = peak_local_max(residual, min_distance=7, threshold_abs=20 * noise, exclude_border=8)
    stamps = []
    for py, px in peaks:
        stamp = residual[py - 7 : py + 8, px - 7 : px + 8]
        ring = np.hypot(*np.mgrid[-7:8, -7:8]) > 5
        if (
            stamp.shape != (15, 15)
            or stamp[ring].max() > 0.15 * stamp[7, 7]
            or stamp.min() < -0.1 * stamp[7, 7]
        ):
            continue
        stamp = np.clip(stamp, 0, None) * ~ring
        stamps.append(stamp / stamp.sum())
    return tuple(stamps)


def _deep_field_crop(rng: np.random.Generator, size: int) -> np.ndarray:
    """A random rescaled, rotated crop of the deep field, (band, y, x), peak near 1."""
    field_ = _deep_field()
    scale = max(rng.uniform(0.3, 0.55), (size + 4) / min(field_.shape[1:]))
    side = int(np.ceil((size + 2) / scale))
    y0 = rng.integers(0, field_.shape[1] - side + 1)
    x0 = rng.integers(0, field_.shape[2] - side + 1)
    crop = rescale(
        field_[:, y0 : y0 + side, x0 : x0 + side], scale, channel_axis=0, anti_aliasing=True
    )
    crop = np.rot90(crop[:, :size, :size], int(rng.integers(4)), axes=(1, 2))
    return crop / np.percentile(crop[_REFERENCE], 99.9)


def _paste_stamps(rng: np.random.Generator, size: int) -> np.ndarray:
    """Compact sources from comp.fits, enlarged, coloured, r 17 to 22 mag: (band, y, x)."""
    stamps = _source_stamps()
    image = np.zeros((len(BANDS), size, size))
    for _ in range(rng.poisson(6 * (size / 256) ** 2)):
        stamp = zoom(stamps[rng.integers(len(stamps))], rng.uniform(1.0, 2.5), order=1)
        stamp = np.clip(stamp, 0, None)
        stamp *= 10 ** (-0.4 * (rng.uniform(17.0, 22.0) - ZERO_POINT)) / stamp.sum()
        h = stamp.shape[0]
        y0, x0 = rng.integers(-h // 2, size - h // 2, 2)
        ys, xs = slice(max(y0, 0), min(y0 + h, size)), slice(max(x0, 0), min(x0 + h, size))
        piece = stamp[ys.start - y0 : ys.stop - y0, xs.start - x0 : xs.stop - x0]
        image[:, ys, xs] += (
            _colour(rng.uniform(0.3, 1.4), rng.uniform(0.1, 0.7))[:, None, None] * piece
        )
    return image


def _bright_stars(rng: np.random.Generator, size: int, seeing: _Seeing) -> np.ndarray:
    """Zero to two bright stars, possibly outside the cutout, with their whole aureole."""
    x, y = _grid(size)
    image = np.zeros((len(BANDS), size, size))
    for _ in range(rng.choice([0, 1, 1, 2])):
        sx, sy = rng.uniform(-0.2 * size, 1.2 * size, 2)
        total = 10 ** (-0.4 * (rng.uniform(11.5, 16.0) - ZERO_POINT))
        colour = _colour(rng.uniform(0.3, 1.2), rng.uniform(0.1, 0.6))
        r = np.hypot(x - sx, y - sy)
        for b in range(len(BANDS)):
            image[b] += total * colour[b] * seeing.profile(b, r)
    return image


def _correlated_noise(rng: np.random.Generator, size: int) -> np.ndarray:
    """Sky noise of the family's per-pixel depth, correlated over about a pixel: (band, y, x)."""
    width = rng.uniform(0.5, 0.9)
    noise = np.empty((len(BANDS), size, size))
    for b, band in enumerate(BANDS):
        smoothed = gaussian_filter(rng.standard_normal((size, size)), width, mode="wrap")
        noise[b] = smoothed / smoothed.std() * flux(NOISE_SB[band])
    return noise


def _gradient(rng: np.random.Generator, size: int) -> np.ndarray:
    """A sky residual: a tilted, slightly curved plane of a few σ across the cutout."""
    x, y = _grid(size)
    x, y = x / size - 0.5, y / size - 0.5
    image = np.empty((len(BANDS), size, size))
    angle = rng.uniform(0, 2 * np.pi)
    for b, band in enumerate(BANDS):
        tilt = rng.uniform(0, 3) * flux(NOISE_SB[band])
        image[b] = tilt * (
            np.cos(angle) * x + np.sin(angle) * y + rng.uniform(-1, 1) * (x**2 + y**2)
        )
    return image


# --- scenes ------------------------------------------------------------------


@dataclass
class _Scene:
    """A drawn cutout with what its truth was decided on (r band, noiseless, blurred)."""

    cutout: Cutout
    labels: np.ndarray  # int (y, x): 0 none, i + 1 the i-th drawn feature
    observed_labels: np.ndarray  # the same, visibility judged on light plus sky noise
    kinds: list[str]
    names: list[str]
    light: list[np.ndarray]  # each feature's own light
    galaxies: np.ndarray  # bulges, discs, rings, lenses and bars of all galaxies
    disc: np.ndarray  # the host's disc, ring or lens included
    sigma: float  # σ of the smoothed background


def _draw_case(rng: np.random.Generator, kind: str, size: int) -> IndependentCase:
    for _ in range(MAX_ATTEMPTS):
        scene = _draw_scene(rng, kind, size)
        index = scene.kinds.index(kind) + 1
        target = scene.labels == index
        if target.sum() >= MIN_TARGET_PIXELS:
            pairs = zip(scene.kinds, scene.names, strict=True)
            others = [n.split(":")[0] for k, n in pairs if k != kind]
            name = scene.names[index - 1] + (f" (+ {', '.join(others)})" if others else "")
            other = (scene.labels > 0) & ~target
            observed = scene.observed_labels == index
            return IndependentCase(name, kind, scene.cutout, target, other, observed)
    raise RuntimeError(
        f"no {kind} case with {MIN_TARGET_PIXELS} visible pixels in {MAX_ATTEMPTS} draws"
    )


def _draw_scene(rng: np.random.Generator, kind: str | None, size: int) -> _Scene:
    """One cutout: galaxies, features (``kind`` and distractors; none if ``kind`` is None), sky."""
    seeing = _Seeing.draw(rng)
    blur = _Blur(seeing, size)
    centre = size / 2 + rng.uniform(-0.04, 0.04, 2) * size
    features = _choose_features(rng, kind)
    barred = "bar" in features
    disc = barred or rng.random() < (0.3 if "shell" in features else 0.6)
    host = _draw_galaxy(rng, size, *centre, shrink=1.0, disc=disc, barred=barred)
    galaxies = [host]
    bridge = "tidal_tail" in features and rng.random() < 0.4
    if bridge or rng.random() < 0.2:
        angle, distance = rng.uniform(0, 2 * np.pi), rng.uniform(0.3, 0.42) * size
        x, y = centre + distance * np.array([np.cos(angle), np.sin(angle)])
        shrink = rng.uniform(0.35, 0.7)
        galaxies.append(
            _draw_galaxy(rng, size, x, y, shrink=shrink, disc=rng.random() < 0.5, barred=False)
        )

    light = np.zeros((len(BANDS), size, size))
    for g in galaxies:
        light += blur(g.spheroid, _colour(rng.uniform(0.7, 0.85), rng.uniform(0.4, 0.5)))
        disc_bands = blur(g.disc, _colour(rng.uniform(0.4, 0.65), rng.uniform(0.25, 0.4)))
        light += disc_bands
        if g is host:
            host_disc = disc_bands[_REFERENCE]

    drawn: list[tuple[str, str, np.ndarray]] = []  # kind, name, blurred light (band, y, x)
    for feature in features:
        if feature == "bar":
            surround = host.parts[-1] if len(host.parts) > 1 else "plain disc"
            bands = blur(host.bar, _colour(rng.uniform(0.75, 0.9), rng.uniform(0.4, 0.55)))
            drawn.append(("bar", f"bar in a {surround}", bands))
            continue
        if feature == "tidal_stream":
            name, image = _stream(rng, size, host)
        elif feature == "shell":
            name, image = _shells(rng, size, host)
        else:
            name, image = _tail(rng, size, host, galaxies[1] if bridge else None)
        drawn.append((feature, name, blur(image, _feature_colour(rng))))
    galaxies_r = light[_REFERENCE] + sum(
        (bands[_REFERENCE] for feature, _, bands in drawn if feature == "bar"),
        np.zeros((size, size)),
    )

    texture = blur.bands(_deep_field_crop(rng, size) * flux(rng.uniform(22.5, 24.0)))
    noise = _correlated_noise(rng, size)
    background = noise + texture
    sigma = _smoothed_sigma(background[_REFERENCE])
    labels = np.zeros((size, size), dtype=int)
    observed_labels = np.zeros((size, size), dtype=int)
    for i, (feature, _, bands) in enumerate(drawn):
        own = bands[_REFERENCE]
        if feature == "bar":
            allowed = own >= BAR_SHARE * host_disc
        else:
            allowed = (own >= HOST_CONTRAST * galaxies_r) & (own >= flux(DEEP_LIMIT_SB))
        labels[_visible(own, sigma) & allowed] = i + 1
        observed_labels[_visible(own + noise[_REFERENCE], sigma) & allowed] = i + 1
        light += bands

    data = light + background + _gradient(rng, size) + _bright_stars(rng, size, seeing)
    data += blur.bands(_paste_stamps(rng, size))
    cutout = Cutout(
        data=data.astype(np.float32),
        bands=BANDS,
        wcs=_tan_wcs(rng, size),
        pixel_scale=PIXEL_SCALE,
        survey="legacy",
        zero_points={b: ZERO_POINT for b in BANDS},
    )
    kinds = [feature for feature, _, _ in drawn]
    names = [name for _, name, _ in drawn]
    own = [bands[_REFERENCE] for _, _, bands in drawn]
    return _Scene(
        cutout, labels, observed_labels, kinds, names, own, galaxies_r, host_disc, sigma
    )


def _choose_features(rng: np.random.Generator, kind: str | None) -> list[str]:
    """The target ``kind`` and distractors, in drawing order (later ones keep overlaps)."""
    if kind is None:
        return []
    features = [kind] + [k for k in FAMILY_KINDS if k != kind and rng.random() < 0.35]
    return [features[i] for i in rng.permutation(len(features))]


def _visible(own: np.ndarray, sigma: float) -> np.ndarray:
    """Where light, smoothed by σ = 1 arcsec, reaches :data:`VISIBLE_NSIGMA` × ``sigma``."""
    return gaussian_filter(own, VISIBLE_SMOOTHING / PIXEL_SCALE) >= VISIBLE_NSIGMA * sigma


def _smoothed_sigma(background: np.ndarray) -> float:
    """Robust σ of the background smoothed by σ = 1 arcsec (sources in it do not count)."""
    smoothed = gaussian_filter(background, VISIBLE_SMOOTHING / PIXEL_SCALE)
    return float(1.4826 * np.median(np.abs(smoothed - np.median(smoothed))))


def _tan_wcs(rng: np.random.Generator, size: int) -> WCS:
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [rng.uniform(0, 360), np.degrees(np.arcsin(rng.uniform(-0.3, 0.9)))]
    wcs.wcs.crpix = [(size + 1) / 2, (size + 1) / 2]
    wcs.wcs.cdelt = [-PIXEL_SCALE / 3600, PIXEL_SCALE / 3600]
    wcs.wcs.cunit = ["deg", "deg"]
    return wcs


def main(argv: list[str] | None = None) -> None:
    """Print how long ``independent_cases(n)`` takes and the size of its targets."""
    parser = argparse.ArgumentParser(description="Time the independent case family.")
    parser.add_argument("--n", type=int, default=12, help="cases per kind")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args(argv)
    cpu, wall = time.process_time(), time.perf_counter()
    cases = independent_cases(args.n, seed=args.seed, size=args.size)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(
        f"{len(cases)} cases ({args.n} per kind, {args.size}x{args.size}): "
        f"{cpu:.1f} s CPU, {wall:.1f} s wall"
    )
    for kind in FAMILY_KINDS:
        pixels = [int(c.target.sum()) for c in cases if c.kind == kind]
        print(f"  {kind:<13} target pixels: median {int(np.median(pixels))}, min {min(pixels)}")


if __name__ == "__main__":
    main()
