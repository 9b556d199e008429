"""The truth rule (documented in :mod:`galseg.simulate`) and its constants."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np
from scipy.ndimage import gaussian_filter

from ..surveys import Survey, surface_brightness_limit
from ..taxonomy import DEFAULT_TAXONOMY

__all__ = [
    "BAR_SHARE",
    "HOST_CONTRAST",
    "PRIORITY",
    "TIDAL_KINDS",
    "TRUTH_BOX",
    "TRUTH_NSIGMA",
    "VISIBLE_NSIGMA",
    "VISIBLE_SMOOTHING",
    "truth_limit",
    "truth_limit_flux",
    "truth_mask",
    "visible",
    "visible_limit_flux",
    "visible_scale",
]

#: The low-surface-brightness tidal feature classes.
TIDAL_KINDS = ("tidal_stream", "shell", "tidal_tail")
#: Side (arcsec) of the box over which the truth limit is detected.
TRUTH_BOX = 5.0
#: Detection threshold of the truth limit, in σ of the box-averaged noise.
TRUTH_NSIGMA = 3.0
#: Gaussian σ (arcsec) of the smoothing under which an expert judges faint light.
VISIBLE_SMOOTHING = 1.0
#: Light is visible where, so smoothed, it reaches this many σ of the smoothed sky noise.
VISIBLE_NSIGMA = 3.0
#: A tidal feature shows where it is at least this fraction of the host's light.
HOST_CONTRAST = 0.1
#: A bar pixel has at least this fraction of the disc light: the bar is a
#: structure of the disc, and the bulge over the centre does not hide it.
BAR_SHARE = 0.5
#: Label order: later classes overwrite earlier ones where they overlap.
PRIORITY = ("tidal_tail", "tidal_stream", "shell", "bar", "contaminant")


def truth_limit(survey: Survey) -> float:
    """The truth limit of a survey, mag/arcsec² in its reference band.

    The surface brightness detected at :data:`TRUTH_NSIGMA` σ when averaged
    over a :data:`TRUTH_BOX` × :data:`TRUTH_BOX` arcsec box of white noise.

    Examples
    --------
    >>> from galseg.simulate import SURVEYS
    >>> round(truth_limit(SURVEYS["legacy"]), 2)
    28.25
    """
    return surface_brightness_limit(
        survey.reference.noise_sb, survey.pixel_scale, box=TRUTH_BOX, nsigma=TRUTH_NSIGMA
    )


def truth_limit_flux(survey: Survey) -> float:
    """The truth limit (:func:`truth_limit`) as a pixel value in the survey's reference band.

    Examples
    --------
    :data:`TRUTH_NSIGMA` σ of the noise averaged over a box 19 ``legacy``
    pixels wide is 3/19 of one pixel's noise:

    >>> from galseg.simulate import SURVEYS
    >>> legacy = SURVEYS["legacy"]
    >>> round(float(truth_limit_flux(legacy) / legacy.noise_sigma("r")), 3)
    0.157
    """
    return survey.sb_to_flux(truth_limit(survey), survey.reference_band)


def visible_limit_flux(survey: Survey) -> float:
    """The least smoothed pixel value that :func:`visible` accepts, in the reference band.

    White noise of per-pixel σ, smoothed by a Gaussian of σ_s pixels, has the
    noise σ / (2 √π σ_s); the limit is :data:`VISIBLE_NSIGMA` times that, with
    σ_s = :data:`VISIBLE_SMOOTHING` / pixel scale.

    Examples
    --------
    One arcsec is 3.8 ``legacy`` pixels, so the limit is 3 / (2 √π × 3.8) of
    one pixel's noise:

    >>> from galseg.simulate import SURVEYS
    >>> legacy = SURVEYS["legacy"]
    >>> round(float(visible_limit_flux(legacy) / legacy.noise_sigma("r")), 3)
    0.222
    """
    sigma_pixels = VISIBLE_SMOOTHING / survey.pixel_scale
    smoothed_noise = survey.noise_sigma(survey.reference_band) / (2 * np.sqrt(np.pi) * sigma_pixels)
    return float(VISIBLE_NSIGMA * smoothed_noise)


def visible(light: np.ndarray, survey: Survey) -> np.ndarray:
    """Pixels where ``light`` shows to an expert: smoothed, it stands out of the smoothed sky.

    Experts judge low-surface-brightness light smoothed (DS9's Smooth, binned
    views), so a pixel counts as visible where ``light`` convolved with a
    Gaussian of σ = :data:`VISIBLE_SMOOTHING` arcsec reaches
    :data:`VISIBLE_NSIGMA` σ of the sky noise smoothed alike
    (:func:`visible_limit_flux`). A broad plume is visible down to about
    27.9 mag/arcsec² in ``legacy``; a narrow stream needs brighter pixels, as
    its light is spread over the kernel.

    Parameters
    ----------
    light : ndarray, shape (y, x)
        Noiseless pixel values in the survey's reference band (e.g. one
        component of :attr:`SimulatedGalaxy.components`).
    survey : Survey
        The survey whose noise and pixel scale set the kernel and the limit.

    Returns
    -------
    ndarray of bool
        True where the smoothed light (zero beyond the edges) reaches the limit.

    Examples
    --------
    A stream one pixel wide at 26 mag/arcsec² is below the ``legacy`` sky's
    1σ per pixel and does not show; ten pixels wide at the same brightness,
    it does:

    >>> from galseg.simulate import SURVEYS
    >>> legacy = SURVEYS["legacy"]
    >>> light = np.zeros((41, 41))
    >>> light[20, :] = legacy.sb_to_flux(26.0, "r")
    >>> bool(visible(light, legacy)[20, 20])
    False
    >>> light[15:25, :] = legacy.sb_to_flux(26.0, "r")
    >>> bool(visible(light, legacy)[20, 20])
    True
    """
    sigma_pixels = VISIBLE_SMOOTHING / survey.pixel_scale
    smoothed = gaussian_filter(np.asarray(light, dtype=float), sigma_pixels, mode="constant")
    return smoothed >= visible_limit_flux(survey)


def truth_mask(
    components: Mapping[str, np.ndarray],
    survey: Survey,
    *,
    rule: Literal["visible", "deep"] = "visible",
    noise: np.ndarray | None = None,
) -> np.ndarray:
    """Apply the truth rule to the reference-band images of a scene's components.

    Parameters
    ----------
    components : mapping of str to ndarray
        Noiseless, PSF-convolved pixel values in the reference band of
        ``"bulge"`` and ``"disc"`` and, where present, ``"bar"``,
        ``"tidal_stream"``, ``"shell"``, ``"tidal_tail"`` and
        ``"contaminant"`` (as in :attr:`SimulatedGalaxy.components`).
    survey : Survey
        The survey whose depth sets the limits.
    rule : {"visible", "deep"}
        ``"visible"`` (what models are trained and judged on) keeps, of the
        tidal features and the bar, only the pixels where the class's light
        is :func:`visible`; ``"deep"`` keeps every pixel above the truth limit.
    noise : ndarray, optional
        Sky noise of one observation in the reference band, added to each
        class's light before the visibility test: the truth as judged by eye
        from that observation with every other light taken away exactly (see
        :meth:`SimulatedGalaxy.observed_truth`). By default the test is made
        on the noiseless light.

    Returns
    -------
    ndarray of uint8
        Label image with :data:`galseg.DEFAULT_TAXONOMY` values.

    Examples
    --------
    A stream fading from 27 to 29 mag/arcsec² over three pixels, far from the
    galaxy; the ``legacy`` truth limit is 28.25:

    >>> from galseg.simulate import SURVEYS
    >>> legacy = SURVEYS["legacy"]
    >>> empty = np.zeros((1, 3))
    >>> stream = legacy.sb_to_flux(np.array([[27.0, 28.0, 29.0]]), "r")
    >>> truth_mask({"bulge": empty, "disc": empty, "tidal_stream": stream}, legacy, rule="deep")
    array([[1, 1, 0]], dtype=uint8)

    So faint and narrow, it is not visible:

    >>> truth_mask({"bulge": empty, "disc": empty, "tidal_stream": stream}, legacy)
    array([[0, 0, 0]], dtype=uint8)
    """
    if rule not in ("visible", "deep"):
        raise ValueError(f"rule must be 'visible' or 'deep', got {rule!r}")
    ref = survey.reference_band
    limit = truth_limit_flux(survey)
    zero = np.zeros_like(components["disc"])
    bar = components.get("bar", zero)
    galaxy = components["bulge"] + components["disc"]
    contaminant = components.get("contaminant", zero)
    selected = {
        "bar": (bar > limit) & (bar >= BAR_SHARE * components["disc"]),
        "contaminant": contaminant > survey.sb_to_flux(survey.reference.noise_sb, ref),
    }
    for kind in TIDAL_KINDS:
        feature = components.get(kind, zero)
        selected[kind] = (feature > limit) & (feature >= HOST_CONTRAST * (galaxy + bar))
    if rule == "visible":
        for kind in (*TIDAL_KINDS, "bar"):
            if selected[kind].any():
                seen = components.get(kind, zero)
                selected[kind] &= visible(seen if noise is None else seen + noise, survey)
    truth = np.zeros(zero.shape, dtype=np.uint8)
    for kind in PRIORITY:
        truth[selected[kind]] = DEFAULT_TAXONOMY[kind].value
    return truth


def visible_scale(feature: np.ndarray, host: np.ndarray, peak: float) -> float:
    """The factor that gives a feature a peak of ``peak`` where the host does not outshine it.

    Scaled by it, the brightest pixel of ``feature`` among those where it is at
    least :data:`HOST_CONTRAST` times ``host`` has the value ``peak`` (or, in
    the rare case that no scale gives exactly that, the least above it).

    Parameters
    ----------
    feature : ndarray
        The feature's light, any positive scale.
    host : ndarray
        The host galaxy's light (bulge + disc + bar), same shape.
    peak : float
        The wanted peak pixel value.

    Examples
    --------
    Without a host the peak is the feature's maximum; a bright host hides it:

    >>> feature = np.array([1.0, 2.0, 4.0])
    >>> visible_scale(feature, np.zeros(3), 8.0)
    2.0
    >>> visible_scale(feature, np.array([0.0, 0.0, 1000.0]), 8.0)
    4.0
    """
    lit = feature > 0
    f, h = feature[lit], np.broadcast_to(host, feature.shape)[lit]
    # A pixel shows once the scale reaches HOST_CONTRAST * h / f; take the
    # pixels in that order: with the first k showing, the peak is scale * max(f[:k]).
    order = np.argsort(HOST_CONTRAST * h / f)
    shows_at = (HOST_CONTRAST * h / f)[order]
    brightest = np.maximum.accumulate(f[order])
    return float(np.min(np.maximum(peak / brightest, shows_at)))
