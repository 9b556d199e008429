"""The benchmark's cutouts: two families of cases no training run draws from.

- ``own``: held-out cutouts of galseg's simulator (seeds from
  :data:`~galseg.model.HELD_OUT_SEEDS` on), one forced feature class each,
  scored on the visible truth, with the deep truth beside it
  (:mod:`galseg.simulate`), and the IoU of the visible truth with the same
  rule applied to the light as observed, noise included
  (:meth:`~galseg.simulate.SimulatedGalaxy.observed_truth`): how closely an
  eye that judged each pixel's smoothed light alone could match the truth.
  A tidal feature's peak surface brightness is drawn uniform in
  ``truth limit + FEATURE_SB_RANGE[0] .. truth limit`` (a bar's follows from
  the galaxy).
- ``independent``: cases from ``benchmarks/independent_cases.py``, a second
  generator written apart from :mod:`galseg.simulate` on purpose (other
  feature shapes, real sky texture and contaminants from images shipped in
  packages, correlated noise, gradients, several features per cutout), with
  its own visible truth (and the same rule on the observed light beside it).
  It lives in the source tree, not in the package.

A case is kept only if its target has at least ``min_pixels`` pixels;
otherwise the next seed is tried. Each family also gives featureless
cutouts (no tidal feature and no bar), on which automatic mode should find
nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
import importlib.util
from pathlib import Path
import sys
from types import ModuleType

import numpy as np

from ...agreement import iou
from ...cutout import Cutout
from ...errors import GalsegError
from ...simulate import FEATURE_KINDS, FEATURE_SB_RANGE, SURVEYS, simulate_galaxy, truth_limit
from ...taxonomy import DEFAULT_TAXONOMY
from .._data import HELD_OUT_SEEDS

__all__ = [
    "FAMILIES",
    "FEATURELESS_OFFSET",
    "INDEPENDENT_GENERATOR",
    "MIN_PIXELS",
    "BenchCase",
    "family_cases",
    "featureless_cutouts",
    "independent_generator",
]

FAMILIES = ("own", "independent")
"""The case families, in the order reported."""

MIN_PIXELS = 50
"""Least target pixels for a case to be used."""

FEATURELESS_OFFSET = 500_000
"""Featureless cutouts use seeds this far past the cases' first seed."""

INDEPENDENT_GENERATOR = Path(__file__).resolve().parents[3] / "benchmarks" / "independent_cases.py"
"""Where the independent family's generator lives in a source checkout."""


@dataclass(frozen=True, eq=False)
class BenchCase:
    """A cutout with one feature class to complete.

    Attributes
    ----------
    family : str
        One of :data:`FAMILIES`.
    kind : str
        The class (a name of :data:`galseg.simulate.FEATURE_KINDS`).
    name : str
        Which case: the simulator seed, or the independent case's description.
    seed : int
        The seed it was drawn with.
    cutout : Cutout
        The image.
    target : ndarray of bool, shape (y, x)
        Visible truth of ``kind``.
    deep : ndarray of bool, shape (y, x), or None
        Deep truth of ``kind`` (the ``own`` family only).
    observed_iou : float or None
        IoU of ``target`` with the truth rule applied to the observed light
        of ``kind`` (see the module notes).
    """

    family: str
    kind: str
    name: str
    seed: int
    cutout: Cutout
    target: np.ndarray
    deep: np.ndarray | None = None
    observed_iou: float | None = None


def family_cases(
    family: str,
    n: int,
    *,
    seed: int,
    size: int = 256,
    survey: str = "legacy",
    min_pixels: int = MIN_PIXELS,
) -> list[BenchCase]:
    """``n`` cases per feature class of one family, class after class.

    Parameters
    ----------
    family : str
        One of :data:`FAMILIES`.
    n : int
        Cases per class.
    seed : int
        First seed (for ``own``, at least :data:`HELD_OUT_SEEDS`).
    size : int
        Side of the cutouts.
    survey : str
        Survey preset of the ``own`` family (the independent family is
        Legacy-Surveys-like).
    min_pixels : int
        Least target pixels (``own``; the independent generator keeps 50).

    Raises
    ------
    GalsegError
        On an unknown family or survey, ``n`` below 1, a seed in the
        training range, too few seeds with a visible feature, or the
        independent generator missing.

    Examples
    --------
    >>> cases = family_cases("own", 1, seed=HELD_OUT_SEEDS, size=64)
    >>> [case.kind for case in cases], bool(cases[0].target.any())
    (['tidal_stream', 'shell', 'tidal_tail', 'bar'], True)
    """
    if n < 1:
        raise GalsegError(f"the benchmark needs at least 1 cutout per class, got {n}")
    if family == "own":
        _check_own(seed, survey)
        return list(_own_cases(n, seed, survey, size, min_pixels))
    if family == "independent":
        module = independent_generator()
        return [
            BenchCase(
                "independent",
                case.kind,
                case.name,
                seed,
                case.cutout,
                case.target,
                observed_iou=iou(case.observed, case.target),
            )
            for case in module.independent_cases(n, seed=seed, size=size)
        ]
    raise GalsegError(f"unknown case family {family!r}; families are {', '.join(FAMILIES)}")


def featureless_cutouts(
    family: str, n: int, *, seed: int, size: int = 256, survey: str = "legacy"
) -> list[Cutout]:
    """``n`` cutouts of a family with no tidal feature and no bar.

    Seeds start :data:`FEATURELESS_OFFSET` past ``seed``. The ``own``
    family's have the simulator's sky residuals (a smooth residual,
    cirrus-like fluctuations, correlated noise): structure in the sky that
    is no feature, as on real cutouts, is what a false positive is made of.

    Examples
    --------
    >>> cutouts = featureless_cutouts("own", 2, seed=HELD_OUT_SEEDS, size=64)
    >>> len(cutouts), cutouts[0].image_shape
    (2, (64, 64))
    """
    first = seed + FEATURELESS_OFFSET
    if family == "own":
        _check_own(seed, survey)
        return [
            simulate_galaxy(s, survey, size, features=(), sky_residuals=True).cutout
            for s in range(first, first + n)
        ]
    if family == "independent":
        return list(independent_generator().featureless_cutouts(n, seed=first, size=size))
    raise GalsegError(f"unknown case family {family!r}; families are {', '.join(FAMILIES)}")


def independent_generator() -> ModuleType:
    """The independent family's generator module, imported from the source tree.

    Raises
    ------
    GalsegError
        If galseg runs from an installed package without ``benchmarks/``.
    """
    name = "galseg_independent_cases"
    if name in sys.modules:
        return sys.modules[name]
    if not INDEPENDENT_GENERATOR.is_file():
        raise GalsegError(
            f"{INDEPENDENT_GENERATOR}: the independent case family needs galseg's source "
            "checkout (benchmarks/independent_cases.py); use --families own"
        )
    spec = importlib.util.spec_from_file_location(name, INDEPENDENT_GENERATOR)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while it runs
    spec.loader.exec_module(module)
    return module


def _check_own(seed: int, survey: str) -> None:
    if seed < HELD_OUT_SEEDS:
        raise GalsegError(f"benchmark seeds must be held out (>= {HELD_OUT_SEEDS}), got {seed}")
    if survey not in SURVEYS:
        raise GalsegError(f"unknown survey {survey!r}; presets are {', '.join(SURVEYS)}")


def _own_cases(n: int, seed: int, survey: str, size: int, min_pixels: int) -> Iterator[BenchCase]:
    """Yield ``n`` usable cases per class, trying seeds from ``seed`` on."""
    next_seed, limit = seed, seed + 40 * n * len(FEATURE_KINDS)
    for kind in FEATURE_KINDS:
        found = 0
        while found < n:
            if next_seed >= limit:
                raise GalsegError(
                    f"too few seeds from {seed} give a visible {kind} of at least "
                    f"{min_pixels} pixels"
                )
            case = _own_case(kind, next_seed, survey, size)
            next_seed += 1
            if np.count_nonzero(case.target) >= min_pixels:
                found += 1
                yield case


def _own_case(kind: str, seed: int, survey: str, size: int) -> BenchCase:
    """A simulated cutout with ``kind`` forced, a tidal feature at a brightness above the limit."""
    feature_sb = None
    if kind != "bar":
        low = FEATURE_SB_RANGE[0]
        feature_sb = truth_limit(SURVEYS[survey]) + np.random.default_rng([seed, 5]).uniform(low, 0)
    sim = simulate_galaxy(seed, survey, size, features=(kind,), feature_sb=feature_sb)
    value = DEFAULT_TAXONOMY[kind].value
    target = sim.truth == value
    observed = iou(sim.observed_truth() == value, target)
    return BenchCase(
        "own", kind, f"seed {seed}", seed, sim.cutout, target, sim.deep_truth == value, observed
    )
