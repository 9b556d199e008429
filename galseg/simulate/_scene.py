"""Compose a simulated cutout: host, features, contaminants, PSF, noise, WCS, truth."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from astropy.wcs import WCS
import numpy as np

from ..cutout import Cutout
from ..surveys import Survey, get_survey
from ._contaminants import draw_contaminants
from ._features import draw_shells, draw_stream, draw_tail
from ._host import draw_host, render_host
from ._labels import make_labels
from ._light import Light
from ._psf import convolver
from ._residuals import correlate_noise, sky_residual
from ._truth import TIDAL_KINDS, truth_limit, truth_mask

__all__ = [
    "FEATURE_KINDS",
    "FEATURE_RATES",
    "FEATURE_SB_RANGE",
    "SimulatedGalaxy",
    "simulate_cutout",
    "simulate_galaxy",
]

#: The features the simulator makes, by taxonomy class name.
FEATURE_KINDS = (*TIDAL_KINDS, "bar")
#: Chance of each feature when they are drawn at random.
FEATURE_RATES = MappingProxyType(
    {"tidal_stream": 0.3, "shell": 0.15, "tidal_tail": 0.2, "bar": 0.35}
)
#: Range of the peak surface brightness of a tidal feature drawn at random,
#: relative to the truth limit (about a third are too faint to see).
FEATURE_SB_RANGE = (-2.2, 1.2)

_DRAW = {"tidal_stream": draw_stream, "shell": draw_shells, "tidal_tail": draw_tail}
# One independent random stream per part of the scene, so that forcing a
# feature or its brightness leaves the rest of the galaxy as it was.
_PARTS = ("choice", "host", *TIDAL_KINDS, "contaminants", "sky", "noise", "residual")


@dataclass(frozen=True, eq=False)
class SimulatedGalaxy:
    """A simulated cutout with its truth.

    Attributes
    ----------
    cutout : Cutout
        The image: noisy, PSF-convolved, with WCS, zero points and survey.
    truth : ndarray of uint8, shape (y, x)
        Truth mask with :data:`galseg.DEFAULT_TAXONOMY` labels: what an
        expert can see, made by :func:`truth_mask` (see the rule in
        :mod:`galseg.simulate`).
    noiseless : ndarray of float32, shape (band, y, x)
        The cutout's pixels before noise was added.
    components : dict of str to ndarray
        Noiseless, PSF-convolved pixel values of each component alone in the
        reference band: ``"bulge"``, ``"disc"`` and, where present, ``"bar"``,
        ``"tidal_stream"``, ``"shell"``, ``"tidal_tail"``, ``"contaminant"``.
    labels : dict of str to bool, int or float
        Flat morphology labels (see :func:`simulate_galaxy`).
    survey : Survey
        The survey preset.
    deep_truth : ndarray of uint8, shape (y, x)
        The deep truth: every pixel of a feature above the survey's truth
        limit, seen or not (``truth_mask(..., rule="deep")``).
    """

    cutout: Cutout
    truth: np.ndarray
    noiseless: np.ndarray
    components: Mapping[str, np.ndarray]
    labels: Mapping[str, bool | int | float]
    survey: Survey
    deep_truth: np.ndarray

    def observed_truth(self) -> np.ndarray:
        """The truth rule applied to the light as observed, noise included.

        Each class's light plus this cutout's own sky noise goes through the
        visibility test (:func:`truth_mask` with ``noise``), as if an expert
        judged each pixel's smoothed light by eye with every other light
        taken away exactly. Where it differs from :attr:`truth` (made on the
        noiseless light), the noise decides: the completion benchmark reports
        their IoU beside its scores.

        Returns
        -------
        ndarray of uint8, shape (y, x)
            Label image like :attr:`truth`.

        Examples
        --------
        >>> sim = simulate_galaxy(3, "legacy", 64, features=("shell",))
        >>> observed = sim.observed_truth()
        >>> observed.shape == sim.truth.shape, observed.dtype
        (True, dtype('uint8'))
        """
        band = self.cutout.bands.index(self.survey.reference_band)
        noise = self.cutout.data[band] - self.noiseless[band]
        return truth_mask(self.components, self.survey, noise=noise)

    def surface_brightness(self, component: str) -> np.ndarray:
        """Surface brightness (mag/arcsec²) of one component, reference band; inf where dark."""
        return self.survey.flux_to_sb(self.components[component], self.survey.reference_band)


def simulate_galaxy(
    seed: int,
    survey: str | Survey = "legacy",
    size: int = 256,
    *,
    features: Iterable[str] | None = None,
    feature_sb: float | Mapping[str, float] | None = None,
    contaminants: bool = True,
    sky_residuals: bool = False,
) -> SimulatedGalaxy:
    """Simulate a multi-band cutout of a galaxy whose features are known.

    Parameters
    ----------
    seed : int
        Non-negative seed: the same seed and arguments give bit-identical
        output. Each part of the scene (host, each feature, contaminants, sky
        position, noise) has its own random stream, so forcing a feature or its
        brightness leaves the other parts unchanged.
    survey : str or Survey
        Preset name (``"legacy"``, ``"hsc"``, ``"euclid"``, ``"rubin"``) or a preset.
    size : int
        Side of the square cutout in pixels (at least 32). Galaxy and feature
        sizes scale with it; the PSF does not.
    features : iterable of str, optional
        Exactly which features to make, from ``"tidal_stream"``, ``"shell"``,
        ``"tidal_tail"`` and ``"bar"`` (``()`` for none). By default each is
        drawn with its rate in :data:`FEATURE_RATES`.
    feature_sb : float or mapping of str to float, optional
        Peak surface brightness (mag/arcsec², reference band, PSF-convolved)
        of the tidal features present — their brightest point where the host
        does not outshine them (see the truth rule) — one value for all, or
        one per kind. By default drawn uniformly within
        :data:`FEATURE_SB_RANGE` of the truth limit. A bar's brightness follows
        from its share of the galaxy light.
    contaminants : bool
        Add stars, satellites and background galaxies.
    sky_residuals : bool
        Leave on the sky what sky subtraction and coaddition leave on real
        cutouts: a smooth residual, cirrus-like large-scale fluctuations and
        correlated noise (:mod:`galseg.simulate._residuals`). They count as
        noise, not light: the truth does not change, and
        :meth:`SimulatedGalaxy.observed_truth` sees through them.

    Returns
    -------
    SimulatedGalaxy

    Raises
    ------
    ValueError
        On an unknown survey or feature, or a size below 32.

    Notes
    -----
    The labels are ``tidal_feature``, ``tidal_stream``, ``shell``,
    ``tidal_tail`` and ``bar`` (True where the truth mask has that class),
    ``<kind>_peak_sb`` for the three tidal kinds (NaN where absent; set even
    when the feature is too faint to have truth pixels), ``n_shells`` and
    ``n_tails`` (pieces drawn, 0 where absent),
    ``bar_strength`` (the bar's share of the galaxy light, 0 without a bar),
    ``disc_inclination`` and ``disc_position_angle`` (degrees, east of
    north), ``disc_axis_ratio``, ``disc_scale_length`` and
    ``bulge_effective_radius`` (arcsec), ``disc_central_sb`` (face-on),
    ``spiral_arm_strength``, ``bulge_to_total``, ``bulge_sersic_index``,
    ``galaxy_mag`` (bulge + disc + bar), ``n_companions`` and ``n_stars``
    (those whose centre pixel is labelled contaminant), ``truth_limit_sb`` and
    ``sky_noise_sb`` (reference band).

    Examples
    --------
    >>> sim = simulate_galaxy(7, survey="hsc", size=128, features=("shell",), feature_sb=26.0)
    >>> sim.cutout.bands, sim.cutout.shape
    (('g', 'r', 'i'), (3, 128, 128))
    >>> bool((sim.truth == 2).any()), sim.labels["shell"], sim.labels["bar"]
    (True, True, False)
    >>> sim.labels["shell_peak_sb"], round(sim.labels["truth_limit_sb"], 2)
    (26.0, 28.75)
    """
    preset = get_survey(survey)
    if int(size) < 32:
        raise ValueError(f"size must be at least 32 pixels, got {size}")
    size = int(size)
    streams = np.random.SeedSequence(seed).spawn(len(_PARTS))
    rng = {part: np.random.default_rng(s) for part, s in zip(_PARTS, streams, strict=True)}
    kinds = _choose_features(rng["choice"], features)
    sb_override = _feature_sb(feature_sb)
    light = Light(preset, convolver(preset, size))

    host = draw_host(rng["host"], size, barred="bar" in kinds, early="shell" in kinds)
    host_images = render_host(host, size, preset)
    colours = {"bulge": host.bulge_colour, "disc": host.disc_colour}
    if host.bar is not None:
        colours["bar"] = host.bar.colour
    for name, image in host_images.items():
        light.add(name, image, colours[name])
    host_flux = sum(image.sum() for image in host_images.values())
    host_mag = preset.reference.zero_point - 2.5 * np.log10(host_flux)

    host_light = sum(light.reference[name] for name in host_images)
    peak_sb, counts = {}, {}
    for kind in TIDAL_KINDS:
        if kind in kinds:
            feature = _DRAW[kind](rng[kind], size, host.x, host.y)
            drawn = truth_limit(preset) + rng[kind].uniform(*FEATURE_SB_RANGE)
            peak_sb[kind] = sb_override.get(kind, drawn)
            light.add_feature(kind, feature.image, feature.colour, peak_sb[kind], host_light)
            counts[kind] = feature.count

    stars = companions = np.empty((0, 2))
    if contaminants:
        found = draw_contaminants(rng["contaminants"], preset, size, (host.x, host.y), host_mag)
        light.add_per_band("contaminant", found.images)
        stars, companions = found.stars, found.companions

    noiseless = light.render()
    sigma = np.array([preset.noise_sigma(b) for b in preset.band_names], dtype=np.float32)
    noise = rng["noise"].standard_normal(noiseless.shape, dtype=np.float32)
    sky = np.float32(0.0)
    if sky_residuals:
        noise = correlate_noise(rng["residual"], noise)
        sky = sky_residual(rng["residual"], sigma, size)
    cutout = Cutout(
        data=noiseless + noise * sigma[:, None, None] + sky,
        bands=preset.band_names,
        wcs=_tan_wcs(rng["sky"], preset.pixel_scale, size),
        pixel_scale=preset.pixel_scale,
        source=None,
        survey=preset.name,
        zero_points={b.name: b.zero_point for b in preset.bands},
    )
    components = {k: v.astype(np.float32) for k, v in light.reference.items()}
    truth = truth_mask(components, preset)
    deep_truth = truth_mask(components, preset, rule="deep")
    labels = make_labels(host, preset, truth, peak_sb, counts, host_mag, stars, companions)
    for array in (truth, deep_truth, noiseless, *components.values()):
        array.flags.writeable = False
    return SimulatedGalaxy(cutout, truth, noiseless, components, labels, preset, deep_truth)


def simulate_cutout(
    seed: int, survey: str | Survey = "legacy", size: int = 256, **kwargs
) -> tuple[Cutout, np.ndarray]:
    """Simulate a cutout and its truth mask: :func:`simulate_galaxy` without the extras.

    Examples
    --------
    >>> cutout, truth = simulate_cutout(3, survey="euclid", size=64)
    >>> cutout.survey, cutout.bands, truth.shape, truth.dtype.name
    ('euclid', ('VIS',), (64, 64), 'uint8')
    """
    sim = simulate_galaxy(seed, survey, size, **kwargs)
    return sim.cutout, sim.truth


def _choose_features(rng: np.random.Generator, features: Iterable[str] | None) -> frozenset[str]:
    """The features to make: ``features``, or a random draw at :data:`FEATURE_RATES`."""
    draws = rng.random(len(FEATURE_KINDS))
    if features is None:
        drawn = zip(FEATURE_KINDS, draws, strict=True)
        return frozenset(kind for kind, u in drawn if u < FEATURE_RATES[kind])
    chosen = frozenset((features,) if isinstance(features, str) else features)
    unknown = sorted(chosen - set(FEATURE_KINDS))
    if unknown:
        raise ValueError(f"unknown features {unknown}; choose from {', '.join(FEATURE_KINDS)}")
    return chosen


def _feature_sb(feature_sb: float | Mapping[str, float] | None) -> dict[str, float]:
    """The ``feature_sb`` argument as a dict by tidal kind."""
    if feature_sb is None:
        return {}
    if not isinstance(feature_sb, Mapping):
        return dict.fromkeys(TIDAL_KINDS, float(feature_sb))
    unknown = sorted(set(feature_sb) - set(TIDAL_KINDS))
    if unknown:
        raise ValueError(
            f"feature_sb: unknown kinds {unknown}; tidal kinds are {', '.join(TIDAL_KINDS)}"
        )
    return {k: float(v) for k, v in feature_sb.items()}


def _tan_wcs(rng: np.random.Generator, pixel_scale: float, size: int) -> WCS:
    """A north-up, east-left TAN WCS centred on a random point of the sky."""
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.cunit = ["deg", "deg"]
    wcs.wcs.radesys = "ICRS"
    wcs.wcs.crval = [rng.uniform(0.0, 360.0), np.degrees(np.arcsin(rng.uniform(-1.0, 1.0)))]
    wcs.wcs.crpix = [(size + 1) / 2.0, (size + 1) / 2.0]
    wcs.wcs.cdelt = [-pixel_scale / 3600.0, pixel_scale / 3600.0]
    return wcs
