"""One run of the completion benchmark: every case, stroke style and method."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
import platform

import numpy as np
import torch

from ..._progress import Progress, track
from ...errors import GalsegError
from .._assistant import Assistant, load_assistant
from .._checkpoint import Checkpoint
from .._data import HELD_OUT_SEEDS
from .._evaluate import galseg_completer, iou, run_episode, strokes_alone
from .._strokes import STROKE_STYLES
from ._baselines import WALKER_BETA, random_walker_completer, walker_image
from ._cases import FAMILIES, BenchCase, family_cases, featureless_cutouts
from ._locality import probe_locality
from ._results import AFTER, METHODS, AutomaticScore, CompletionBenchmark, Episode
from ._timing import Timing, check_sam, time_sam, time_set_image

__all__ = ["benchmark_completion"]

_TIDAL_OR_BAR = ("tidal_stream", "shell", "tidal_tail", "bar")


def benchmark_completion(
    checkpoint: str | Path | Checkpoint | None = None,
    *,
    n: int = 12,
    seed: int = HELD_OUT_SEEDS,
    independent_seed: int = 0,
    families: Sequence[str] = FAMILIES,
    styles: Sequence[str] = STROKE_STYLES,
    survey: str = "legacy",
    size: int = 256,
    max_strokes: int = 10,
    driver: str = "galseg",
    beta: float = WALKER_BETA,
    featureless: int | None = None,
    locality: bool = True,
    sam: bool = True,
    sam_reps: int = 3,
    device: str = "auto",
    progress: Progress = False,
) -> CompletionBenchmark:
    """Run the completion benchmark (protocol in :mod:`galseg.model._bench`).

    Parameters
    ----------
    checkpoint : path-like or Checkpoint, optional
        The galseg checkpoint (default: the shipped one).
    n : int
        Cutouts per class and family.
    seed : int
        First simulator seed of the ``own`` family (at least
        :data:`HELD_OUT_SEEDS`); the strokes are seeded from it too.
    independent_seed : int
        Seed of the independent family's generator.
    families : sequence of str
        Case families (:data:`~galseg.model._bench.FAMILIES`).
    styles : sequence of str
        Stroke styles (:data:`~galseg.model.STROKE_STYLES`).
    survey : str
        Survey preset of the ``own`` family.
    size : int
        Side of the cutouts in pixels.
    max_strokes : int
        Most strokes per episode: the NoC@80 cap (at least 5).
    driver : str
        The method whose errors place each next stroke (one of
        :data:`~galseg.model._bench.METHODS`).
    beta : float
        The random walker's ``beta``.
    featureless : int, optional
        Featureless cutouts per family for automatic mode's false positives
        (default ``2 * n``).
    locality : bool
        Also stroke the real images (:mod:`galseg.model._bench._locality`).
    sam : bool
        Also time Segment Anything ViT-B (needs ``segment-anything``).
    sam_reps : int
        Timed runs of SAM's image encoder (its decoder gets ten times more).
    device : str
        ``"auto"``, ``"cpu"`` or ``"cuda"``, for galseg and SAM alike.
    progress : bool or callable
        See :mod:`galseg._progress`.

    Returns
    -------
    CompletionBenchmark

    Raises
    ------
    GalsegError
        On bad settings, a missing checkpoint, or ``sam`` without
        ``segment-anything``.
    """
    if max_strokes < max(AFTER):
        raise GalsegError(f"max_strokes must be at least {max(AFTER)}, got {max_strokes}")
    if driver not in METHODS:
        raise GalsegError(f"unknown driver {driver!r}; methods are {', '.join(METHODS)}")
    unknown = [s for s in styles if s not in STROKE_STYLES]
    if unknown or not styles:
        raise GalsegError(f"stroke styles must be among {', '.join(STROKE_STYLES)}, got {unknown}")
    if sam:
        check_sam()  # fail now rather than after the episodes
    assistant = load_assistant(checkpoint, device)
    family_seed = {"own": seed, "independent": independent_seed}
    cases: list[BenchCase] = []
    for family in families:
        cases += family_cases(
            family, n, seed=family_seed.get(family, seed), size=size, survey=survey
        )
    episodes, automatic, set_image, complete = [], [], [], []
    for case in track(cases, len(cases), "benchmark", progress):
        set_image.append(time_set_image(assistant, case.cutout))
        mask = assistant.segment(case.cutout) == assistant.taxonomy[case.kind].value
        automatic.append(AutomaticScore(case.family, case.kind, iou(mask, case.target)))
        for style in styles:
            episodes.append(
                _play(assistant, case, style, seed, max_strokes, driver, beta, complete)
            )
    count = 2 * n if featureless is None else featureless
    for family in families:
        cutouts = featureless_cutouts(family, count, seed=family_seed.get(family, seed), size=size)
        for cutout in track(cutouts, len(cutouts), f"featureless ({family})", progress):
            automatic.append(
                AutomaticScore(family, None, None, _finds_a_feature(assistant, cutout))
            )
    probes = probe_locality(assistant, _TIDAL_OR_BAR, seed=seed) if locality else []
    sam_timings = (None, None)
    if sam:
        sam_timings = time_sam(
            assistant.device, encoder_reps=sam_reps, decoder_reps=10 * sam_reps, image_size=size
        )
    settings = {
        "checkpoint": str(assistant.checkpoint_path),
        "device": str(assistant.device),
        "machine": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "n": n,
        "seed": seed,
        "independent_seed": independent_seed,
        "families": list(families),
        "styles": list(styles),
        "survey": survey,
        "size": size,
        "max_strokes": max_strokes,
        "driver": driver,
        "beta": beta,
        "featureless": count,
    }
    return CompletionBenchmark(
        tuple(episodes),
        tuple(automatic),
        tuple(probes),
        Timing(f"galseg set_image ({size}x{size})", tuple(set_image)),
        Timing(f"galseg complete ({size}x{size})", tuple(complete)),
        *sam_timings,
        settings=settings,
    )


def _play(
    assistant: Assistant,
    case: BenchCase,
    style: str,
    seed: int,
    max_strokes: int,
    driver: str,
    beta: float,
    times: list[float],
) -> Episode:
    """One episode on ``case`` (its image already set) in one stroke style."""
    image = walker_image(case.cutout, assistant.config.preprocessing.stretch)
    localities: list[float] = []
    complete = galseg_completer(assistant, case.kind, times, localities)
    masks: list[np.ndarray] = []

    def galseg(positive: np.ndarray, negative: np.ndarray) -> np.ndarray:
        masks.append(complete(positive, negative))
        return masks[-1]

    completers = {
        "galseg": galseg,
        "strokes alone": strokes_alone,
        "random_walker": random_walker_completer(image, beta=beta),
    }
    rng = np.random.default_rng([seed, case.seed, STROKE_STYLES.index(style)])
    ious, signs = run_episode(
        case.target,
        completers,
        rng,
        driver=driver,
        max_strokes=max_strokes,
        always=max(AFTER),
        style=style,
    )
    after_3 = masks[min(3, len(masks)) - 1]
    return Episode(
        case.family,
        style,
        case.kind,
        case.name,
        {name: tuple(values) for name, values in ious.items()},
        tuple(signs),
        max_strokes,
        None if case.deep is None else iou(after_3, case.deep),
        float(np.mean(localities)),
        case.observed_iou,
    )


def _finds_a_feature(assistant: Assistant, cutout) -> bool:
    """Whether automatic mode puts any tidal or bar pixel on ``cutout``."""
    labels = assistant.segment(cutout)
    return bool(np.isin(labels, [assistant.taxonomy[k].value for k in _TIDAL_OR_BAR]).any())
