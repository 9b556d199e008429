"""Reading and writing cutouts as FITS files.

:func:`read_cutout` builds a :class:`~galseg.cutout.Cutout` from the layouts
surveys hand out: a multi-extension file with one image per band, a
``(band, y, x)`` cube, or one file per band, each plain, gzipped or
tile-compressed. :func:`write_cutout` writes a cutout in any of these layouts,
losslessly.

Every problem with a file is a :class:`~galseg.errors.CutoutError` whose
message starts with the file's path and says what is wrong in plain words.

The reader takes from the headers:

Band name
    ``BAND``, else ``FILTER``, else ``EXTNAME`` (multi-extension files), else
    ``b0, b1, ...``. A cube names its planes with ``BAND1 .. BANDn`` or with
    ``BANDS`` (comma-separated). In a list of files, a file without ``BAND`` or
    ``FILTER`` is named after the end of its file name (``2MASS_k.fits.gz`` is
    band ``k``).
Zero point
    ``MAGZERO``, ``MAGZP``, ``ZEROPT``, ``PHOTZP`` or ``ZP`` of the band's
    header (or of the primary header); a cube's plane *i* also reads
    ``MAGZP<i>``.
Pixel scale
    From the celestial WCS, else ``PIXSCALE`` (arcsec per pixel).
Survey
    ``SURVEY``, else ``TELESCOP``, else ``DATASET``.
"""

from __future__ import annotations

import bz2
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
import gzip
import math
import os
from pathlib import Path
import shutil
import tempfile
from typing import TypeAlias
import uuid
import warnings
import zlib

from astropy.io import fits
from astropy.io.fits.verify import VerifyError, VerifyWarning
from astropy.utils.exceptions import AstropyUserWarning
from astropy.wcs import WCS, FITSFixedWarning
import numpy as np

from ._atomic import fsync_file
from .cutout import Cutout, split_fits_suffix
from .errors import CutoutError

__all__ = ["read_cutout", "write_cutout", "MAX_BAND_OFFSET", "MAX_PIXELS", "LAYOUTS"]

PathLike: TypeAlias = str | os.PathLike[str]
_ImageHDU: TypeAlias = fits.PrimaryHDU | fits.ImageHDU | fits.CompImageHDU

MAX_PIXELS = 10_000 * 10_000
"""Default limit on the pixels of one band that :func:`read_cutout` accepts
(``max_pixels``): a guard against opening a whole survey tile by mistake."""

MAX_BAND_OFFSET = 1.0
"""Most pixels by which the WCS of one band of a cutout may place its pixels away
from the first band's: bands further apart are of different fields (say, files
of two galaxies given together), and reading them is refused."""

LAYOUTS = ("mef", "cube", "per-band")
"""File layouts :func:`write_cutout` can write."""

_BAND_KEYS = ("BAND", "FILTER")
_MEF_BAND_KEYS = (*_BAND_KEYS, "EXTNAME")
_ZERO_POINT_KEYS = ("MAGZERO", "MAGZP", "ZEROPT", "PHOTZP", "ZP")
_SURVEY_KEYS = ("SURVEY", "TELESCOP", "DATASET")
_FITS_SIGNATURE = b"SIMPLE  ="
_DECOMPRESSORS: dict[bytes, Callable] = {b"\x1f\x8b": gzip.open, b"BZh": bz2.open}
# Rows per compression tile: reads are about 3x faster than with astropy's one-row tiles.
_TILE_ROWS = 64


@dataclass(frozen=True)
class _Band:
    """One band found in a file: where its pixels are, and what describes them."""

    name: str
    path: Path
    hdu: _ImageHDU
    plane: int | None  # index along the first axis of a cube; None for a 2-D image
    headers: tuple[fits.Header, ...]  # the band's own header first, then the primary's
    zero_point: float | None

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.hdu.shape[-2:])  # type: ignore[return-value]


# --------------------------------------------------------------------- reading
def read_cutout(
    source: PathLike | Sequence[PathLike],
    bands: str | Sequence[str] | None = None,
    *,
    max_pixels: int = MAX_PIXELS,
) -> Cutout:
    """Read a multi-band cutout from FITS files.

    Parameters
    ----------
    source : path or sequence of paths
        One FITS file holding either one 2-D image per band (in the primary
        HDU and/or extensions) or one ``(band, y, x)`` cube; or several FITS
        files holding one 2-D image each, one per band. A sequence of one
        path is read as that path. Files may be plain (``.fits``, ``.fit``),
        gzipped (``.fits.gz``) or tile-compressed (``.fz``); the content, not
        the name, decides.
    bands : str or sequence of str, optional
        Band names to keep, in this order. Default: all bands, in file order.
    max_pixels : int, optional
        Refuse bands with more pixels than this (default :data:`MAX_PIXELS`).

    Returns
    -------
    Cutout
        Pixels as native float32 with ``BSCALE``/``BZERO`` applied and every
        non-finite or ``BLANK`` pixel NaN; the celestial WCS of the first band
        (``None``, with a warning, when its WCS is broken); pixel scale,
        survey and zero points from the headers (see the module docstring).

    Raises
    ------
    CutoutError
        If a file is missing, not FITS, truncated or corrupt; holds no image,
        1-D or 4-D data, bands of different shapes or duplicate band names;
        bands whose WCS put them more than :data:`MAX_BAND_OFFSET` pixels
        apart (the message names both files); a band has no finite pixel or
        more than ``max_pixels`` pixels; or a band asked for is absent. The
        message starts with the file's path.

    Examples
    --------
    >>> import numpy as np, tempfile
    >>> from galseg import Cutout
    >>> from galseg.io import read_cutout, write_cutout
    >>> cutout = Cutout.from_array(np.ones((3, 32, 32)), bands=["g", "r", "z"])
    >>> path = write_cutout(cutout, tempfile.mkdtemp() + "/ngc1316.fits")[0]
    >>> read_cutout(path, bands=["z", "g"]).bands
    ('z', 'g')
    """
    paths = _source_paths(source)
    label = ", ".join(str(path) for path in paths)
    with _fits_warnings(), ExitStack() as files:
        if len(paths) == 1:
            with _damage_named(paths[0]):
                found = _bands_in_file(files.enter_context(_open_hdul(paths[0])), paths[0])
        else:
            found = []
            for path in paths:
                with _damage_named(path):
                    found.append(_only_band(files.enter_context(_open_hdul(path)), path))
        _check_unique(found)
        chosen = _select_bands(found, bands, label)
        _check_shapes(chosen, max_pixels)
        first = chosen[0]
        wcs = _read_wcs(first.headers[0], first.path)
        _check_aligned(chosen, wcs)
        # Each band is converted straight into its plane: no second copy of the pixels
        data = np.empty((len(chosen), *first.shape), dtype=np.float32)
        for plane, band in zip(data, chosen, strict=True):
            _read_pixels(band, plane)
            if band.plane is None or band.plane == band.hdu.shape[0] - 1:
                with suppress(AttributeError):
                    del band.hdu.data  # astropy's decoded copy: not needed any more
    return Cutout.from_array(
        data,
        bands=[band.name for band in chosen],
        wcs=wcs,
        # None lets from_array take the pixel scale from the WCS
        pixel_scale=None if wcs is not None else _header_number(first.headers, ("PIXSCALE",)),
        source=label,
        survey=_header_text(first.headers, _SURVEY_KEYS),
        zero_points={b.name: b.zero_point for b in chosen if b.zero_point is not None},
    )


def _source_paths(source: PathLike | Sequence[PathLike]) -> list[Path]:
    if isinstance(source, (str, os.PathLike)):
        return [Path(source)]
    paths = [Path(path) for path in source]
    if not paths:
        raise CutoutError("read_cutout: no FITS file given (an empty list of paths)")
    return paths


@contextmanager
def _fits_warnings() -> Iterator[None]:
    """Silence astropy's warnings on harmless header fixes; raise those on truncation."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyUserWarning)  # VerifyWarning too
        warnings.simplefilter("ignore", FITSFixedWarning)
        warnings.filterwarnings("error", "File may have been truncated", AstropyUserWarning)
        warnings.filterwarnings("error", "Error validating header", VerifyWarning)
        yield


@contextmanager
def _damage_named(path: Path) -> Iterator[None]:
    """Turn any error of astropy on a damaged file's headers into a CutoutError naming it.

    Damaged headers make astropy raise nearly any exception (a missing NAXISn
    is a KeyError, a text BITPIX a TypeError, an impossible one an
    AttributeError); all of them mean the same to a user.
    """
    try:
        yield
    except CutoutError:
        raise
    except Exception as exc:
        reason = (str(exc).strip().splitlines() or [""])[0]
        raise CutoutError(
            f"{path}: corrupt FITS file (its headers are damaged: {type(exc).__name__}: {reason})"
        ) from None


def _open_hdul(path: Path) -> fits.HDUList:
    """Open a FITS file with all its headers read; call within :func:`_fits_warnings`.

    A gzipped (or bzip2) file is decompressed, in a stream, into a temporary
    file: that is what detects its truncation, without holding the compressed
    and the decompressed bytes in memory. It is read, not memory-mapped:
    astropy cannot scale a memory-mapped integer image (``BZERO``/``BSCALE``),
    as real survey files are.
    """
    compressed = _check_fits_signature(path)
    try:
        if compressed is None:
            return fits.open(path, lazy_load_hdus=False)
        with _decompressed(path, compressed) as plain:
            return fits.open(plain, lazy_load_hdus=False, memmap=False)
    except EOFError:
        raise CutoutError(f"{path}: truncated file (the compressed data end early)") from None
    except VerifyWarning:
        raise CutoutError(f"{path}: truncated or corrupt file (a header is cut short)") from None
    except AstropyUserWarning:
        raise CutoutError(
            f"{path}: truncated file ({path.stat().st_size} bytes, less than its headers describe)"
        ) from None
    except (OSError, ValueError, zlib.error) as exc:
        raise CutoutError(f"{path}: corrupt FITS file ({exc})") from None


@contextmanager
def _decompressed(path: Path, decompress: Callable) -> Iterator[Path]:
    """A temporary plain copy of a compressed file, removed on exit (a file opened on
    it stays readable on POSIX systems)."""
    fd, name = tempfile.mkstemp(prefix="galseg-", suffix=".fits")
    try:
        with os.fdopen(fd, "wb") as plain, decompress(path, "rb") as packed:
            shutil.copyfileobj(packed, plain, 1 << 16)  # small chunks: little memory
        yield Path(name)
    finally:
        with suppress(OSError):
            os.unlink(name)


def _check_fits_signature(path: Path) -> Callable | None:
    """Raise unless ``path`` is a file that starts like a FITS file (once decompressed);
    return the function that decompresses it, or None for a plain file."""
    if not path.exists():
        raise CutoutError(f"{path}: no such file")
    if path.is_dir():
        raise CutoutError(f"{path}: is a directory, not a FITS file")
    compressed = None
    try:
        with open(path, "rb") as file:
            start = file.read(len(_FITS_SIGNATURE))
        for magic, decompress in _DECOMPRESSORS.items():
            if start.startswith(magic):
                compressed = decompress
                with decompress(path, "rb") as file:
                    start = file.read(len(_FITS_SIGNATURE))
    except EOFError:
        raise CutoutError(f"{path}: truncated file (the compressed data end early)") from None
    except (OSError, zlib.error) as exc:
        raise CutoutError(f"{path}: cannot read the file ({exc})") from None
    if not start:
        raise CutoutError(f"{path}: empty file")
    if start != _FITS_SIGNATURE:
        raise CutoutError(f"{path}: not a FITS file (it starts with {start!r}, not 'SIMPLE  =')")
    return compressed


def _image_hdus(hdul: fits.HDUList, path: Path) -> list[_ImageHDU]:
    """The HDUs of ``hdul`` that hold 2-D or 3-D images."""
    images = [hdu for hdu in hdul if hdu.is_image and hdu.shape and all(hdu.shape)]
    if not images:
        kinds = ", ".join(f"{hdu.name} ({type(hdu).__name__})" for hdu in hdul)
        raise CutoutError(f"{path}: no image data (the file holds {kinds})")
    for hdu in images:
        if isinstance(hdu, fits.CompImageHDU):
            _check_tiles(hdu, path)
        if not 2 <= len(hdu.shape) <= 3:
            raise CutoutError(
                f"{path}: HDU {hdu.name} holds {len(hdu.shape)}-D data of shape {hdu.shape}; "
                "expected 2-D images or one 3-D (band, y, x) cube"
            )
    return images


def _check_tiles(hdu: fits.CompImageHDU, path: Path) -> None:
    """Raise unless a tile-compressed image has as many tiles as its size calls for.

    Its header alone decides the size of the image astropy decodes: a damaged
    ``ZNAXISn`` would make a small file claim gigabytes.
    """
    table = hdu._bintable.header  # the stored binary table's own header
    axes = [int(table[f"ZNAXIS{i}"]) for i in range(1, int(table["ZNAXIS"]) + 1)]
    tiles = [int(table.get(f"ZTILE{i}", axes[0] if i == 1 else 1)) for i in range(1, len(axes) + 1)]
    if min(axes + tiles, default=0) < 1:
        raise CutoutError(
            f"{path}: HDU {hdu.name}: tile-compressed image of size {axes} in tiles of {tiles}"
        )
    expected = math.prod(-(-n // t) for n, t in zip(axes, tiles, strict=True))
    if expected != int(table["NAXIS2"]):
        raise CutoutError(
            f"{path}: HDU {hdu.name}: its header describes {expected} compressed tiles "
            f"(an image of {' x '.join(map(str, axes[::-1]))} pixels) but the file holds "
            f"{table['NAXIS2']}"
        )


def _headers(hdu: _ImageHDU, hdul: fits.HDUList) -> tuple[fits.Header, ...]:
    """Where keywords of ``hdu``'s image are looked up: its header, then the primary's."""
    return (hdu.header,) if hdu is hdul[0] else (hdu.header, hdul[0].header)


def _image_band(name: str, hdu: _ImageHDU, hdul: fits.HDUList, path: Path) -> _Band:
    """The band held by the 2-D image ``hdu``."""
    headers = _headers(hdu, hdul)
    zero_point = _header_number(headers, _ZERO_POINT_KEYS)
    return _Band(name, path, hdu, plane=None, headers=headers, zero_point=zero_point)


def _bands_in_file(hdul: fits.HDUList, path: Path) -> list[_Band]:
    """The bands of a file read on its own: a cube's planes, or one per 2-D image."""
    images = _image_hdus(hdul, path)
    cubes = [hdu for hdu in images if len(hdu.shape) == 3]
    if cubes and len(images) > 1:
        raise CutoutError(
            f"{path}: holds a 3-D cube and other images; expected either one "
            "(band, y, x) cube or one 2-D image per band"
        )
    if cubes:
        return _cube_bands(cubes[0], _headers(cubes[0], hdul), path)
    return [
        _image_band(_header_text((hdu.header,), _MEF_BAND_KEYS) or f"b{index}", hdu, hdul, path)
        for index, hdu in enumerate(images)
    ]


def _cube_bands(hdu: _ImageHDU, headers: tuple[fits.Header, ...], path: Path) -> list[_Band]:
    """One band per plane of a ``(band, y, x)`` cube."""
    names = _cube_band_names(hdu.header, hdu.shape[0], path)
    common = _header_number(headers, _ZERO_POINT_KEYS)
    bands = []
    for plane, name in enumerate(names):
        own = _header_number(headers, (f"MAGZP{plane + 1}",))
        zero_point = common if own is None else own
        bands.append(_Band(name, path, hdu, plane=plane, headers=headers, zero_point=zero_point))
    return bands


def _cube_band_names(header: fits.Header, n: int, path: Path) -> list[str]:
    """Plane names from ``BAND1 .. BANDn``, else ``BANDS``, else ``b0 .. b<n-1>``."""
    numbered = [_header_text((header,), (f"BAND{i + 1}",)) for i in range(n)]
    if all(numbered):
        return numbered  # type: ignore[return-value]
    listed = _header_text((header,), ("BANDS",))
    if listed is None:
        return [f"b{i}" for i in range(n)]
    names = [name.strip() for name in listed.split(",")]
    if len(names) != n:
        raise CutoutError(
            f"{path}: BANDS names {len(names)} bands ({listed!r}) but the cube has {n} planes"
        )
    return names


def _only_band(hdul: fits.HDUList, path: Path) -> _Band:
    """The single 2-D image of one file of a list of per-band files."""
    images = _image_hdus(hdul, path)
    if len(images) != 1 or len(images[0].shape) != 2:
        shapes = ", ".join("x".join(map(str, hdu.shape)) for hdu in images)
        raise CutoutError(
            f"{path}: holds images of shape {shapes}; in a list of files, each file "
            "must hold one 2-D image (one band)"
        )
    hdu = images[0]
    name = _header_text((hdu.header,), _BAND_KEYS) or _band_from_filename(path)
    return _image_band(name, hdu, hdul, path)


def _band_from_filename(path: Path) -> str:
    """The band a file name ends with: ``"k"`` for ``2MASS_k.fits.gz``.

    That is the part of the stem after its last ``_`` or ``-``, or the whole stem.
    """
    stem = split_fits_suffix(path.name)[0]
    cut = max(stem.rfind("_"), stem.rfind("-"))
    return stem[cut + 1 :] or stem


def _check_unique(found: Sequence[_Band]) -> None:
    seen: dict[str, _Band] = {}
    for band in found:
        other = seen.setdefault(band.name, band)
        if other is not band:
            where = "" if other.path == band.path else f" (and in {other.path})"
            raise CutoutError(f"{band.path}: duplicate band name {band.name!r}{where}")


def _select_bands(found: list[_Band], bands: str | Sequence[str] | None, label: str) -> list[_Band]:
    """The bands named in ``bands``, in that order (all of them when None)."""
    if bands is None:
        return found
    wanted = [bands] if isinstance(bands, str) else list(bands)
    by_name = {band.name: band for band in found}
    missing = [name for name in wanted if name not in by_name]
    available = f"the bands available are {', '.join(by_name)}"
    if not wanted:
        raise CutoutError(f"{label}: no band asked for (bands is empty); {available}")
    if missing:
        raise CutoutError(f"{label}: no band {', '.join(map(repr, missing))}; {available}")
    return [by_name[name] for name in wanted]


def _check_shapes(chosen: Sequence[_Band], max_pixels: int) -> None:
    """Raise if the bands differ in shape or one has more than ``max_pixels`` pixels."""
    first = chosen[0]
    for band in chosen:
        if band.shape != first.shape:
            shapes = ", ".join(f"{b.name} {b.shape[0]}x{b.shape[1]}" for b in chosen)
            raise CutoutError(f"{band.path}: bands of different shapes (y x): {shapes}")
    ny, nx = first.shape
    if ny * nx > max_pixels:
        raise CutoutError(
            f"{first.path}: {ny} x {nx} pixels per band, more than the limit of {max_pixels} "
            "(pass a larger max_pixels to read it)"
        )


def _check_aligned(chosen: Sequence[_Band], wcs: WCS | None) -> None:
    """Raise if a band's WCS puts its grid more than :data:`MAX_BAND_OFFSET` pixels
    from the first band's (``wcs``), at the centre or a corner.

    Bands without a usable WCS, and the planes of a cube (one header), are not compared.
    """
    first = chosen[0]
    if wcs is None:
        return
    ny, nx = first.shape
    x = np.array([0, nx - 1, 0, nx - 1, (nx - 1) / 2])
    y = np.array([0, 0, ny - 1, ny - 1, (ny - 1) / 2])
    compared = {id(first.headers[0])}
    for band in chosen[1:]:
        if id(band.headers[0]) in compared:
            continue
        compared.add(id(band.headers[0]))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a broken WCS of this band is not compared
            own = _read_wcs(band.headers[0], band.path)
        if own is None:
            continue
        with np.errstate(invalid="ignore"):
            try:
                back_x, back_y = wcs.world_to_pixel_values(*own.pixel_to_world_values(x, y))
                offset = float(np.max(np.hypot(back_x - x, back_y - y)))
            except Exception:  # wcslib fails on points it cannot project
                offset = math.nan
        if not offset <= MAX_BAND_OFFSET:  # NaN too: the grids are worlds apart
            ra, dec = own.pixel_to_world_values(x[-1], y[-1])
            ra0, dec0 = wcs.pixel_to_world_values(x[-1], y[-1])
            apart = "far" if math.isnan(offset) else f"{offset:.1f} pixels"
            where = "" if band.path == first.path else f" of {first.path}"
            raise CutoutError(
                f"{band.path}: band {band.name!r} (centre RA {float(ra):.4f} Dec "
                f"{float(dec):+.4f}) lies {apart} from band {first.name!r}{where} (centre RA "
                f"{float(ra0):.4f} Dec {float(dec0):+.4f}); the bands of one cutout must "
                f"agree on their WCS within {MAX_BAND_OFFSET:g} pixel"
            )


def _read_pixels(band: _Band, pixels: np.ndarray) -> None:
    """Read the band's image into ``pixels`` (float32, shape (y, x))."""
    try:
        if isinstance(band.hdu, fits.CompImageHDU):
            # Tile by tile into the plane, never the whole image decoded beside it
            plane = () if band.plane is None else (band.plane,)
            for start in range(0, pixels.shape[0], _TILE_ROWS):
                rows = slice(start, start + _TILE_ROWS)
                pixels[rows] = band.hdu.section[(*plane, rows)]
        else:
            pixels[...] = band.hdu.data if band.plane is None else band.hdu.data[band.plane]
    except Exception as exc:  # decoding errors come from astropy, numpy or the codecs
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CutoutError(f"{band.path}: cannot decode band {band.name!r} ({reason})") from None
    if not np.isfinite(pixels).any():
        raise CutoutError(f"{band.path}: band {band.name!r} has no finite pixel (all NaN or inf)")


def _read_wcs(header: fits.Header, path: Path) -> WCS | None:
    """The celestial WCS of ``header``, or None if it has none or a broken one.

    A broken WCS (one wcslib rejects, or a singular or non-finite transform)
    is reported with a warning that names the file.
    """
    try:
        wcs = WCS(header)
        if not wcs.has_celestial:
            return None
        celestial = wcs.celestial
        world = celestial.pixel_to_world_values(0.0, 0.0)
        if not np.isfinite(world).all() or not np.linalg.det(celestial.pixel_scale_matrix):
            raise ValueError("singular or non-finite pixel-to-sky transformation")
    except Exception as exc:  # wcslib reports problems with many exception types
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
        warnings.warn(f"{path}: ignoring its broken WCS ({reason})", stacklevel=3)
        return None
    return celestial


def _header_text(headers: Sequence[fits.Header], keys: Sequence[str]) -> str | None:
    """The first non-empty value among ``keys`` in ``headers``, as text."""
    for header in headers:
        for key in keys:
            value = str(header.get(key, "")).strip()
            if value:
                return value
    return None


def _header_number(headers: Sequence[fits.Header], keys: Sequence[str]) -> float | None:
    """The first finite number among ``keys`` in ``headers``."""
    for header in headers:
        for key in keys:
            value = header.get(key)
            is_number = isinstance(value, int | float) and not isinstance(value, bool)
            if is_number and math.isfinite(value):
                return float(value)
    return None


# --------------------------------------------------------------------- writing
def write_cutout(
    cutout: Cutout,
    path: PathLike,
    *,
    layout: str = "mef",
    overwrite: bool = False,
) -> list[Path]:
    """Write a cutout to FITS, losslessly.

    Parameters
    ----------
    cutout : Cutout
        The cutout to write.
    path : path
        Output file. Its suffix chooses the compression: ``.fits`` or ``.fit``
        none, ``.fits.gz`` gzip, ``.fz`` or ``.fits.fz`` lossless tile
        compression (``GZIP_2``, no quantization).
    layout : {"mef", "cube", "per-band"}, optional
        ``"mef"`` (default): an empty primary HDU with ``SURVEY``, ``NBANDS``
        and ``ORIGIN``, then one image extension per band (``EXTNAME`` and
        ``BAND`` the band name, the WCS, ``PIXSCALE``, ``MAGZERO``).
        ``"cube"``: one ``(band, y, x)`` image with ``BAND1 .. BANDn``,
        ``BANDS`` and ``MAGZP1 .. MAGZPn``. ``"per-band"``: one file per band,
        ``<stem>_<band><suffix>`` beside ``path``.
    overwrite : bool, optional
        Replace existing files. Default: refuse.

    Returns
    -------
    list of Path
        The files written (one, or one per band for ``"per-band"``).

    Raises
    ------
    CutoutError
        If a file exists and ``overwrite`` is False, the layout or suffix is
        unknown, or a file cannot be written.

    Notes
    -----
    Each file is written beside its final name and renamed into place, so a
    failed write never leaves a partial file. Reading any layout back with
    :func:`read_cutout` gives the same pixels, bands, zero points and WCS.

    Examples
    --------
    >>> import numpy as np, tempfile
    >>> from galseg import Cutout
    >>> from galseg.io import write_cutout
    >>> cutout = Cutout.from_array(np.zeros((2, 16, 16)), bands=["g", "r"])
    >>> files = write_cutout(cutout, tempfile.mkdtemp() + "/c.fits.fz", layout="per-band")
    >>> [f.name for f in files]
    ['c_g.fits.fz', 'c_r.fits.fz']
    """
    path = Path(path)
    if not split_fits_suffix(path.name)[1]:
        raise CutoutError(f"{path}: unknown file type; name it .fits, .fit, .fits.gz or .fits.fz")
    if layout not in LAYOUTS:
        raise CutoutError(f"{path}: unknown layout {layout!r}; expected one of {LAYOUTS}")
    if not path.parent.is_dir():
        raise CutoutError(f"{path}: cannot write the file (no folder {path.parent})")
    try:
        files = _layout_files(cutout, path, layout)
    except ValueError as exc:  # a header value FITS cannot hold (e.g. non-ASCII text)
        raise CutoutError(f"{path}: cannot write this cutout as FITS ({exc})") from None
    for target in files:
        if target.exists() and not overwrite:
            raise CutoutError(f"{target}: file exists; pass overwrite=True to replace it")
    for target, hdul in files.items():
        _write_atomically(hdul, target)
    return list(files)


def _layout_files(cutout: Cutout, path: Path, layout: str) -> dict[Path, fits.HDUList]:
    """The files that hold ``cutout`` in ``layout``, by path."""
    stem, suffix = split_fits_suffix(path.name)
    tiled = suffix.lower().endswith(".fz")
    if layout == "mef":
        return {path: _mef_file(cutout, tiled)}
    if layout == "cube":
        return {path: _single_image_file(cutout.data, _cube_header(cutout), tiled)}
    return {
        _per_band_path(path, stem, band, suffix): _single_image_file(
            cutout.band(band), _global_header(cutout) + _band_header(cutout, band), tiled
        )
        for band in cutout.bands
    }


def _global_header(cutout: Cutout) -> fits.Header:
    from . import __version__  # here: galseg/__init__ imports this module

    header = fits.Header()
    header["ORIGIN"] = (f"galseg {__version__}", "software that wrote this file")
    header["NBANDS"] = (len(cutout.bands), "number of bands")
    if cutout.survey:
        header["SURVEY"] = cutout.survey
    return header


def _image_header(cutout: Cutout) -> fits.Header:
    """Keywords every image of the cutout carries: its WCS and pixel scale."""
    header = fits.Header() if cutout.wcs is None else cutout.wcs.to_header(relax=True)
    if cutout.pixel_scale is not None:
        header["PIXSCALE"] = (cutout.pixel_scale, "[arcsec/pixel] pixel scale")
    return header


def _band_header(cutout: Cutout, band: str) -> fits.Header:
    header = _image_header(cutout)
    header["BAND"] = band
    if band in cutout.zero_points:
        header["MAGZERO"] = (cutout.zero_points[band], "AB zero point")
    return header


def _cube_header(cutout: Cutout) -> fits.Header:
    header = _global_header(cutout) + _image_header(cutout)
    for index, band in enumerate(cutout.bands, start=1):
        header[f"BAND{index}"] = band
        if band in cutout.zero_points:
            header[f"MAGZP{index}"] = (cutout.zero_points[band], f"AB zero point of {band}")
    header["BANDS"] = (",".join(cutout.bands), "bands of the cube planes")
    return header


def _image_hdu(data: np.ndarray, header: fits.Header, tiled: bool) -> fits.ImageHDU:
    if not tiled:
        return fits.ImageHDU(data, header)
    # Tiles of whole rows of one plane; GZIP_2 without quantization is lossless.
    tile_shape = (*(1,) * (data.ndim - 2), min(_TILE_ROWS, data.shape[-2]), data.shape[-1])
    return fits.CompImageHDU(
        data, header, compression_type="GZIP_2", quantize_level=0, tile_shape=tile_shape
    )


def _mef_file(cutout: Cutout, tiled: bool) -> fits.HDUList:
    hdus: list[fits.PrimaryHDU | fits.ImageHDU] = [fits.PrimaryHDU(header=_global_header(cutout))]
    for band in cutout.bands:
        header = _band_header(cutout, band)
        header["EXTNAME"] = band  # set here, not with name=, which would upper-case it
        hdus.append(_image_hdu(cutout.band(band), header, tiled))
    return fits.HDUList(hdus)


def _single_image_file(data: np.ndarray, header: fits.Header, tiled: bool) -> fits.HDUList:
    """A file with one image: in the primary HDU, or (tiled) in the first extension."""
    if tiled:
        return fits.HDUList([fits.PrimaryHDU(), _image_hdu(data, header, tiled)])
    return fits.HDUList([fits.PrimaryHDU(data, header)])


def _per_band_path(path: Path, stem: str, band: str, suffix: str) -> Path:
    if not band or any(sep in band for sep in ("/", "\\")):
        raise CutoutError(f"{path}: band name {band!r} cannot be part of a file name")
    return path.with_name(f"{stem}_{band}{suffix}")


@contextmanager
def _gzip_open(path: Path, mode: str) -> Iterator[gzip.GzipFile]:
    """Write gzip with no time stamp or file name in its header: same pixels, same bytes.

    Level 6 is zlib's default: nearly the size of level 9 (gzip's), several times faster.
    """
    with (
        open(path, mode) as raw,
        gzip.GzipFile(filename="", mode=mode, fileobj=raw, compresslevel=6, mtime=0) as file,
    ):
        yield file


def _write_atomically(hdul: fits.HDUList, path: Path) -> None:
    """Write ``hdul`` beside ``path`` (gzipped if ``path`` ends in .gz), then rename it there."""
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.partial")
    opener = _gzip_open if path.name.lower().endswith(".gz") else open
    try:
        with opener(partial, "wb") as file:
            hdul.writeto(file)
        fsync_file(partial)  # on disk before it takes the real name
        os.replace(partial, path)
    except (OSError, ValueError, VerifyError) as exc:
        partial.unlink(missing_ok=True)
        raise CutoutError(f"{path}: cannot write the file ({exc})") from None
