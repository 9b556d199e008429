"""Simulated galaxies whose right answer is known.

:func:`simulate_galaxy` makes a multi-band survey cutout of a galaxy — Sérsic
bulge, exponential disc with spiral arms, optional bar — with
low-surface-brightness tidal features (streams, shells, tails), stars,
satellites and background galaxies, a Moffat PSF per band, white sky noise at
the survey's depth, zero points and a TAN WCS; with it come a truth mask,
noiseless images and flat morphology labels. With ``sky_residuals=True`` the
sky also has what sky subtraction and coaddition leave on real cutouts: a
smooth residual, cirrus-like fluctuations and correlated noise (the model is
trained on such skies). :func:`simulate_cutout` returns
just ``(cutout, truth)``. The presets are in :data:`SURVEYS`. :func:`sky_shapes`
draws the same shapes on the sky on any grid (:func:`tan_wcs`), the truth for a
mask carried between grids.

Truth rule
----------
Each test is made on the noiseless, PSF-convolved surface brightness of one
component alone in the survey's reference band (``r`` for ``legacy`` and
``hsc``, ``VIS`` for ``euclid``), so the truth does not depend on the noise
drawn. The truth is **what an expert can see**: models are trained and judged
on it, and the sample cutouts carry it.

- **tidal_stream (1), shell (2), tidal_tail (3)**: the feature is brighter
  than the survey's *truth limit* — the surface brightness detected at 3σ when
  averaged over a 5″×5″ box of the survey's noise (:func:`truth_limit`:
  28.25 mag/arcsec² for ``legacy``, 28.75 for ``hsc``, 27.85 for ``euclid``) —
  it is not outshone by the host (at least a tenth of the bulge + disc + bar
  light there), and it is **visible**: its light, smoothed by a Gaussian of
  σ = 1″ as an expert smooths a deep image to judge faint light, reaches 3σ
  of the sky noise smoothed alike (:func:`visible`). A broad plume is visible
  down to about 27.9 mag/arcsec² in ``legacy``; a narrow stream needs
  brighter light.
- **bar (4)**: the bar is brighter than the truth limit, visible, and at
  least half of the disc light there. The bar is a structure of the disc, and
  the bulge over the centre does not hide it: a bar's mask runs across the
  centre.
- **contaminant (5)**: stars, satellites and background galaxies together are
  brighter than the per-pixel 1σ sky noise (26.24 mag/arcsec² for ``legacy``,
  26.26 for ``hsc``, 24.80 for ``euclid``), so only the bodies one sees in
  single pixels are masked.
- **overlaps**: tidal_tail < tidal_stream < shell < bar < contaminant (the
  later class wins).

The **deep truth** (:attr:`SimulatedGalaxy.deep_truth`,
``truth_mask(..., rule="deep")``) drops the visibility test: every pixel
above the truth limit, including the faint fringe and narrow light that
shows only when summed along a feature's length. The completion benchmark
reports it beside the visible truth, as a second column, not a target.

A tidal feature is scaled so that its brightest point where the host does not
outshine it has the requested (or drawn) surface brightness, its *peak*: so it
has deep truth pixels exactly when its peak is brighter than the truth limit
(unless a later class covers them all). Features drawn at random are often
too faint to see: honest negatives. :func:`truth_mask` applies the rule.

Examples
--------
>>> from galseg.simulate import simulate_cutout
>>> cutout, truth = simulate_cutout(0, survey="legacy", size=128)
>>> cutout.bands, cutout.pixel_scale, cutout.zero_points["r"]
(('g', 'r', 'z'), 0.262, 22.5)
"""

from ..surveys import SURVEYS, Band, Survey, identify_survey, surface_brightness_limit
from ._annotators import SimulatedAnnotator
from ._dataset import TRUTH_ANNOTATOR, write_simulated_set, write_simulation
from ._scene import (
    FEATURE_KINDS,
    FEATURE_RATES,
    FEATURE_SB_RANGE,
    SimulatedGalaxy,
    simulate_cutout,
    simulate_galaxy,
)
from ._sky import sky_offsets, sky_shapes, tan_wcs
from ._truth import truth_limit, truth_limit_flux, truth_mask, visible, visible_limit_flux

__all__ = [
    "FEATURE_KINDS",
    "FEATURE_RATES",
    "FEATURE_SB_RANGE",
    "SURVEYS",
    "TRUTH_ANNOTATOR",
    "Band",
    "SimulatedAnnotator",
    "SimulatedGalaxy",
    "Survey",
    "identify_survey",
    "simulate_cutout",
    "simulate_galaxy",
    "sky_offsets",
    "sky_shapes",
    "surface_brightness_limit",
    "tan_wcs",
    "truth_limit",
    "truth_limit_flux",
    "truth_mask",
    "visible",
    "visible_limit_flux",
    "write_simulated_set",
    "write_simulation",
]
