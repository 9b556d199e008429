"""Survey presets: bands, pixel scale, PSF, depth and photometric zero points.

Depth is given, per band, as the per-pixel 1σ sky noise expressed as a surface
brightness (mag/arcsec²). Published depths are usually quoted as the surface
brightness detected at ``k``σ in a box of ``L × L`` arcsec; for white noise the
mean over the box has the noise of one pixel divided by the square root of the
number of pixels in it, so

    μ_pixel(1σ) = μ_box(kσ) + 2.5 log10(k) - 2.5 log10(L / pixel_scale)

and :func:`surface_brightness_limit` is the inverse of that conversion.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

__all__ = [
    "Band",
    "Survey",
    "SURVEYS",
    "surface_brightness_limit",
    "get_survey",
    "identify_survey",
]


def surface_brightness_limit(
    noise_sb: float, pixel_scale: float, box: float = 10.0, nsigma: float = 3.0
) -> float:
    """Surface brightness detected at ``nsigma`` when averaged over a square box.

    Parameters
    ----------
    noise_sb : float
        Per-pixel 1σ sky noise as a surface brightness, mag/arcsec².
    pixel_scale : float
        Arcsec per pixel.
    box : float
        Side of the box in arcsec.
    nsigma : float
        Detection threshold in units of the box-averaged noise.

    Returns
    -------
    float
        The limiting surface brightness in mag/arcsec² (white noise assumed).

    Examples
    --------
    The Legacy Surveys r band: 3σ in 10″×10″ boxes, then in 5″×5″ boxes.

    >>> round(surface_brightness_limit(26.24, 0.262), 2)
    29.0
    >>> round(surface_brightness_limit(26.24, 0.262, box=5.0), 2)
    28.25
    """
    return float(noise_sb + 2.5 * np.log10(box / pixel_scale) - 2.5 * np.log10(nsigma))


@dataclass(frozen=True)
class Band:
    """One filter of a survey.

    Attributes
    ----------
    name : str
        Band name, e.g. ``"r"``.
    zero_point : float
        AB zero point of the pixel values: ``mag = zero_point - 2.5 log10(value)``.
    psf_fwhm : float
        FWHM of the Moffat PSF in arcsec.
    moffat_beta : float
        Moffat index β of the PSF (smaller β: heavier wings).
    noise_sb : float
        Per-pixel 1σ sky noise as a surface brightness, mag/arcsec².
    colour_slope : float
        Colour of a component in this band relative to the reference band, per
        unit of its ``g - r`` colour: ``m_band - m_ref = colour_slope * (g - r)``.
    """

    name: str
    zero_point: float
    psf_fwhm: float
    moffat_beta: float
    noise_sb: float
    colour_slope: float


@dataclass(frozen=True)
class Survey:
    """A survey preset: what a cutout of that survey looks like.

    Attributes
    ----------
    name : str
        Preset name, written to :attr:`galseg.Cutout.survey`.
    pixel_scale : float
        Arcsec per pixel.
    bands : tuple of Band
        The bands, in the order of the cutout's planes.
    reference_band : str
        The band in which surface brightnesses (feature brightness, truth
        limits) are defined.
    """

    name: str
    pixel_scale: float
    bands: tuple[Band, ...]
    reference_band: str

    @property
    def band_names(self) -> tuple[str, ...]:
        """The band names, in plane order."""
        return tuple(b.name for b in self.bands)

    def band(self, name: str) -> Band:
        """The band called ``name``."""
        for band in self.bands:
            if band.name == name:
                return band
        raise KeyError(f"survey {self.name!r} has no band {name!r}; bands are {self.band_names}")

    @property
    def reference(self) -> Band:
        """The reference band."""
        return self.band(self.reference_band)

    def sb_to_flux(self, sb: float | np.ndarray, band: str) -> float | np.ndarray:
        """Pixel value of a surface brightness ``sb`` (mag/arcsec²) in ``band``."""
        return 10.0 ** (-0.4 * (np.asarray(sb) - self.band(band).zero_point)) * self.pixel_scale**2

    def flux_to_sb(self, flux: float | np.ndarray, band: str) -> float | np.ndarray:
        """Surface brightness (mag/arcsec²) of a pixel value; ``inf`` where it is ≤ 0."""
        flux = np.asarray(flux, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            sb = self.band(band).zero_point - 2.5 * np.log10(flux / self.pixel_scale**2)
        return np.where(flux > 0, sb, np.inf)

    def noise_sigma(self, band: str) -> float:
        """Per-pixel 1σ sky noise of ``band`` in pixel units."""
        return float(self.sb_to_flux(self.band(band).noise_sb, band))

    def band_ratio(self, band: str, colour: float) -> float:
        """Pixel value in ``band`` per unit pixel value in the reference band.

        Parameters
        ----------
        band : str
            Band name.
        colour : float
            The component's ``g - r`` colour (AB mag).
        """
        b, ref = self.band(band), self.reference
        return float(10.0 ** (-0.4 * (b.colour_slope * colour + ref.zero_point - b.zero_point)))


def _band(
    name: str,
    zero_point: float,
    psf_fwhm: float,
    moffat_beta: float,
    depth_3sigma_10as: float,
    pixel_scale: float,
    colour_slope: float,
) -> Band:
    """A band whose depth is given as the 3σ surface brightness in 10″×10″ boxes."""
    noise_sb = depth_3sigma_10as + 2.5 * np.log10(3.0) - 2.5 * np.log10(10.0 / pixel_scale)
    return Band(name, zero_point, psf_fwhm, moffat_beta, round(float(noise_sb), 2), colour_slope)


# Legacy Surveys DR10 (DECaLS-like), 0.262″/px, pixel values in nanomaggies
# (AB zero point 22.5). Depth: r ≈ 29.0 mag/arcsec² at 3σ in 10″×10″ boxes
# (the limit quoted for stream searches in the Legacy Surveys); g and z follow
# the relative 5σ depths of the survey (g ≈ r + 0.6, z ≈ r − 0.9). Per pixel:
# 29.0 + 2.5 log10(3) − 2.5 log10(10/0.262) = 26.24 mag/arcsec² (g 26.84,
# z 25.34). PSF: median coadd FWHM g 1.45″, r 1.30″, z 1.20″; β = 2.5 gives
# heavier wings than pure atmospheric turbulence (β ≈ 4.8), as coadd PSFs have.
_LEGACY = 0.262
LEGACY = Survey(
    "legacy",
    _LEGACY,
    (
        _band("g", 22.5, 1.45, 2.5, 29.6, _LEGACY, 1.0),
        _band("r", 22.5, 1.30, 2.5, 29.0, _LEGACY, 0.0),
        _band("z", 22.5, 1.20, 2.5, 28.1, _LEGACY, -0.95),
    ),
    "r",
)

# HSC-SSP Wide, 0.168″/px, AB zero point 27.0. Point-source depths (5σ, 2″
# apertures) g 26.5, r 26.1, i 25.9 scale as white noise to 3σ in 10″×10″
# boxes as m5 + 3.68: g 30.2, r 29.8, i 29.6; we adopt 0.3 mag shallower
# (correlated coadd noise, sky-subtraction residuals): 29.9, 29.5, 29.3, i.e.
# per pixel g 26.66, r 26.26, i 26.06 mag/arcsec². PSF: median seeing
# g 0.77″, r 0.76″, i 0.58″.
_HSC = 0.168
HSC = Survey(
    "hsc",
    _HSC,
    (
        _band("g", 27.0, 0.77, 2.5, 29.9, _HSC, 1.0),
        _band("r", 27.0, 0.76, 2.5, 29.5, _HSC, 0.0),
        _band("i", 27.0, 0.58, 2.5, 29.3, _HSC, -0.45),
    ),
    "r",
)

# Euclid Wide, VIS, 0.1″/px, AB zero point 30.0. Depth: 29.8 mag/arcsec² at
# 1σ in 10″×10″ boxes, i.e. 29.8 − 2.5 log10(3) = 28.61 at 3σ, and per pixel
# 29.8 − 2.5 log10(10/0.1) = 24.8 mag/arcsec². PSF FWHM 0.16″ with β = 2.0:
# a diffraction-limited core with broad wings. VIS is the only band and the
# reference band, so its colour slope is 0.
_EUCLID = 0.1
EUCLID = Survey(
    "euclid",
    _EUCLID,
    (_band("VIS", 30.0, 0.16, 2.0, 29.8 - 2.5 * np.log10(3.0), _EUCLID, 0.0),),
    "VIS",
)

# Rubin LSST, 0.2″/px, pixel values in nJy (AB zero point 31.4), the 10-year
# coadd. Depth: r ≈ 30.3 mag/arcsec² at 3σ in 10″×10″ boxes (the 10-year
# figure of Martin et al. 2022, MNRAS 513, 1459); the other bands follow the
# relative 10-year 5σ point-source depths of the Science Requirements
# (u 26.1, g 27.4, r 27.5, i 26.8, z 26.1, y 24.9): u 28.9, g 30.2, i 29.6,
# z 28.9, y 27.7. PSF: the delivered median FWHM u 0.92″, g 0.87″, r 0.83″,
# i 0.80″, z 0.78″, y 0.76″. Colour slopes: u − r ≈ 2.5 (g − r) for galaxy
# light; i, z as for HSC and the Legacy Surveys; y − r ≈ −1.1 (g − r).
_RUBIN = 0.2
RUBIN = Survey(
    "rubin",
    _RUBIN,
    (
        _band("u", 31.4, 0.92, 2.5, 28.9, _RUBIN, 2.5),
        _band("g", 31.4, 0.87, 2.5, 30.2, _RUBIN, 1.0),
        _band("r", 31.4, 0.83, 2.5, 30.3, _RUBIN, 0.0),
        _band("i", 31.4, 0.80, 2.5, 29.6, _RUBIN, -0.45),
        _band("z", 31.4, 0.78, 2.5, 28.9, _RUBIN, -0.95),
        _band("y", 31.4, 0.76, 2.5, 27.7, _RUBIN, -1.1),
    ),
    "r",
)

SURVEYS: Mapping[str, Survey] = MappingProxyType({s.name: s for s in (LEGACY, HSC, EUCLID, RUBIN)})
"""The survey presets by name: ``legacy``, ``hsc``, ``euclid``, ``rubin``."""

_SURVEY_ALIASES = {
    "legacy": ("legacy", "decals", "desi", "decam"),
    "hsc": ("hsc", "subaru", "hyper suprime"),
    "euclid": ("euclid",),
    "rubin": ("rubin", "lsst"),
}


def identify_survey(name: str | None) -> Survey | None:
    """The preset of the survey a header value names, or None if none matches.

    ``name`` is what a FITS header says (``SURVEY``, ``TELESCOP``,
    ``DATASET``; :attr:`galseg.Cutout.survey` holds it): a preset's name or a
    common name of the survey, its telescope or its camera, in any case.

    Examples
    --------
    >>> identify_survey("LSSTCam").name, identify_survey("Subaru/HSC").name
    ('rubin', 'hsc')
    >>> identify_survey("DECam").name, identify_survey("2MASS") is None
    ('legacy', True)
    """
    text = (name or "").strip().lower()
    for preset, aliases in _SURVEY_ALIASES.items():
        if text and any(alias in text for alias in aliases):
            return SURVEYS[preset]
    return None


def get_survey(survey: str | Survey) -> Survey:
    """The preset called ``survey`` (or ``survey`` itself if it is a :class:`Survey`)."""
    if isinstance(survey, Survey):
        return survey
    try:
        return SURVEYS[survey]
    except KeyError:
        raise ValueError(
            f"unknown survey preset {survey!r}; presets are {', '.join(SURVEYS)}"
        ) from None
