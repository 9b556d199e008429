"""What the cursor points at: sky position, pixel value and surface brightness.

Examples
--------
>>> from galseg.simulate import simulate_cutout
>>> cutout, _ = simulate_cutout(0, size=64)
>>> cursor_readout(cutout, "r", 40, 12)  # doctest: +ELLIPSIS
'RA 02:46:08... Dec -13:46:... | r = ...'
>>> round(surface_brightness(1.0, zero_point=22.5, pixel_scale=0.262), 2)
19.59
"""

from __future__ import annotations

import math

from astropy import units as u

from .cutout import Cutout

__all__ = ["surface_brightness", "cursor_readout"]


def surface_brightness(value: float, zero_point: float, pixel_scale: float) -> float:
    """Surface brightness of a pixel in mag/arcsec².

    ``mu = zero_point - 2.5 log10(value / pixel_scale**2)``.

    Parameters
    ----------
    value : float
        Pixel value (flux per pixel, in the units of the zero point).
    zero_point : float
        AB zero point of the band: ``mag = zero_point - 2.5 log10(value)``.
    pixel_scale : float
        Arcsec per pixel.

    Returns
    -------
    float
        The surface brightness, or NaN where ``value`` is not positive or not
        finite (sky noise, masked pixels).

    Raises
    ------
    ValueError
        If ``pixel_scale`` is not a positive number.

    Examples
    --------
    >>> round(surface_brightness(10 ** (-0.4 * (27.0 - 22.5)) * 0.262**2, 22.5, 0.262), 6)
    27.0
    >>> surface_brightness(-0.01, 22.5, 0.262)
    nan
    """
    if not (math.isfinite(pixel_scale) and pixel_scale > 0):
        raise ValueError(f"the pixel scale must be a positive number of arcsec, not {pixel_scale}")
    if not (math.isfinite(value) and value > 0):
        return math.nan
    return zero_point - 2.5 * math.log10(value / pixel_scale**2)


def cursor_readout(cutout: Cutout, band: str, y: float, x: float) -> str:
    """One line describing the pixel under the cursor, for a status bar.

    Parameters
    ----------
    cutout : Cutout
        The cutout shown.
    band : str
        The band whose value is shown.
    y, x : float
        Cursor position in pixel coordinates (0-based; pixel ``(i, j)``
        spans ``i - 0.5 .. i + 0.5`` in ``y``, as in napari).

    Returns
    -------
    str
        ``"RA 10:02:33.12 Dec +02:13:11.8 | r = 0.0312 (26.41 mag/arcsec²)"``:
        the ICRS position of the cursor (left out without a WCS); the band's
        pixel value; its surface brightness (left out without a zero point
        for the band or a pixel scale, or for a pixel that is not positive).
        ``""`` when the cursor is outside the image.

    Raises
    ------
    CutoutError
        If the cutout has no band ``band``.

    Examples
    --------
    >>> import numpy as np
    >>> from galseg import Cutout
    >>> cutout = Cutout.from_array(np.full((1, 8, 8), 0.0312), bands=["r"], pixel_scale=0.262,
    ...                            zero_points={"r": 22.5})
    >>> cursor_readout(cutout, "r", 3.2, 4.9)
    'r = 0.0312 (23.36 mag/arcsec²)'
    >>> cursor_readout(cutout, "r", 8.6, 0)
    ''
    """
    image = cutout.band(band)
    row, column = math.floor(y + 0.5), math.floor(x + 0.5)
    ny, nx = image.shape
    if not (0 <= row < ny and 0 <= column < nx):
        return ""
    value = float(image[row, column])
    text = f"{band} = {value:.4g}"
    zero_point = cutout.zero_points.get(band)
    if zero_point is not None and (cutout.pixel_scale or 0) > 0:
        mu = surface_brightness(value, zero_point, cutout.pixel_scale)
        if math.isfinite(mu):
            text += f" ({mu:.2f} mag/arcsec²)"
    if cutout.wcs is None:
        return text
    position = cutout.wcs.pixel_to_world(x, y).icrs
    ra = position.ra.to_string(unit=u.hourangle, sep=":", precision=2, pad=True)
    dec = position.dec.to_string(unit=u.deg, sep=":", precision=1, pad=True, alwayssign=True)
    return f"RA {ra} Dec {dec} | {text}"
