"""The same shapes on the sky, drawn on any survey's pixel grid: a known truth
for masks carried between grids.

A mask transferred from one grid to another can be checked against the same
shapes drawn directly on the target grid. :func:`tan_wcs` makes grids of any
scale, rotation, size and pointing; :func:`sky_shapes` draws on a grid a
tilted ellipse, a disc and a thin stream fixed on the sky.

Examples
--------
>>> from astropy.coordinates import SkyCoord
>>> centre = SkyCoord(150.0, 2.0, unit="deg")
>>> euclid = tan_wcs(0.1, (240, 260), centre=centre)
>>> legacy = tan_wcs(0.262, (95, 105), centre=centre, rotation=35.0, shift=(3.0, -2.0))
>>> for wcs, shape, scale in [(euclid, (240, 260), 0.1), (legacy, (95, 105), 0.262)]:
...     disc = sky_shapes(wcs, shape, centre=centre) == 2
...     print(f"{float(disc.sum()) * scale**2:.1f} arcsec^2")  # pi 2.5^2 = 19.6 on the sky
19.8 arcsec^2
19.5 arcsec^2
"""

from __future__ import annotations

from astropy.coordinates import SkyCoord
import astropy.units as u
from astropy.wcs import WCS
import numpy as np

__all__ = ["sky_offsets", "sky_shapes", "tan_wcs"]


def tan_wcs(
    pixel_scale: float,
    shape: tuple[int, int],
    *,
    centre: SkyCoord,
    rotation: float = 0.0,
    shift: tuple[float, float] = (0.0, 0.0),
) -> WCS:
    """A TAN grid of ``pixel_scale`` arcsec/px, east left and north up when not rotated.

    Parameters
    ----------
    pixel_scale : float
        Arcsec per pixel.
    shape : (int, int)
        The grid's ``(ny, nx)``; its centre pixel is the reference point.
    centre : SkyCoord
        Where the grid points, before ``shift``.
    rotation : float
        Degrees the grid is turned by on the sky.
    shift : (float, float)
        Arcsec (east, north) from ``centre`` to the grid's centre.

    Examples
    --------
    >>> from astropy.coordinates import SkyCoord
    >>> wcs = tan_wcs(0.2, (101, 101), centre=SkyCoord(150.0, 2.0, unit="deg"), shift=(0, 3.0))
    >>> round(float(wcs.pixel_to_world(50, 50).dec.deg - 2.0) * 3600, 3)
    3.0
    """
    ny, nx = shape
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    where = centre.spherical_offsets_by(shift[0] * u.arcsec, shift[1] * u.arcsec)
    wcs.wcs.crval = [where.ra.deg, where.dec.deg]
    wcs.wcs.crpix = [(nx + 1) / 2, (ny + 1) / 2]
    c, s = np.cos(np.radians(rotation)), np.sin(np.radians(rotation))
    wcs.wcs.cd = pixel_scale / 3600 * np.array([[-c, s], [s, c]])
    return wcs


def sky_offsets(
    wcs: WCS, shape: tuple[int, int], *, centre: SkyCoord
) -> tuple[np.ndarray, np.ndarray]:
    """Each pixel centre's (east, north) offset from ``centre``, in arcsec.

    Examples
    --------
    >>> from astropy.coordinates import SkyCoord
    >>> centre = SkyCoord(150.0, 2.0, unit="deg")
    >>> east, north = sky_offsets(tan_wcs(1.0, (3, 3), centre=centre), (3, 3), centre=centre)
    >>> np.round(east[1], 3).tolist(), np.round(north[:, 1], 3).tolist()
    ([1.0, 0.0, -1.0], [-1.0, 0.0, 1.0])
    """
    y, x = np.mgrid[0 : shape[0], 0 : shape[1]]
    east, north = centre.spherical_offsets_to(wcs.pixel_to_world(x, y))
    return east.to_value(u.arcsec), north.to_value(u.arcsec)


def sky_shapes(
    wcs: WCS, shape: tuple[int, int], *, centre: SkyCoord, stream_width: float = 0.0
) -> np.ndarray:
    """Three shapes fixed on the sky around ``centre``, as a label image on the grid.

    - 3: an ellipse 12" x 5", its long axis 25 degrees north of east;
    - 2: a disc 5" across, 5" east and 5.5" south of ``centre``;
    - 1: a stream ``stream_width`` arcsec wide along an arc of radius 8" at
      position angles 200-340 degrees (south), drawn over the disc; none when
      the width is 0.

    Examples
    --------
    >>> from astropy.coordinates import SkyCoord
    >>> centre = SkyCoord(150.0, 2.0, unit="deg")
    >>> wcs = tan_wcs(0.1, (240, 260), centre=centre)
    >>> np.unique(sky_shapes(wcs, (240, 260), centre=centre, stream_width=0.2)).tolist()
    [0, 1, 2, 3]
    """
    east, north = sky_offsets(wcs, shape, centre=centre)
    pa = np.radians(25.0)
    along = east * np.cos(pa) + north * np.sin(pa)
    across = -east * np.sin(pa) + north * np.cos(pa)
    radius, angle = np.hypot(east, north), np.degrees(np.arctan2(north, east)) % 360
    mask = np.zeros(shape, np.uint8)
    mask[(along / 6.0) ** 2 + (across / 2.5) ** 2 <= 1] = 3
    mask[(east - 5.0) ** 2 + (north + 5.5) ** 2 <= 2.5**2] = 2
    if stream_width > 0:
        mask[(np.abs(radius - 8.0) <= stream_width / 2) & (angle >= 200) & (angle <= 340)] = 1
    return mask
