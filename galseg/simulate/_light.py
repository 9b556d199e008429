"""The light of a scene: its components, summed per band in Fourier space."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..surveys import Survey
from ._psf import Convolver
from ._truth import visible_scale

__all__ = ["Light"]


class Light:
    """The scene's components, summed per band in Fourier space.

    Convolution is linear, so each component is transformed once, added to
    every band's sum with its colour, and convolved with the reference PSF
    alone for the truth; each band's sum is convolved once, by :meth:`render`.

    Parameters
    ----------
    survey : Survey
        The survey: bands, reference band, colours.
    conv : Convolver
        The survey's PSFs for the image size.

    Attributes
    ----------
    reference : dict of str to ndarray
        Each component alone, PSF-convolved, in the reference band.
    """

    def __init__(self, survey: Survey, conv: Convolver) -> None:
        self._survey, self._conv = survey, conv
        self._sums: dict[str, np.ndarray | float] = dict.fromkeys(survey.band_names, 0.0)
        self.reference: dict[str, np.ndarray] = {}

    def add(self, name: str, image: np.ndarray, colour: float) -> None:
        """Add a component of one ``g - r`` colour (reference-band pixel values)."""
        spectrum = self._conv.transform(image)
        convolved = self._conv.convolve(spectrum, self._survey.reference_band)
        self._add(name, spectrum, convolved, colour)

    def add_feature(
        self, name: str, image: np.ndarray, colour: float, peak_sb: float, host: np.ndarray
    ) -> None:
        """Add a tidal feature, scaled to a peak of ``peak_sb`` where ``host`` lets it show.

        ``host`` is the convolved reference-band light of the host galaxy; see
        :func:`visible_scale`.
        """
        spectrum = self._conv.transform(image)
        convolved = self._conv.convolve(spectrum, self._survey.reference_band)
        peak = self._survey.sb_to_flux(peak_sb, self._survey.reference_band)
        scale = visible_scale(convolved, host, peak)
        self._add(name, spectrum * scale, convolved * scale, colour)

    def add_per_band(self, name: str, images: Mapping[str, np.ndarray]) -> None:
        """Add a component given as pixel values in every band."""
        for band, image in images.items():
            spectrum = self._conv.transform(image)
            self._sums[band] = self._sums[band] + spectrum
            if band == self._survey.reference_band:
                self.reference[name] = self._conv.convolve(spectrum, band)

    def render(self) -> np.ndarray:
        """The noiseless image, float32 (band, y, x)."""
        planes = [self._conv.convolve(self._sums[b], b) for b in self._survey.band_names]
        return np.stack(planes).astype(np.float32)

    def _add(self, name: str, spectrum: np.ndarray, convolved: np.ndarray, colour: float) -> None:
        self.reference[name] = convolved
        for band in self._sums:
            self._sums[band] = self._sums[band] + self._survey.band_ratio(band, colour) * spectrum
