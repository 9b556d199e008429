"""The truth rule (documented in :mod:`galseg.simulate`) and its constants."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy.ndimage import uniform_filter

from ..taxonomy import DEFAULT_TAXONOMY
from ._surveys import Survey, surface_brightness_limit

__all__ = [
    "BAR_SHARE",
    "HOST_CONTRAST",
    "PRIORITY",
    "TIDAL_KINDS",
    "TRUTH_BOX",
    "TRUTH_NSIGMA",
    "detectable",
    "truth_limit",
    "truth_limit_flux",
    "truth_mask",
    "visible_scale",
]

#: The low-surface-brightness tidal feature classes.
TIDAL_KINDS = ("tidal_stream", "shell", "tidal_tail")
#: Side (arcsec) of the box over which the truth limit is detected.
TRUTH_BOX = 5.0
#: Detection threshold of the truth limit, in σ of the box-averaged noise.
TRUTH_NSIGMA = 3.0
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


def detectable(light: np.ndarray, survey: Survey) -> np.ndarray:
    """Pixels where the survey's depth rule detects ``light``: its box average reaches the limit.

    The truth limit is defined for light averaged over a :data:`TRUTH_BOX` ×
    :data:`TRUTH_BOX` arcsec box, but the truth rule tests single pixels
    against it. A feature as wide as the box is detectable wherever it has
    truth; a narrower one has truth pixels whose box average stays below the
    limit: light that no smoothing at that scale reveals, and that shows only
    when summed along the feature's length (a box of the same area laid along
    a long, narrow stream detects it wherever its pixels pass the limit). The
    share of a truth mask that is detectable tells how much of it a square
    box supports.

    Parameters
    ----------
    light : ndarray, shape (y, x)
        Noiseless pixel values in the survey's reference band (e.g. one
        component of :attr:`SimulatedGalaxy.components`).
    survey : Survey
        The survey whose depth and pixel scale set the box and the limit.

    Returns
    -------
    ndarray of bool
        True where the mean of ``light`` over the box centred on the pixel
        (zero beyond the edges) is brighter than :func:`truth_limit`.

    Examples
    --------
    A stream one pixel wide at 27 mag/arcsec², a magnitude above the
    ``legacy`` truth limit, has truth but is not detectable; a band as wide as
    the box (19 pixels) at the same brightness is:

    >>> from galseg.simulate import SURVEYS
    >>> legacy = SURVEYS["legacy"]
    >>> light = np.zeros((41, 41))
    >>> light[20, :] = legacy.sb_to_flux(27.0, "r")
    >>> bool(detectable(light, legacy)[20, 20])
    False
    >>> light[11:30, :] = legacy.sb_to_flux(27.0, "r")
    >>> bool(detectable(light, legacy)[20, 20])
    True
    """
    side = round(TRUTH_BOX / survey.pixel_scale)
    boxed = uniform_filter(np.asarray(light, dtype=float), side, mode="constant")
    return boxed > truth_limit_flux(survey)


def truth_mask(components: Mapping[str, np.ndarray], survey: Survey) -> np.ndarray:
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
    >>> truth_mask({"bulge": empty, "disc": empty, "tidal_stream": stream}, legacy)
    array([[1, 1, 0]], dtype=uint8)
    """
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
