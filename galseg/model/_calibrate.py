"""Calibrate automatic mode: per-class thresholds and a least piece size.

On simulated cutouts never trained on nor benchmarked (training-range seeds
from :data:`CALIBRATION_SEEDS`, the training survey mix), half with features
(each kind with probability 1/2, at least one) and half featureless, every
threshold of :data:`THRESHOLDS` and least piece size of :data:`MIN_PIXELS`
is tried. For each piece size, each tidal and bar class gets the threshold
of best mean IoU on the cutouts that have it, among those that put any of
its pixels on at most :data:`FALSE_POSITIVE_SHARE` of the featureless
cutouts; the piece size with the best mean IoU over those classes wins. A
class that no threshold keeps off the featureless cutouts keeps the default
threshold (a higher one would cost it the features it finds, not spare the
featureless cutouts), and so do contaminants and classes no calibration
cutout has.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._progress import Progress, track
from ..simulate import FEATURE_KINDS, simulate_galaxy
from ._assistant import Assistant
from ._automatic import AutomaticRule
from ._checkpoint import read_checkpoint, record_in_card
from ._data import SURVEY_MIX, some_features
from ._evaluate import iou

__all__ = [
    "CALIBRATION_SEEDS",
    "FALSE_POSITIVE_SHARE",
    "MIN_PIXELS",
    "THRESHOLDS",
    "Calibration",
    "calibrate_automatic",
]

CALIBRATION_SEEDS = 900_000
"""First simulator seed of the calibration cutouts (training range, never trained on)."""

THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
"""Thresholds tried for each class."""

MIN_PIXELS = (0, 25, 50, 100, 200)
"""Least piece sizes tried."""

FALSE_POSITIVE_SHARE = 0.01
"""Most featureless cutouts on which one class may put any pixel."""


@dataclass(frozen=True)
class Calibration:
    """What :func:`calibrate_automatic` chose and how it scored.

    Attributes
    ----------
    rule : AutomaticRule
        The chosen rule.
    iou : dict of str to float
        Each class's mean IoU on the calibration cutouts that have it.
    false_positives : float
        Share of featureless calibration cutouts with any tidal or bar pixel.
    """

    rule: AutomaticRule
    iou: dict[str, float]
    false_positives: float


def calibrate_automatic(
    checkpoint: str | Path,
    *,
    n: int = 96,
    seed: int = CALIBRATION_SEEDS,
    size: int = 256,
    device: str = "auto",
    record: dict[str, Any] | None = None,
    progress: Progress = False,
) -> Calibration:
    """Choose automatic mode's rule for a checkpoint and record it in its model card.

    Parameters
    ----------
    checkpoint : path-like
        The checkpoint; its weights are untouched, its card gains ``automatic``.
    n : int
        Cutouts with features; as many featureless ones.
    seed : int
        First simulator seed.
    size : int
        Side of the cutouts.
    device : str
        ``"auto"``, ``"cpu"`` or ``"cuda"``.
    record : dict, optional
        More to record with the rule (e.g. the command line).
    progress : bool or callable
        See :mod:`galseg._progress`.

    Returns
    -------
    Calibration
    """
    assistant = Assistant(read_checkpoint(checkpoint), device)
    names = [c.name for c in assistant.config.classes]
    kinds = [k for k in FEATURE_KINDS if k in names]
    with_features, featureless = [], []
    for i in track(range(2 * n), 2 * n, "calibrate", progress):
        s = seed + i
        features = some_features(s) if i < n else ()
        sim = simulate_galaxy(s, SURVEY_MIX[s % 3], size, features=features)
        p = assistant.segment_many([sim.cutout])[0].probability
        (with_features if i < n else featureless).append((p, sim.truth))
    best: tuple[float, AutomaticRule, dict[str, float]] | None = None
    for min_pixels in MIN_PIXELS:
        thresholds, scores = {}, {}
        for kind in kinds:
            k, value = names.index(kind), assistant.taxonomy[kind].value
            if not any((truth == value).any() for _, truth in with_features):
                continue
            scored = {}
            for t in sorted({*THRESHOLDS, assistant.threshold}):
                alone = AutomaticRule({kind: t}, min_pixels=min_pixels)
                fp = np.mean(
                    [(_labels(alone, p[k : k + 1], kind, value) > 0).any() for p, _ in featureless]
                )
                ious = [
                    iou(_labels(alone, p[k : k + 1], kind, value) > 0, truth == value)
                    for p, truth in with_features
                    if (truth == value).any()
                ]
                scored[t] = (fp <= FALSE_POSITIVE_SHARE, float(np.mean(ious)))
            allowed = [t for t, (ok, _) in scored.items() if ok]
            t = max(allowed, key=lambda t: scored[t][1]) if allowed else assistant.threshold
            thresholds[kind], scores[kind] = t, scored[t][1]
        rule = AutomaticRule(thresholds, assistant.threshold, min_pixels)
        mean = float(np.mean(list(scores.values())))
        if best is None or mean > best[0]:
            best = (mean, rule, scores)
    _, rule, scores = best
    values = [assistant.taxonomy[k].value for k in kinds]
    all_values = np.array([c.value for c in assistant.config.classes], dtype=np.uint8)
    false_positives = float(
        np.mean([np.isin(rule.labels(p, names, all_values), values).any() for p, _ in featureless])
    )
    entry = {
        **rule.record(),
        "calibration": {
            "simulator": "galseg.simulate.simulate_galaxy",
            "seeds": [seed, seed + 2 * n - 1],
            "with_features": n,
            "featureless": n,
            "size": size,
            "iou": scores,
            "false_positives": false_positives,
            **dict(record or {}),
        },
    }
    record_in_card(checkpoint, "automatic", entry)
    return Calibration(rule, scores, false_positives)


def _labels(rule: AutomaticRule, p: np.ndarray, kind: str, value: int) -> np.ndarray:
    return rule.labels(p, [kind], np.array([value], dtype=np.uint8))
