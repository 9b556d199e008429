"""Flat morphology labels of a simulated galaxy, for pretraining."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..surveys import Survey
from ..taxonomy import DEFAULT_TAXONOMY
from ._host import Host
from ._truth import TIDAL_KINDS, truth_limit

__all__ = ["make_labels"]


def make_labels(
    host: Host,
    survey: Survey,
    truth: np.ndarray,
    peak_sb: Mapping[str, float],
    counts: Mapping[str, int],
    host_mag: float,
    stars: np.ndarray,
    companions: np.ndarray,
) -> dict[str, bool | int | float]:
    """The labels listed in :func:`galseg.simulate.simulate_galaxy`.

    Presence labels come from the truth mask, so a feature too faint to see is
    labelled absent (its ``<kind>_peak_sb`` still says how faint it was).
    """
    present = {c.name: bool((truth == c.value).any()) for c in DEFAULT_TAXONOMY.feature_classes}
    labels: dict[str, bool | int | float] = {"tidal_feature": any(present[k] for k in TIDAL_KINDS)}
    for kind in TIDAL_KINDS:
        labels[kind] = present[kind]
        labels[f"{kind}_peak_sb"] = float(peak_sb.get(kind, np.nan))
    labels["n_shells"] = int(counts.get("shell", 0))
    labels["n_tails"] = int(counts.get("tidal_tail", 0))
    labels["bar"] = present["bar"]
    labels["bar_strength"] = float(host.bar.fraction) if host.bar is not None else 0.0
    scale = survey.pixel_scale
    labels.update(
        disc_inclination=float(np.degrees(host.inclination)),
        disc_position_angle=float(np.degrees(host.position_angle)),
        disc_axis_ratio=float(host.axis_ratio),
        disc_scale_length=float(host.disc_scale * scale),
        disc_central_sb=float(host.disc_sb),
        spiral_arm_strength=float(host.arms.amplitude),
        bulge_to_total=float(host.bulge_to_total),
        bulge_sersic_index=float(host.bulge_index),
        bulge_effective_radius=float(host.bulge_radius * scale),
        galaxy_mag=float(host_mag),
        n_companions=_labelled(truth, companions),
        n_stars=_labelled(truth, stars),
        truth_limit_sb=truth_limit(survey),
        sky_noise_sb=float(survey.reference.noise_sb),
    )
    return labels


def _labelled(truth: np.ndarray, xy: np.ndarray) -> int:
    """How many of the positions ``xy`` fall on a contaminant pixel of the truth."""
    ix, iy = np.round(xy[:, 0]).astype(int), np.round(xy[:, 1]).astype(int)
    inside = (ix >= 0) & (ix < truth.shape[1]) & (iy >= 0) & (iy < truth.shape[0])
    value = DEFAULT_TAXONOMY["contaminant"].value
    return int((truth[iy[inside], ix[inside]] == value).sum())
