"""Stretches: map pixel values to [0, 1] for display and for model input.

A :class:`Stretch` is an interval (which pixel values map to 0 and 1) followed
by a stretch function (linear, sqrt, log or asinh), both from
:mod:`astropy.visualization`. Its output is float32, finite (NaN pixels become
:attr:`Stretch.fill`), in [0, 1] and non-decreasing in the pixel value, so the
napari display can show it with contrast limits 0..1 and a model can take it
as input.

:func:`preset` gives the named stretches a user picks from; ``"lsb"`` is set
from the image's sky noise (:func:`sky_noise`) to bring out faint tidal
features. :func:`normalize` stretches each band of a cube on its own;
:func:`lupton_rgb` and :func:`rgb_composite` make colour images.

Examples
--------
>>> import numpy as np
>>> from galseg.stretch import Stretch, preset
>>> image = np.array([[0.0, 1.0], [4.0, np.nan]])
>>> Stretch("sqrt", "minmax")(image)
array([[0. , 0.5],
       [1. , 0. ]], dtype=float32)
>>> preset("zscale")
Stretch(kind='linear', interval='zscale', a=None, percentile=99.5, vmin=None, vmax=None, fill=0.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
import math
from typing import Literal, NamedTuple, get_args

from astropy.stats import sigma_clipped_stats
from astropy.visualization import (
    AsinhStretch,
    BaseInterval,
    BaseStretch,
    LinearStretch,
    LogStretch,
    ManualInterval,
    MinMaxInterval,
    PercentileInterval,
    SqrtStretch,
    ZScaleInterval,
    make_lupton_rgb,
)
import numpy as np
from numpy.typing import ArrayLike

from .cutout import Cutout
from .errors import CutoutError

__all__ = [
    "INTERVALS",
    "KINDS",
    "PRESETS",
    "SKY_SAMPLE",
    "SkyNoise",
    "Stretch",
    "lupton_rgb",
    "normalize",
    "preset",
    "rgb_composite",
    "rgb_planes",
    "sky_noise",
]

StretchKind = Literal["linear", "sqrt", "log", "asinh"]
IntervalKind = Literal["minmax", "percentile", "zscale", "manual"]

#: Stretch functions a :class:`Stretch` can use.
KINDS: tuple[str, ...] = get_args(StretchKind)
#: Ways a :class:`Stretch` can choose the values that map to 0 and 1.
INTERVALS: tuple[str, ...] = get_args(IntervalKind)

# astropy's default softening of the stretches that have one.
_DEFAULT_SOFTENING = {"log": 1000.0, "asinh": 0.1}

# Upper limit of the "lsb" preset: this percentile of the image's pixels.
_LSB_PERCENTILE = 99.9


SKY_SAMPLE = 65536
"""Most pixels :func:`sky_noise` looks at (a regular sample of a larger image)."""


class SkyNoise(NamedTuple):
    """Robust sky level and per-pixel noise of an image (see :func:`sky_noise`)."""

    level: float
    sigma: float


def sky_noise(image: ArrayLike) -> SkyNoise:
    """Measure the sky level and the per-pixel sky noise of an image.

    Pixels more than 3 standard deviations from the median are clipped
    iteratively (:func:`astropy.stats.sigma_clipped_stats`); the level is the
    median of the rest and the noise their MAD-based standard deviation
    (:func:`astropy.stats.mad_std`). Galaxies, stars and bad columns are
    clipped away as long as they cover well under half of the image, so the
    result is that of the sky. Non-finite pixels are ignored. Images of more
    than :data:`SKY_SAMPLE` pixels are measured on a regular sample of that
    many (every k-th finite pixel), which keeps a 4-megapixel band under 0.1 s
    while the error on sigma stays near 0.3 %.

    Parameters
    ----------
    image : array_like
        Pixel values, any shape.

    Returns
    -------
    SkyNoise
        ``(level, sigma)``; ``sigma`` is 0 when most pixels are equal.

    Raises
    ------
    CutoutError
        If the image has no finite pixel.

    Examples
    --------
    >>> import numpy as np
    >>> noise = np.random.default_rng(0).normal(10.0, 2.0, size=(200, 200))
    >>> level, sigma = sky_noise(noise)
    >>> round(level), round(sigma, 1)
    (10, 2.0)
    """
    pixels = _finite_pixels(image, "cannot measure the sky noise")
    pixels = pixels[:: max(1, pixels.size // SKY_SAMPLE)]
    _, median, std = sigma_clipped_stats(
        pixels, sigma=3.0, maxiters=10, cenfunc="median", stdfunc="mad_std"
    )
    return SkyNoise(level=float(median), sigma=float(std))


@dataclass(frozen=True)
class Stretch:
    """A map from pixel values to [0, 1]: an interval, then a stretch function.

    The interval gives the limits ``vmin`` and ``vmax`` (from the image, or
    fixed); pixel values are scaled linearly so that ``vmin`` maps to 0 and
    ``vmax`` to 1, clipped to [0, 1], and passed through the stretch function.
    Non-finite pixels map to ``fill``. If the interval is degenerate
    (``vmin == vmax``, e.g. a constant image), pixels at or below it map to 0
    and pixels above it to 1: a constant image becomes all 0.

    Parameters
    ----------
    kind : {"asinh", "linear", "sqrt", "log"}
        Stretch function (:class:`~astropy.visualization.AsinhStretch`,
        :class:`~astropy.visualization.LinearStretch`, ...).
    interval : {"percentile", "minmax", "zscale", "manual"}
        How the limits are chosen: the central ``percentile`` per cent of the
        finite pixels, their minimum and maximum, IRAF's zscale, or ``vmin``
        and ``vmax`` as given (either may be None: then the image's minimum
        or maximum).
    a : float, optional
        Softening of the ``"asinh"`` and ``"log"`` stretches, as in astropy:
        for asinh, the (normalised) value where the stretch turns from linear
        to logarithmic (default 0.1); for log, the strength of the logarithm
        (default 1000). Not allowed for the other stretches.
    percentile : float
        Per cent of the pixels kept by the ``"percentile"`` interval, in
        (0, 100].
    vmin, vmax : float, optional
        Limits of the ``"manual"`` interval. Not allowed for the others.
    fill : float
        Output value of non-finite pixels, in [0, 1].

    Raises
    ------
    ValueError
        If a parameter is unknown, out of range, or not used by the chosen
        ``kind`` or ``interval``.

    Examples
    --------
    >>> import numpy as np
    >>> stretch = Stretch("asinh", "manual", a=0.5, vmin=0.0, vmax=10.0)
    >>> stretch(np.array([-1.0, 0.0, 10.0, 20.0]))
    array([0., 0., 1., 1.], dtype=float32)
    >>> Stretch("log").a
    1000.0
    """

    kind: StretchKind = "asinh"
    interval: IntervalKind = "percentile"
    a: float | None = None
    percentile: float = 99.5
    vmin: float | None = None
    vmax: float | None = None
    fill: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown stretch {self.kind!r}; stretches are {', '.join(KINDS)}")
        if self.interval not in INTERVALS:
            raise ValueError(
                f"unknown interval {self.interval!r}; intervals are {', '.join(INTERVALS)}"
            )
        self._check_softening()
        if not 0.0 < self.percentile <= 100.0:
            raise ValueError(f"percentile must be in (0, 100], got {self.percentile}")
        self._check_limits()
        if not 0.0 <= self.fill <= 1.0:
            raise ValueError(f"fill must be in [0, 1], got {self.fill}")

    def _check_softening(self) -> None:
        if self.kind not in _DEFAULT_SOFTENING:
            if self.a is not None:
                raise ValueError(f"the {self.kind} stretch takes no softening, got a={self.a}")
            return
        if self.a is None:
            object.__setattr__(self, "a", _DEFAULT_SOFTENING[self.kind])
        elif not (math.isfinite(self.a) and self.a > 0):
            raise ValueError(f"softening a must be a finite number > 0, got {self.a}")

    def _check_limits(self) -> None:
        given = [v for v in (self.vmin, self.vmax) if v is not None]
        if self.interval != "manual":
            if given:
                raise ValueError(f"vmin and vmax need interval='manual', not {self.interval!r}")
            return
        if not all(math.isfinite(v) for v in given):
            raise ValueError(f"vmin and vmax must be finite, got {self.vmin}, {self.vmax}")
        if len(given) == 2 and self.vmin > self.vmax:
            raise ValueError(f"vmin ({self.vmin}) is greater than vmax ({self.vmax})")

    @property
    def transform(self) -> BaseStretch:
        """The astropy stretch applied after the interval (it has an ``.inverse``)."""
        match self.kind:
            case "linear":
                return LinearStretch()
            case "sqrt":
                return SqrtStretch()
            case "log":
                return LogStretch(self.a)
            case "asinh":
                return AsinhStretch(self.a)

    def _interval(self) -> BaseInterval:
        match self.interval:
            case "minmax":
                return MinMaxInterval()
            case "percentile":
                return PercentileInterval(self.percentile)
            case "zscale":
                return ZScaleInterval()
            case "manual":
                return ManualInterval(self.vmin, self.vmax)

    def _limits(self, pixels: np.ndarray) -> tuple[float, float]:
        vmin, vmax = self._interval().get_limits(pixels)
        # The limits cross when a manual vmin is above the image's maximum (or
        # vmax below its minimum), and zscale can cross them by a rounding error
        # on images with few distinct values: take the degenerate interval at vmax.
        return float(min(vmin, vmax)), float(vmax)

    def limits(self, image: ArrayLike) -> tuple[float, float]:
        """The pixel values that map to 0 and to 1 on this image.

        Parameters
        ----------
        image : array_like
            Pixel values, any shape; non-finite ones are ignored.

        Returns
        -------
        tuple of float
            ``(vmin, vmax)``.

        Raises
        ------
        CutoutError
            If the image has no finite pixel.

        Examples
        --------
        >>> Stretch("linear", "minmax").limits([3.0, 1.0, float("nan"), 2.0])
        (1.0, 3.0)
        """
        return self._limits(_finite_pixels(image, "cannot compute stretch limits"))

    def __call__(self, image: ArrayLike) -> np.ndarray:
        """Stretch an image.

        Parameters
        ----------
        image : array_like
            Pixel values, any shape. The limits come from its finite pixels.

        Returns
        -------
        ndarray of float32
            Same shape, values in [0, 1]; ``fill`` where the input is not
            finite (everywhere if no pixel is finite).
        """
        values = np.asarray(image, dtype=np.float64)
        finite = np.isfinite(values)
        out = np.full(values.shape, self.fill, dtype=np.float32)
        if finite.any():
            pixels = values[finite]
            out[finite] = self.transform(_normalise(pixels, *self._limits(pixels)))
        return out


def _normalise(pixels: np.ndarray, vmin: float, vmax: float) -> np.ndarray:
    """Scale ``vmin..vmax`` to ``0..1`` and clip; a degenerate interval is a step."""
    if vmax > vmin:
        with np.errstate(over="ignore"):  # far outside a tiny interval: inf, clipped to 0 or 1
            return ManualInterval(vmin, vmax)(pixels)
    return (pixels > vmin).astype(np.float64)


_FIXED_PRESETS: dict[str, Stretch] = {
    "asinh": Stretch("asinh", "percentile", percentile=99.5),
    "log": Stretch("log", "percentile", percentile=99.5),
    "sqrt": Stretch("sqrt", "percentile", percentile=99.5),
    "linear": Stretch("linear", "minmax"),
    "zscale": Stretch("linear", "zscale"),
}

#: Names of the stretch presets, the first being the default of the viewer.
PRESETS: tuple[str, ...] = ("lsb", *_FIXED_PRESETS)


def preset(name: str, image: ArrayLike | None = None, *, softening: float = 1.0) -> Stretch:
    """A named stretch.

    ================  =====================================================
    ``"lsb"``         asinh, limits and softening from the sky noise (Notes)
    ``"asinh"``       asinh (a = 0.1) over the central 99.5 % of the pixels
    ``"log"``         log (a = 1000) over the central 99.5 % of the pixels
    ``"sqrt"``        square root over the central 99.5 % of the pixels
    ``"linear"``      linear from the minimum to the maximum pixel
    ``"zscale"``      linear over IRAF's zscale interval
    ================  =====================================================

    Parameters
    ----------
    name : str
        One of :data:`PRESETS`.
    image : array_like, optional
        The image to be stretched; needed by ``"lsb"`` only, which is fixed to
        it (the others take their limits from whatever image they are applied
        to).
    softening : float
        Factor on the preset's softening ``a`` for the asinh and log presets
        (``"lsb"``, ``"asinh"``, ``"log"``): above 1 the stretch stays linear
        further above the sky, below 1 it brings out fainter structure. Other
        presets ignore it.

    Returns
    -------
    Stretch

    Raises
    ------
    ValueError
        If the name is unknown, or ``"lsb"`` is asked for without an image.
    CutoutError
        If ``"lsb"`` is asked for on an image without finite pixels.

    Notes
    -----
    The ``"lsb"`` preset makes structure at about 1 sigma of the per-pixel sky
    noise visible. With the sky level ``sky`` and noise ``sigma`` of
    :func:`sky_noise`:

    - ``vmin = sky - sigma``, so the sky shows as a dark grey noise texture,
      not as black;
    - ``vmax`` is the 99.9th percentile of the finite pixels, so only the
      brightest 0.1 % (the galaxy's core, bright stars) saturate;
    - asinh with a softening of ``sigma`` in pixel units
      (``a = sigma / (vmax - vmin)``): the stretch is nearly linear across the
      noise around the sky and logarithmic above it, so each doubling of the
      signal above ``vmin`` adds about the same brightness, from the 1 sigma
      feature up to the core.

    On simulated images (Gaussian sky, a de Vaucouleurs galaxy whose 99.9th
    percentile is 10 to 300 sigma above the sky), a flat band 1 sigma above
    the sky shows 0.08 to 0.2 brighter than the sky on the 0..1 scale, against
    less than 0.001 with the ``"linear"`` preset. If the noise is 0 (most
    pixels equal) the softening is astropy's default.

    Examples
    --------
    >>> import numpy as np
    >>> sky = np.random.default_rng(1).normal(0.0, 1.0, size=(100, 100))
    >>> lsb = preset("lsb", sky)
    >>> lsb.kind, lsb.interval, round(lsb.vmin)
    ('asinh', 'manual', -1)
    >>> preset("sqrt").kind
    'sqrt'
    """
    if not (softening > 0 and math.isfinite(softening)):
        raise ValueError(f"softening must be a positive number, got {softening}")
    if name == "lsb":
        if image is None:
            raise ValueError("the 'lsb' preset is computed from the image; pass the image")
        stretch = _lsb_stretch(image)
    else:
        try:
            stretch = _FIXED_PRESETS[name]
        except KeyError:
            raise ValueError(
                f"unknown stretch preset {name!r}; presets are {', '.join(PRESETS)}"
            ) from None
    if softening == 1.0 or stretch.kind not in _DEFAULT_SOFTENING:
        return stretch
    a = stretch.a if stretch.a is not None else _DEFAULT_SOFTENING[stretch.kind]
    return replace(stretch, a=a * softening)


def _lsb_stretch(image: ArrayLike) -> Stretch:
    """The ``"lsb"`` preset of :func:`preset` for this image."""
    sky = sky_noise(image)
    vmin = sky.level - sky.sigma
    top = float(np.percentile(_finite_pixels(image, "cannot stretch"), _LSB_PERCENTILE))
    vmax = max(vmin, top)
    span = vmax - vmin
    a = sky.sigma / span if sky.sigma > 0 and span > 0 else None
    return Stretch("asinh", "manual", a=a, vmin=vmin, vmax=vmax)


def normalize(
    data: Cutout | ArrayLike, stretch: Stretch | str, *, softening: float = 1.0
) -> np.ndarray:
    """Stretch each band of a cube to [0, 1] on its own.

    This is the normalisation of model inputs. Each band gets its own limits
    (and, for ``"lsb"``, its own sky noise), unless the stretch has fixed
    limits (``interval="manual"`` with ``vmin`` and ``vmax``).

    Parameters
    ----------
    data : Cutout or array_like, shape (band, y, x)
        The bands.
    stretch : Stretch or str
        A stretch, or the name of a preset (see :func:`preset`).
    softening : float
        With a preset name, its softening factor (see :func:`preset`).

    Returns
    -------
    ndarray of float32, shape (band, y, x)
        Values in [0, 1], never NaN.

    Examples
    --------
    >>> import numpy as np
    >>> cube = np.stack([np.arange(4.0).reshape(2, 2), 100 * np.arange(4.0).reshape(2, 2)])
    >>> normalize(cube, Stretch("linear", "minmax"))[:, 1, 1]
    array([1., 1.], dtype=float32)
    """
    planes = _cube(data)
    out = np.empty(planes.shape, dtype=np.float32)
    for i, plane in enumerate(planes):
        band_stretch = (
            stretch if isinstance(stretch, Stretch) else preset(stretch, plane, softening=softening)
        )
        out[i] = band_stretch(plane)
    return out


def lupton_rgb(
    data: Cutout | ArrayLike,
    bands: Sequence[str | int] | None = None,
    *,
    stretch: float | None = None,
    Q: float = 8.0,
    minimum: float | Sequence[float] | None = None,
) -> np.ndarray:
    """Colour composite with the asinh scheme of Lupton et al. (2004).

    The three channels are stretched together through their mean intensity
    (:func:`astropy.visualization.make_lupton_rgb`), so colours are preserved
    from the faint outskirts to the saturated core.

    Parameters
    ----------
    data : Cutout or array_like, shape (band, y, x)
        The bands.
    bands : sequence of str or int, optional
        The bands shown as red, green and blue, by name (of a Cutout) or
        index. One band gives a grey image; two give red and blue, with their
        mean as green. By default up to three bands of ``data`` from the last
        (red) to the first (blue); of more than three, the last, the middle
        and the first.
    stretch : float, optional
        Linear range of the asinh stretch in pixel units (astropy's
        ``stretch``), > 0. By default the 99.5th percentile of the mean of the
        three channels above their minima (or 1 if that is not positive).
    Q : float
        Asinh softening, > 0.
    minimum : float or sequence of 3 floats, optional
        Pixel value shown as black, for all channels or per channel. By
        default each channel's sky level (:func:`sky_noise`).

    Returns
    -------
    ndarray of float32, shape (y, x, 3)
        RGB values in [0, 1] (quantised to 1/255). Non-finite pixels count as
        the channel's minimum.

    Raises
    ------
    ValueError
        If ``bands``, ``stretch``, ``Q`` or ``minimum`` is invalid.
    CutoutError
        If a band name is not in the cutout, or (with the default
        ``minimum``) a channel has no finite pixel.

    Examples
    --------
    >>> import numpy as np
    >>> from galseg import Cutout
    >>> rng = np.random.default_rng(2)
    >>> cutout = Cutout.from_array(rng.normal(size=(3, 32, 32)), bands=["g", "r", "z"])
    >>> rgb = lupton_rgb(cutout, bands=["z", "r", "g"], Q=10)
    >>> rgb.shape, rgb.dtype
    ((32, 32, 3), dtype('float32'))
    """
    if stretch is not None and not (math.isfinite(stretch) and stretch > 0):
        raise ValueError(f"stretch must be a finite number > 0, got {stretch}")
    if not (math.isfinite(Q) and Q > 0):
        raise ValueError(f"Q must be a finite number > 0, got {Q}")
    rgb = rgb_planes(data, bands).astype(np.float64)
    if minimum is None:
        black = np.array([sky_noise(channel).level for channel in rgb])
    else:
        black = np.asarray(minimum, dtype=np.float64)
        if black.shape not in ((), (3,)) or not np.isfinite(black).all():
            raise ValueError(f"minimum must be one or three finite numbers, got {minimum}")
    shifted = np.where(np.isfinite(rgb), rgb - np.broadcast_to(black, 3)[:, None, None], 0.0)
    if stretch is None:
        top = float(np.percentile(shifted.mean(axis=0), 99.5))
        stretch = top if top > 0 else 1.0
    with np.errstate(invalid="ignore"):  # 0/0 where the intensity is 0; astropy maps it to 0
        image = make_lupton_rgb(*shifted, stretch=stretch, Q=Q)
    return image.astype(np.float32) / np.float32(np.iinfo(image.dtype).max)


def rgb_composite(
    data: Cutout | ArrayLike,
    bands: Sequence[str | int] | None = None,
    stretch: Stretch | str = "lsb",
    *,
    softening: float = 1.0,
) -> np.ndarray:
    """Colour composite of bands stretched one by one.

    Unlike :func:`lupton_rgb`, each channel gets its own stretch (by default
    the ``"lsb"`` preset on its own sky noise): colours are not preserved, but
    faint features show in every channel.

    Parameters
    ----------
    data : Cutout or array_like, shape (band, y, x)
        The bands.
    bands : sequence of str or int, optional
        The bands shown as red, green and blue; as in :func:`lupton_rgb`.
    stretch : Stretch or str
        The stretch of each channel, or a preset name (see :func:`preset`).
    softening : float
        With a preset name, its softening factor (see :func:`preset`).

    Returns
    -------
    ndarray of float32, shape (y, x, 3)
        RGB values in [0, 1], never NaN.

    Examples
    --------
    >>> import numpy as np
    >>> cube = np.random.default_rng(3).normal(size=(2, 16, 16))
    >>> rgb_composite(cube, bands=[1, 0]).shape
    (16, 16, 3)
    """
    return np.moveaxis(normalize(rgb_planes(data, bands), stretch, softening=softening), 0, -1)


def _finite_pixels(image: ArrayLike, what: str) -> np.ndarray:
    """The finite pixels of an image as 1-D float64; CutoutError if none."""
    values = np.asarray(image, dtype=np.float64)
    pixels = values[np.isfinite(values)]
    if pixels.size == 0:
        raise CutoutError(f"{what}: the image has no finite pixel (shape {values.shape})")
    return pixels


def _cube(data: Cutout | ArrayLike) -> np.ndarray:
    """The (band, y, x) pixel array of a cutout or an array."""
    cube = data.data if isinstance(data, Cutout) else np.asarray(data)
    if cube.ndim != 3:
        raise ValueError(f"expected data of shape (band, y, x), got shape {cube.shape}")
    return cube


def rgb_planes(data: Cutout | ArrayLike, bands: Sequence[str | int] | None = None) -> np.ndarray:
    """The planes shown as red, green and blue, shape (3, y, x).

    Parameters
    ----------
    data : Cutout or array_like, shape (band, y, x)
        The bands (raw, or already stretched).
    bands : sequence of str or int, optional
        As in :func:`lupton_rgb`: 1 band gives grey, 2 bands red and blue with
        their mean as green; by default the reddest to bluest bands.

    Examples
    --------
    >>> import numpy as np
    >>> cube = np.stack([np.full((2, 2), v) for v in (1.0, 2.0, 3.0)])  # g, r, z
    >>> rgb_planes(cube)[:, 0, 0]  # z as red, g as blue
    array([3., 2., 1.])
    """
    cube = _cube(data)
    if bands is None:
        bands = _default_rgb_bands(len(cube))
    if not 1 <= len(bands) <= 3:
        raise ValueError(f"give 1, 2 or 3 bands for a colour image, got {list(bands)}")
    planes = [_band_plane(data, cube, band) for band in bands]
    if len(planes) == 1:
        planes *= 3
    elif len(planes) == 2:
        planes.insert(1, (planes[0] + planes[1]) / 2)
    return np.stack(planes)


def _default_rgb_bands(n_bands: int) -> list[int]:
    """Indices of the default red, green and blue bands among ``n_bands``."""
    if n_bands == 0:
        raise ValueError("cannot make a colour image without bands")
    if n_bands <= 3:
        return list(range(n_bands - 1, -1, -1))
    return [n_bands - 1, (n_bands - 1) // 2, 0]


def _band_plane(data: Cutout | ArrayLike, cube: np.ndarray, band: str | int) -> np.ndarray:
    """One band's plane, by name (of a Cutout) or by index."""
    if isinstance(band, str):
        if not isinstance(data, Cutout):
            raise ValueError(
                f"band {band!r}: bands of an array are chosen by index; name them with a Cutout"
            )
        return data.band(band)
    return cube[band]
