"""The :class:`Cutout`: a multi-band image of one galaxy, with its WCS.

Everything else in galseg works on cutouts: the reader builds them from FITS
files, the simulator makes them, the store keeps their pixels and ties masks to
them by :attr:`Cutout.content_hash`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
import hashlib
import os
from pathlib import Path

from astropy.wcs import WCS
import numpy as np

from .errors import CutoutError

__all__ = ["Cutout", "content_hash"]

FITS_SUFFIXES = (".fits.fz", ".fits.gz", ".fit.gz", ".fits", ".fit", ".fz")
"""File name endings of FITS files (plain, gzipped, tile-compressed), longest first."""

_HASH_BLOCK = 1 << 20  # pixels hashed at once: bounds the scratch memory to a few MB


def content_hash(data: np.ndarray, bands: Sequence[str]) -> str:
    """SHA-256 of a cutout's pixels and band names.

    The pixels are hashed as C-ordered little-endian float32 with every
    non-finite value replaced by one canonical NaN, so the same pixels give the
    same hash whatever file layout or byte order they were read from.

    Parameters
    ----------
    data : ndarray, shape (band, y, x)
        Pixels.
    bands : sequence of str
        Band names, one per plane of ``data``.

    Returns
    -------
    str
        Hex digest.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.zeros((1, 2, 2), dtype=">f4")
    >>> content_hash(a, ["r"]) == content_hash(a.astype("<f8"), ["r"])
    True
    """
    pixels = np.ascontiguousarray(data, dtype="<f4")
    digest = hashlib.sha256()
    digest.update(repr(tuple(pixels.shape)).encode())
    digest.update("\x1f".join(bands).encode())
    flat = pixels.reshape(-1)
    for start in range(0, flat.size, _HASH_BLOCK):  # no copy of the whole: large cutouts
        block = flat[start : start + _HASH_BLOCK]
        finite = np.isfinite(block)
        if not finite.all():
            block = np.where(finite, block, np.float32(np.nan)).astype("<f4")
        digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True, eq=False)
class Cutout:
    """A multi-band image cutout.

    Build one with :func:`galseg.io.read_cutout` from FITS files, or with
    :meth:`Cutout.from_array` from arrays.

    Attributes
    ----------
    data : ndarray of float32, shape (band, y, x)
        Pixels in native byte order. Non-finite input pixels are NaN; see
        :attr:`valid`.
    bands : tuple of str
        Band names, one per plane (e.g. ``("g", "r", "z")``).
    wcs : astropy.wcs.WCS or None
        Celestial (2-D) WCS of the pixel grid.
    pixel_scale : float or None
        Pixel scale in arcsec per pixel.
    source : str or None
        Where the cutout came from (a path, or several joined by ``", "``).
    survey : str or None
        Survey name if known (``"legacy"``, ``"hsc"``, ``"euclid"``, ``"rubin"``, ...).
    zero_points : dict of str to float
        Photometric AB zero point per band, where the header gives one
        (``mag = zp - 2.5 log10(pixel value)``).
    """

    data: np.ndarray
    bands: tuple[str, ...]
    wcs: WCS | None = None
    pixel_scale: float | None = None
    source: str | None = None
    survey: str | None = None
    zero_points: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        where = self.source or "array"
        data = np.asarray(self.data)
        if data.ndim != 3:
            raise CutoutError(f"{where}: expected data of shape (band, y, x), got {data.shape}")
        if len(self.bands) != data.shape[0]:
            raise CutoutError(
                f"{where}: {data.shape[0]} image planes but {len(self.bands)} band names "
                f"{tuple(self.bands)}"
            )
        if len(set(self.bands)) != len(self.bands):
            raise CutoutError(f"{where}: duplicate band names {tuple(self.bands)}")
        data = data.astype(np.float32, copy=False)
        if not data.dtype.isnative:
            data = data.astype(data.dtype.newbyteorder("="))
        finite = np.isfinite(data)
        if not finite.all():
            data = np.where(finite, data, np.float32(np.nan))
        data = np.ascontiguousarray(data)
        data.flags.writeable = False
        object.__setattr__(self, "data", data)
        object.__setattr__(self, "bands", tuple(str(b) for b in self.bands))
        object.__setattr__(self, "zero_points", dict(self.zero_points))

    @classmethod
    def from_array(
        cls,
        data: np.ndarray,
        bands: Sequence[str],
        wcs: WCS | None = None,
        pixel_scale: float | None = None,
        **kwargs,
    ) -> Cutout:
        """Build a cutout from an array, for scripts and notebooks.

        Parameters
        ----------
        data : array_like, shape (band, y, x) or (y, x)
            Pixels; a 2-D array is one band.
        bands : sequence of str
            One name per band.
        wcs : astropy.wcs.WCS, optional
            Celestial WCS. If given and ``pixel_scale`` is not, the pixel scale
            is taken from it.
        pixel_scale : float, optional
            Arcsec per pixel.
        **kwargs
            ``source``, ``survey``, ``zero_points``.

        Examples
        --------
        >>> import numpy as np
        >>> c = Cutout.from_array(np.ones((3, 64, 64)), bands=["g", "r", "z"], pixel_scale=0.262)
        >>> c.shape
        (3, 64, 64)
        """
        data = np.asarray(data)
        if data.ndim == 2:
            data = data[np.newaxis]
        if wcs is not None and pixel_scale is None:
            pixel_scale = pixel_scale_of(wcs)
        return cls(data=data, bands=tuple(bands), wcs=wcs, pixel_scale=pixel_scale, **kwargs)

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(band, y, x)``."""
        return self.data.shape  # type: ignore[return-value]

    @property
    def image_shape(self) -> tuple[int, int]:
        """``(y, x)``: the shape a mask of this cutout has."""
        return self.data.shape[1:]  # type: ignore[return-value]

    @cached_property
    def valid(self) -> np.ndarray:
        """Boolean array, shape (band, y, x): True where the pixel is finite."""
        return np.isfinite(self.data)

    @cached_property
    def content_hash(self) -> str:
        """SHA-256 of the pixels and band names (see :func:`content_hash`)."""
        return content_hash(self.data, self.bands)

    @property
    def name(self) -> str:
        """A short human name: the source file's stem, or ``"cutout"``.

        For one file per band (``ngc474_g.fits``, ``ngc474_r.fits``) it is the
        stems' common part (``ngc474``).
        """
        if not self.source:
            return "cutout"
        stems = [split_fits_suffix(Path(p).name)[0] for p in self.source.split(", ")]
        common = os.path.commonprefix(stems).rstrip("_-. ") if len(stems) > 1 else stems[0]
        return common or stems[0]

    def band(self, name: str) -> np.ndarray:
        """The image of one band, shape (y, x)."""
        try:
            return self.data[self.bands.index(name)]
        except ValueError:
            raise CutoutError(
                f"{self.source or 'cutout'}: no band {name!r}; bands are {self.bands}"
            ) from None

    def sky_coord_centre(self) -> tuple[float, float] | None:
        """(RA, Dec) in degrees of the central pixel, or None without a WCS."""
        if self.wcs is None:
            return None
        ny, nx = self.image_shape
        ra, dec = self.wcs.all_pix2world([[(nx - 1) / 2, (ny - 1) / 2]], 0)[0]
        return float(ra), float(dec)

    def __repr__(self) -> str:
        scale = f'{self.pixel_scale:.3g}"/px' if self.pixel_scale else "no pixel scale"
        wcs = "WCS" if self.wcs is not None else "no WCS"
        return f"<Cutout {self.name} bands={self.bands} shape={self.image_shape} {scale} {wcs}>"


def split_fits_suffix(filename: str) -> tuple[str, str]:
    """Split a file name into its stem and its FITS suffix.

    The suffix is one of :data:`FITS_SUFFIXES`, matched without regard to case,
    or ``""`` when the name has none of them.

    Examples
    --------
    >>> split_fits_suffix("2MASS_k.fits.gz")
    ('2MASS_k', '.fits.gz')
    >>> split_fits_suffix("notes.txt")
    ('notes.txt', '')
    """
    lower = filename.lower()
    for suffix in FITS_SUFFIXES:
        if lower.endswith(suffix) and len(filename) > len(suffix):
            return filename[: -len(suffix)], filename[-len(suffix) :]
    return filename, ""


def pixel_scale_of(wcs: WCS) -> float:
    """Mean pixel scale of a celestial WCS in arcsec per pixel."""
    from astropy.wcs.utils import proj_plane_pixel_scales

    scales = proj_plane_pixel_scales(wcs.celestial)
    return float(np.mean(scales) * 3600.0)
