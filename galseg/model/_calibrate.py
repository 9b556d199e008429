"""Calibrate automatic mode: per-class thresholds, least piece sizes and shapes.

On simulated cutouts never trained on nor benchmarked (training-range seeds
from :data:`CALIBRATION_SEEDS`, the training survey mix), half with features
(each kind with probability 1/2, at least one) and half featureless, every
rule for one tidal or bar class is scored: each threshold of
:data:`THRESHOLDS`, least piece size of :data:`MIN_PIXELS` and most axis
ratio of a kept piece of :data:`AXIS_RATIOS` (a bar is elongated; the round
centre of an unbarred galaxy is not). A rule's score is its mean IoU on the
cutouts that have the class; its cost, the featureless cutouts on which it
keeps any piece.

The classes share one budget, :data:`FALSE_POSITIVE_BUDGET`: the share of
featureless cutouts with any tidal or bar pixel. Each class starts at its
cheapest rule (the best IoU among those of least cost); then, again and
again, the one move of one class to a better rule that buys the most IoU per
featureless cutout newly hit is taken, as long as the cutouts hit by any
class stay within the budget. A move that hits no new cutout is always
taken first. A class that no calibration cutout has keeps its cheapest
rule; contaminants keep the checkpoint's default threshold.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from .._progress import Progress, track
from ..simulate import FEATURE_KINDS, simulate_galaxy
from ._assistant import Assistant
from ._automatic import AutomaticRule, axis_ratios
from ._checkpoint import read_checkpoint, record_in_card
from ._data import SURVEY_MIX, some_features

__all__ = [
    "CALIBRATION_SEEDS",
    "FALSE_POSITIVE_BUDGET",
    "AXIS_RATIOS",
    "MIN_PIXELS",
    "THRESHOLDS",
    "Calibration",
    "calibrate_automatic",
]

CALIBRATION_SEEDS = 900_000
"""First simulator seed of the calibration cutouts (training range, never trained on)."""

THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
"""Thresholds tried for each class."""

MIN_PIXELS = (0, 25, 50, 100, 200, 500, 1000)
"""Least piece sizes tried (pixels of a 256 x 256 cutout)."""

AXIS_RATIOS = (None, 0.4, 0.5, 0.6, 0.7)
"""Most minor-to-major axis ratios of a kept piece tried for each class (None: any shape)."""

FALSE_POSITIVE_BUDGET = 0.05
"""Most share of featureless cutouts on which the classes together put any pixel.

Automatic mode's target. The rules are simple enough to hold on cutouts they
were not calibrated on: with the shipped model, 0 of 24 held-out featureless
cutouts of the simulator, against 4% of the calibration ones (a 3% budget
kept them clean too, at two thirds of the bars' IoU)."""


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
    sky_residuals: bool = True,
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
    sky_residuals : bool
        Simulate the cutouts with sky residuals, so that the rule's false
        positives are counted on skies like real ones.
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
        sim = simulate_galaxy(
            s, SURVEY_MIX[s % 3], size, features=features, sky_residuals=sky_residuals
        )
        p = assistant.segment_many([sim.cutout])[0].probability
        (with_features if i < n else featureless).append((p, sim.truth))
    values = {kind: assistant.taxonomy[kind].value for kind in kinds}
    with_class = {  # each class's probability map and target, on the cutouts that have it
        kind: [
            (p[names.index(kind)], truth == value)
            for p, truth in with_features
            if (truth == value).any()
        ]
        for kind, value in values.items()
    }
    frontiers = {
        kind: _frontier(cases, [p[names.index(kind)] for p, _ in featureless])
        for kind, cases in with_class.items()
    }
    chosen = _spend(frontiers, int(FALSE_POSITIVE_BUDGET * len(featureless)))
    rule = AutomaticRule(
        {kind: o.threshold for kind, o in chosen.items()},
        assistant.threshold,
        {kind: o.min_pixels for kind, o in chosen.items() if o.min_pixels},
        {kind: o.ratio for kind, o in chosen.items() if o.ratio is not None},
    )
    scores = {kind: o.iou for kind, o in chosen.items() if with_class[kind]}
    all_values = np.array([c.value for c in assistant.config.classes], dtype=np.uint8)
    feature_values = list(values.values())
    false_positives = float(
        np.mean(
            [
                np.isin(rule.labels(p, names, all_values), feature_values).any()
                for p, _ in featureless
            ]
        )
    )
    entry = {
        **rule.record(),
        "calibration": {
            "simulator": "galseg.simulate.simulate_galaxy",
            "seeds": [seed, seed + 2 * n - 1],
            "with_features": n,
            "featureless": n,
            "size": size,
            "sky_residuals": sky_residuals,
            "iou": scores,
            "false_positives": false_positives,
            "false_positive_budget": FALSE_POSITIVE_BUDGET,
            **dict(record or {}),
        },
    }
    record_in_card(checkpoint, "automatic", entry)
    return Calibration(rule, scores, false_positives)


@dataclass(frozen=True)
class _Option:
    """One class's rule and how it does: mean IoU, and which featureless cutouts it hits."""

    threshold: float
    min_pixels: int
    ratio: float | None
    iou: float
    hits: np.ndarray


def _pieces(
    probability: np.ndarray, target: np.ndarray | None, threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each piece's size, axis ratio and pixels on ``target`` (zeros without one)."""
    pieces, count = ndimage.label(probability >= threshold, structure=np.ones((3, 3), bool))
    sizes = np.bincount(pieces.ravel(), minlength=count + 1)[1:]
    on_target = np.zeros(count, int)
    if target is not None:
        on_target = np.bincount(pieces[target], minlength=count + 1)[1:]
    return sizes, axis_ratios(pieces, count), on_target


def _frontier(
    with_class: list[tuple[np.ndarray, np.ndarray]], featureless: list[np.ndarray]
) -> list[_Option]:
    """One class's rules that no other rule beats on both IoU and featureless cutouts hit.

    Ordered by cost (cutouts hit), so IoU rises along the list; on a tie the
    simpler rule (any shape, smaller least piece, lower threshold) comes first.
    """
    truth_sizes = [int(target.sum()) for _, target in with_class]
    options = []
    for t in THRESHOLDS:
        found = [_pieces(p, target, t) for p, target in with_class]
        empty = [_pieces(p, None, t) for p in featureless]
        for min_pixels in MIN_PIXELS:
            for ratio in AXIS_RATIOS:
                ious = []
                for (sizes, ratios, on_target), truth in zip(found, truth_sizes, strict=True):
                    k = _kept(sizes, ratios, min_pixels, ratio)
                    overlap = on_target[k].sum()
                    ious.append(overlap / (sizes[k].sum() + truth - overlap))
                hits = np.array([_kept(*piece[:2], min_pixels, ratio).any() for piece in empty])
                iou = float(np.mean(ious)) if ious else 0.0
                options.append(_Option(t, min_pixels, ratio, iou, hits))
    options.sort(
        key=lambda o: (o.hits.sum(), -o.iou, o.ratio is not None, o.min_pixels, o.threshold)
    )
    frontier: list[_Option] = []
    for option in options:
        if not frontier or option.iou > frontier[-1].iou:
            frontier.append(option)
    return frontier


def _kept(
    sizes: np.ndarray, ratios: np.ndarray, min_pixels: int, ratio: float | None
) -> np.ndarray:
    """Which pieces a least size and a most axis ratio keep."""
    keep = sizes >= min_pixels
    return keep if ratio is None else keep & (ratios <= ratio)


def _spend(frontiers: dict[str, list[_Option]], budget: int) -> dict[str, _Option]:
    """Each class's rule, the false-positive budget spent where it buys the most IoU.

    Parameters
    ----------
    frontiers : dict of str to list of _Option
        Each class's :func:`_frontier`.
    budget : int
        Most featureless cutouts hit by any class (a start above it is kept,
        and then only moves that hit no new cutout are taken).
    """
    chosen = {kind: options[0] for kind, options in frontiers.items()}
    while True:
        hit = int(np.logical_or.reduce([o.hits for o in chosen.values()]).sum())
        best: tuple[tuple[float, float], str, _Option] | None = None
        for kind, options in frontiers.items():
            others = [o.hits for k, o in chosen.items() if k != kind]
            for option in options[options.index(chosen[kind]) + 1 :]:
                union = int(np.logical_or.reduce([*others, option.hits]).sum())
                if union > max(budget, hit):
                    continue
                gain = option.iou - chosen[kind].iou
                rate = (np.inf, gain) if union <= hit else (gain / (union - hit), gain)
                if best is None or rate > best[0]:
                    best = (rate, kind, option)
        if best is None:
            return chosen
        chosen[best[1]] = best[2]
