"""Training data from the simulator: pools of model inputs with truth and labels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._progress import Progress, track
from ..errors import GalsegError
from ..simulate import FEATURE_KINDS, simulate_galaxy
from ._preprocess import Preprocessing, model_input

__all__ = [
    "HELD_OUT_SEEDS",
    "SURVEY_MIX",
    "Pool",
    "augment",
    "check_size",
    "simulate_pool",
    "some_features",
]

HELD_OUT_SEEDS = 1_000_000
"""Simulator seeds from this one on are never used for training: benchmarks use them."""

SURVEY_MIX = ("legacy", "hsc", "euclid")
"""Survey presets of the training cutouts: seed ``s`` uses ``SURVEY_MIX[s % 3]``."""


@dataclass(frozen=True)
class Pool:
    """Simulated training cutouts, already turned into model inputs.

    Attributes
    ----------
    images : ndarray of float32, shape (n, channels, size, size)
        :func:`~galseg.model._preprocess.model_input` of each cutout.
    truths : ndarray of uint8, shape (n, size, size)
        Truth masks.
    labels : list of dict
        The simulator's morphology labels.
    seeds : range
        The simulator seeds.
    """

    images: np.ndarray
    truths: np.ndarray
    labels: list[dict[str, Any]]
    seeds: range
    sky_residuals: bool = False

    def record(self, features: str) -> dict[str, Any]:
        """The model card's description of this data."""
        return {
            "simulator": "galseg.simulate.simulate_galaxy",
            "seeds": [self.seeds.start, self.seeds.stop - 1],
            "surveys": list(SURVEY_MIX),
            "size": int(self.truths.shape[-1]),
            "features": features,
            "sky_residuals": self.sky_residuals,
        }


def check_size(size: int, stride: int, max_size: int | None = None) -> None:
    """Refuse a training size that is not a multiple of the network's stride or too large.

    Raises
    ------
    GalsegError
        If ``size`` is not a positive multiple of ``stride`` of at least 32,
        or exceeds ``max_size`` (the working size, default that of
        :class:`Preprocessing`).
    """
    limit = Preprocessing().max_size if max_size is None else max_size
    if size < 32 or size % stride or size > limit:
        raise GalsegError(
            f"training size must be a multiple of the network stride {stride} between 32 and "
            f"the working size {limit}, got {size}"
        )


def simulate_pool(
    n: int,
    size: int,
    seed: int,
    preprocessing: Preprocessing,
    *,
    some_feature: bool,
    sky_residuals: bool = False,
    progress: Progress = False,
) -> Pool:
    """Simulate ``n`` cutouts with seeds ``seed, seed + 1, ...`` as model inputs.

    Parameters
    ----------
    n, size : int
        Number and side of the cutouts.
    seed : int
        First seed; ``seed + n`` must not exceed :data:`HELD_OUT_SEEDS`.
    preprocessing : Preprocessing
        Turns each cutout into the encoder's input.
    some_feature : bool
        Draw each feature kind with probability 1/2 and at least one (for
        segmentation: more examples of each class); else the simulator's
        natural rates (for morphology questions). Feature brightness is drawn
        as usual, so some features are too faint to have truth pixels.
    sky_residuals : bool
        Leave the simulator's sky residuals on every cutout (smooth residual,
        cirrus-like fluctuations, correlated noise), so that a model learns
        that structure in the sky is not a feature.
    progress : bool or callable
        See :mod:`galseg._progress`.

    Raises
    ------
    GalsegError
        If the seeds reach into the held-out range.

    Examples
    --------
    >>> pool = simulate_pool(3, 32, 0, Preprocessing(), some_feature=True)
    >>> pool.images.shape, pool.truths.dtype.name
    ((3, 3, 32, 32), 'uint8')
    """
    if n < 1 or seed < 0 or seed + n > HELD_OUT_SEEDS:
        raise GalsegError(
            f"training seeds {seed}..{seed + n - 1} must lie in 0..{HELD_OUT_SEEDS - 1} "
            "(later seeds are held out for benchmarks)"
        )
    images = np.empty((n, preprocessing.in_chans, size, size), dtype=np.float32)
    truths = np.empty((n, size, size), dtype=np.uint8)
    labels = []
    seeds = range(seed, seed + n)
    for i in track(range(n), n, "simulate", progress):
        features = some_features(seeds[i]) if some_feature else None
        sim = simulate_galaxy(
            seeds[i],
            survey=SURVEY_MIX[seeds[i] % 3],
            size=size,
            features=features,
            sky_residuals=sky_residuals,
        )
        images[i] = model_input(sim.cutout, preprocessing)
        truths[i] = sim.truth
        labels.append(dict(sim.labels))
    return Pool(images, truths, labels, seeds, sky_residuals)


def some_features(seed: int) -> tuple[str, ...]:
    """The feature kinds of a segmentation cutout: each with probability 1/2, at least one.

    Examples
    --------
    >>> kinds = some_features(3)
    >>> len(kinds) >= 1 and set(kinds) <= set(FEATURE_KINDS)
    True
    """
    rng = np.random.default_rng([seed, 7])
    chosen = tuple(kind for kind in FEATURE_KINDS if rng.random() < 0.5)
    return chosen or (FEATURE_KINDS[rng.integers(len(FEATURE_KINDS))],)


def augment(
    image: np.ndarray, truth: np.ndarray | None, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray | None]:
    """A random rotation by a multiple of 90 degrees and a random flip of both.

    ``truth`` is a label image ``(y, x)`` or a stack of them ``(k, y, x)``.

    Examples
    --------
    >>> image, truth = np.arange(8.0).reshape(2, 2, 2), np.eye(2, dtype=np.uint8)
    >>> a, b = augment(image, truth, np.random.default_rng(0))
    >>> a.shape, b.shape
    ((2, 2, 2), (2, 2))
    """
    turns, flip = int(rng.integers(4)), bool(rng.integers(2))
    image = np.rot90(image, turns, axes=(-2, -1))
    image = image[..., ::-1] if flip else image
    if truth is not None:
        truth = np.rot90(truth, turns, axes=(-2, -1))
        truth = truth[..., ::-1] if flip else truth
        truth = np.ascontiguousarray(truth)
    return np.ascontiguousarray(image), truth
