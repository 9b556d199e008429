"""The completion benchmark: galseg against the strokes alone and a random walker.

Protocol
--------
*Cutouts.* For each feature class (tidal stream, shell, tidal tail, bar),
``n`` held-out simulated cutouts (seeds from :data:`HELD_OUT_SEEDS` on, never
used in training), made with that feature forced
(``simulate_galaxy(features=(kind,))``). A tidal feature gets a peak surface
brightness drawn from the training distribution restricted to its visible
part: uniform in ``truth limit + FEATURE_SB_RANGE[0] .. truth limit`` (a bar's
brightness follows from the galaxy). A seed is kept only if the truth has at
least ``min_pixels`` pixels of the class; otherwise the next seed is tried.

*Strokes.* A simulated expert draws stroke 1 along the feature
(:func:`~galseg.model.scribble`), then each next stroke into the largest error
of the *driver*'s completion (:func:`~galseg.model.next_stroke`: paint where
it misses, erase where it spills). Every method sees the same strokes, so the
comparison is paired; by default the driver is galseg (the expert corrects the
tool they use), which places the baselines' later strokes where galseg, not
they, went wrong.

*Methods*, all given the same positive and negative strokes:

- ``galseg``: :meth:`Assistant.complete`, its last probability fed back as
  ``previous``;
- ``strokes alone``: the painted pixels minus the erased ones;
- ``random_walker``: :func:`skimage.segmentation.random_walker` on the image
  the model sees, stretched (:func:`galseg.stretch.normalize`, the
  checkpoint's preset) and averaged over bands. Seeds: label 1 on the positive
  strokes, label 2 on the negative strokes and on the cutout's one-pixel
  border (a walker needs a background seed from stroke 1 on; a positive
  stroke overrides the border). It is solved directly (``mode="bf"``): on
  256x256 cutouts with so few seeds the conjugate-gradient modes (``"cg"``,
  ``"cg_j"``) took 25-30 times longer here for the same masks. ``beta`` is
  :data:`WALKER_BETA`, tuned lightly on 12 training-range cutouts (3 per class,
  seeds 900 000 on, the walker's own errors placing the strokes): mean IoU
  after 3 strokes 0.36, 0.44, 0.51 and 0.47 for ``beta`` 130 (scikit-image's
  default), 500, 2000 and 5000; 30 and 20 000 did no better on 8 of them.

*Scores.* Mean IoU after 1, 2, 3 and 5 strokes, and NoC@80: the number of
strokes to reach IoU 0.80, at most ``max_strokes``; a method that does not
get there within ``max_strokes`` strokes counts ``max_strokes`` and is
counted as failed. Every method runs on strokes 1 to 5; after that, only
until it reaches 0.80 (the driver runs on every stroke). Automatic mode is
scored by the IoU of :meth:`Assistant.segment` (no strokes) against the
truth of the forced class. "all" rows average over every cutout (the classes
have equally many).

*Detectable truth.* The truth rule tests single pixels against a limit set
for 5″×5″ box averages, so part of a narrow, faint feature's truth is light
that no box average detects (:func:`galseg.simulate.detectable`). For
reference, the benchmark scores the mask of exactly the detectable truth
(the class's noiseless light alone, box-averaged, above the truth limit)
against the whole truth: what a method that finds all the light the
survey's depth rule sees in square boxes, and nothing else, would reach.
Strokes can go beyond it: the expert paints faint light that shows only when
summed along the feature.

*Faint fringe.* A feature's truth ends where its light falls to the truth
limit, so much of a faint feature's truth is a fringe of light just above
it. The benchmark reports the share of each class's truth pixels whose light
is below :data:`FAINT` times the truth limit, and galseg's recall after 3
strokes there and on the rest of the truth (pixels pooled over the class's
cutouts): where the misses that cost IoU lie.

*Latency.* :meth:`Assistant.set_image` is timed once per cutout with an
empty feature cache, :meth:`Assistant.complete` at every stroke of every
episode. Segment Anything ViT-B (``segment-anything``, random weights: timing
only) runs in the same process on the same device: its image encoder on its
1024x1024 input, and its prompt encoder plus mask decoder on 10 points and a
previous low-resolution mask, upscaled to a 256x256 cutout as
``SamPredictor.predict`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
import platform
import time
from typing import Any
import warnings

import numpy as np
import torch

from .._progress import Progress, track
from ..cutout import Cutout
from ..errors import GalsegError
from ..simulate import (
    FEATURE_KINDS,
    FEATURE_SB_RANGE,
    SURVEYS,
    simulate_galaxy,
    truth_limit,
    truth_limit_flux,
)
from ..stretch import normalize
from ..taxonomy import DEFAULT_TAXONOMY
from ._assistant import Assistant, load_assistant
from ._checkpoint import Checkpoint
from ._data import HELD_OUT_SEEDS
from ._evaluate import (
    GOOD_IOU,
    Completer,
    galseg_completer,
    iou,
    run_episode,
    strokes_alone,
)

__all__ = [
    "AFTER",
    "FAINT",
    "METHODS",
    "MIN_PIXELS",
    "WALKER_BETA",
    "BenchCase",
    "CompletionBenchmark",
    "Episode",
    "Target",
    "Timing",
    "benchmark_cases",
    "benchmark_completion",
    "random_walker_completer",
    "time_sam",
    "walker_image",
]

METHODS = ("galseg", "strokes alone", "random_walker")
"""The methods compared, in the order printed."""

AFTER = (1, 2, 3, 5)
"""Strokes after which the mean IoU is reported."""

WALKER_BETA = 2000.0
"""``beta`` of the random walker (see the module notes for how it was chosen)."""

MIN_PIXELS = 50
"""Least truth pixels of the forced class for a cutout to be used."""

FAINT = 1.5
"""Truth pixels whose class light is below this multiple of the truth limit
are the feature's faint fringe (see the module notes)."""


# --------------------------------------------------------------------- cutouts
@dataclass(frozen=True, eq=False)
class BenchCase:
    """A held-out simulated cutout with one forced feature class.

    Attributes
    ----------
    kind : str
        The class (a name of :data:`galseg.simulate.FEATURE_KINDS`).
    seed : int
        Its simulator seed.
    cutout : Cutout
        The image.
    target : ndarray of bool, shape (y, x)
        Truth mask of ``kind``.
    feature_sb : float or None
        Peak surface brightness of the tidal feature (None for a bar).
    detectable : float
        IoU of the detectable truth (see the module notes) with the whole
        truth: the share of ``target`` where the class's light alone,
        averaged over the survey's truth box, is brighter than its truth limit.
    faint : ndarray of bool, shape (y, x)
        The truth pixels where the class's light is below :data:`FAINT` times
        the truth limit: the feature's faint fringe.
    """

    kind: str
    seed: int
    cutout: Cutout
    target: np.ndarray
    feature_sb: float | None
    detectable: float
    faint: np.ndarray


def benchmark_cases(
    n: int,
    *,
    seed: int = HELD_OUT_SEEDS,
    survey: str = "legacy",
    size: int = 256,
    min_pixels: int = MIN_PIXELS,
    progress: Progress = False,
) -> list[BenchCase]:
    """``n`` held-out cutouts per feature class (see the module notes).

    Seeds are tried in turn from ``seed`` on, class after class.

    Raises
    ------
    GalsegError
        If ``seed`` lies in the training range, the survey is unknown, or
        too few seeds give a visible feature.

    Examples
    --------
    >>> cases = benchmark_cases(1, size=64)
    >>> [case.kind for case in cases], bool(cases[0].target.any())
    (['tidal_stream', 'shell', 'tidal_tail', 'bar'], True)
    """
    if n < 1:
        raise GalsegError(f"the benchmark needs at least 1 cutout per class, got {n}")
    if seed < HELD_OUT_SEEDS:
        raise GalsegError(f"benchmark seeds must be held out (>= {HELD_OUT_SEEDS}), got {seed}")
    if survey not in SURVEYS:
        raise GalsegError(f"unknown survey {survey!r}; presets are {', '.join(SURVEYS)}")
    cases = _draw_cases(n, seed, survey, size, min_pixels)
    return list(track(cases, n * len(FEATURE_KINDS), "simulate", progress))


def _draw_cases(n: int, seed: int, survey: str, size: int, min_pixels: int):
    """Yield ``n`` usable cases per class, trying seeds from ``seed`` on."""
    next_seed, limit = seed, seed + 20 * n * len(FEATURE_KINDS)
    for kind in FEATURE_KINDS:
        found = 0
        while found < n:
            if next_seed >= limit:
                raise GalsegError(
                    f"too few seeds from {seed} give a {kind} of at least {min_pixels} pixels"
                )
            case = _simulate_case(kind, next_seed, survey, size)
            next_seed += 1
            if np.count_nonzero(case.target) >= min_pixels:
                found += 1
                yield case


def _simulate_case(kind: str, seed: int, survey: str, size: int) -> BenchCase:
    """A cutout with ``kind`` forced, a tidal feature at a visible brightness."""
    feature_sb = None
    if kind != "bar":
        low = FEATURE_SB_RANGE[0]
        feature_sb = truth_limit(SURVEYS[survey]) + np.random.default_rng([seed, 5]).uniform(low, 0)
    sim = simulate_galaxy(seed, survey, size, features=(kind,), feature_sb=feature_sb)
    target = sim.truth == DEFAULT_TAXONOMY[kind].value
    light = sim.components[kind]
    deep = sim.deep_truth == DEFAULT_TAXONOMY[kind].value
    share = float(target.sum() / max(deep.sum(), 1))
    faint = target & (light < FAINT * truth_limit_flux(sim.survey))
    return BenchCase(kind, seed, sim.cutout, target, feature_sb, share, faint)


# ------------------------------------------------------------------- methods
def random_walker_completer(image: np.ndarray, *, beta: float = WALKER_BETA) -> Completer:
    """Complete with scikit-image's random walker on a 2-D image (seeds in the module notes).

    Examples
    --------
    >>> image = np.zeros((20, 20)); image[5:15, 5:15] = 1.0
    >>> positive = np.zeros((20, 20), bool); positive[9:11, 9:11] = True
    >>> mask = random_walker_completer(image)(positive, np.zeros_like(positive))
    >>> int(mask.sum())
    100
    """
    from skimage.segmentation import random_walker

    border = np.ones(image.shape, dtype=bool)
    border[1:-1, 1:-1] = False

    def complete(positive: np.ndarray, negative: np.ndarray) -> np.ndarray:
        labels = np.where(border | negative, 2, 0).astype(np.int32)
        labels[positive] = 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # isolated pixels, probability range
            return random_walker(image, labels, beta=beta, mode="bf") == 1

    return complete


def walker_image(cutout: Cutout, stretch: str) -> np.ndarray:
    """The random walker's image: the stretched bands' mean (what the model sees)."""
    return normalize(cutout, stretch).mean(axis=0)


@dataclass(frozen=True)
class Episode:
    """One class completed on one cutout.

    Attributes
    ----------
    kind : str
        The class.
    seed : int
        The cutout's simulator seed.
    ious : dict of str to tuple of float
        Each method's IoU after each stroke it ran on (see :func:`run_episode`).
    signs : tuple of bool
        The strokes, shared by every method: True to paint, False to erase.
    automatic : float
        IoU of :meth:`Assistant.segment`'s mask of the class (no strokes).
    max_strokes : int
        The NoC cap.
    detectable : float
        IoU of the cutout's detectable truth (:attr:`BenchCase.detectable`).
    faint, brighter : tuple of int
        Truth pixels in the faint fringe (:attr:`BenchCase.faint`) and in the
        rest of the truth, and how many of each galseg's mask after 3 strokes
        covers.
    """

    kind: str
    seed: int
    ious: Mapping[str, tuple[float, ...]]
    signs: tuple[bool, ...]
    automatic: float
    max_strokes: int
    detectable: float
    faint: tuple[int, int]
    brighter: tuple[int, int]

    def iou_after(self, method: str, strokes: int) -> float:
        """IoU after ``strokes`` strokes (the last one if the episode ended sooner)."""
        values = self.ious[method]
        return values[min(strokes, len(values)) - 1]

    def noc(self, method: str) -> int:
        """Strokes to reach :data:`GOOD_IOU`, or ``max_strokes`` if never."""
        for count, value in enumerate(self.ious[method], start=1):
            if value >= GOOD_IOU:
                return count
        return self.max_strokes

    def failed(self, method: str) -> bool:
        """Whether the method never reached :data:`GOOD_IOU`."""
        return all(value < GOOD_IOU for value in self.ious[method])


# -------------------------------------------------------------------- latency
@dataclass(frozen=True)
class Timing:
    """Repeated timings of one operation.

    Attributes
    ----------
    name : str
        What was timed.
    seconds : tuple of float
        Each run.
    """

    name: str
    seconds: tuple[float, ...]

    @property
    def p50(self) -> float:
        """Median, in milliseconds."""
        return float(np.percentile(self.seconds, 50) * 1e3)

    @property
    def p95(self) -> float:
        """95th percentile, in milliseconds."""
        return float(np.percentile(self.seconds, 95) * 1e3)


def _timed(call: Callable[[], object], reps: int) -> tuple[float, ...]:
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return tuple(times)


def time_sam(
    device: torch.device | str = "cpu",
    *,
    encoder_reps: int = 3,
    decoder_reps: int = 20,
    image_size: int = 256,
) -> tuple[Timing, Timing]:
    """Time Segment Anything ViT-B (random weights) as in the module notes.

    Each part runs once untimed first.

    Parameters
    ----------
    device : torch.device or str
        Where to run it.
    encoder_reps, decoder_reps : int
        Timed runs of the image encoder and of prompt encoder + mask decoder.
    image_size : int
        Side of the cutout the decoder's mask is upscaled to.

    Returns
    -------
    encoder, decoder : Timing

    Raises
    ------
    GalsegError
        If ``segment-anything`` is not installed.
    """
    sam_model_registry = _sam_registry()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        sam = sam_model_registry["vit_b"](checkpoint=None).to(device).eval()
        side = sam.image_encoder.img_size
        image = torch.randn(1, 3, side, side).to(device)
        points = (torch.rand(1, 10, 2) * side).to(device)
        point_labels = torch.tensor([[1] * 5 + [0] * 5], device=device)
    with torch.inference_mode():
        embedding = sam.image_encoder(image)
        previous = torch.zeros(
            1, 1, 4 * embedding.shape[-2], 4 * embedding.shape[-1], device=device
        )

        def decode() -> torch.Tensor:
            sparse, dense = sam.prompt_encoder(
                points=(points, point_labels), boxes=None, masks=previous
            )
            low_res, _ = sam.mask_decoder(
                image_embeddings=embedding,
                image_pe=sam.prompt_encoder.get_dense_pe(),
                sparse_prompt_embeddings=sparse,
                dense_prompt_embeddings=dense,
                multimask_output=False,
            )
            return sam.postprocess_masks(low_res, (side, side), (image_size, image_size)) > 0

        decode()
        encoder = _timed(lambda: _synced(sam.image_encoder(image)), encoder_reps)
        decoder = _timed(lambda: _synced(decode()), decoder_reps)
    return (
        Timing(f"SAM ViT-B image encoder ({side}x{side})", encoder),
        Timing("SAM ViT-B prompt encoder + mask decoder", decoder),
    )


def _sam_registry():
    try:
        from segment_anything import sam_model_registry
    except ImportError:
        raise GalsegError(
            "timing SAM needs segment-anything: pip install segment-anything (or use --no-sam)"
        ) from None
    return sam_model_registry


def _synced(result: torch.Tensor) -> torch.Tensor:
    if result.is_cuda:
        torch.cuda.synchronize(result.device)
    return result


def _time_set_image(assistant: Assistant, cutout: Cutout) -> float:
    """Seconds of one :meth:`Assistant.set_image` with an empty cache."""
    assistant.cache.clear()
    start = time.perf_counter()
    assistant.set_image(cutout)
    if assistant.device.type == "cuda":
        torch.cuda.synchronize(assistant.device)
    return time.perf_counter() - start


# -------------------------------------------------------------------- results
@dataclass(frozen=True)
class Target:
    """One of the issue's targets.

    Attributes
    ----------
    name : str
        The target.
    measured : str
        What was measured.
    holds : bool or None
        Whether it holds (None when not measured, e.g. without SAM).
    """

    name: str
    measured: str
    holds: bool | None


@dataclass(frozen=True)
class CompletionBenchmark:
    """The benchmark's measurements (see :func:`benchmark_completion`).

    Attributes
    ----------
    episodes : tuple of Episode
        One per cutout.
    set_image, complete : Timing
        galseg's latencies.
    sam_encoder, sam_decoder : Timing or None
        Segment Anything ViT-B's, when timed.
    settings : dict
        How it was run.
    """

    episodes: tuple[Episode, ...]
    set_image: Timing
    complete: Timing
    sam_encoder: Timing | None = None
    sam_decoder: Timing | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)

    @property
    def classes(self) -> tuple[str, ...]:
        """The classes benchmarked, in :data:`~galseg.simulate.FEATURE_KINDS` order."""
        present = {e.kind for e in self.episodes}
        return tuple(kind for kind in FEATURE_KINDS if kind in present)

    def _of(self, kind: str | None) -> list[Episode]:
        return [e for e in self.episodes if kind in (None, "all", e.kind)]

    def mean_iou(self, method: str, strokes: int, kind: str | None = None) -> float:
        """Mean IoU after ``strokes`` strokes over a class's cutouts (all by default)."""
        return float(np.mean([e.iou_after(method, strokes) for e in self._of(kind)]))

    def mean_noc(self, method: str, kind: str | None = None) -> float:
        """Mean NoC@80 (failures counted at the cap)."""
        return float(np.mean([e.noc(method) for e in self._of(kind)]))

    def failures(self, method: str, kind: str | None = None) -> int:
        """Cutouts where the method never reached IoU 0.80."""
        return sum(e.failed(method) for e in self._of(kind))

    def automatic_iou(self, kind: str | None = None) -> float:
        """Mean IoU of automatic mode."""
        return float(np.mean([e.automatic for e in self._of(kind)]))

    def detectable_iou(self, kind: str | None = None) -> float:
        """Mean IoU of the detectable truth with the whole truth (see the module notes)."""
        return float(np.mean([e.detectable for e in self._of(kind)]))

    def faint_fringe(self, kind: str | None = None) -> dict[str, float | None]:
        """The faint fringe's share of the truth, and galseg's recall there and on the rest.

        Pixels are pooled over the class's cutouts (all by default); a recall
        with no pixels to find is None.
        """
        faint = np.sum([e.faint for e in self._of(kind)], axis=0)
        brighter = np.sum([e.brighter for e in self._of(kind)], axis=0)
        return {
            "share": float(faint[0] / max(faint[0] + brighter[0], 1)),
            "recall": float(faint[1] / faint[0]) if faint[0] else None,
            "recall of the rest": float(brighter[1] / brighter[0]) if brighter[0] else None,
        }

    def table(self) -> dict[str, dict[str, dict[str, float | None]]]:
        """The scores: ``table()[class or "all"][method][column]``.

        Columns are ``"IoU@1"``, ``"IoU@2"``, ``"IoU@3"``, ``"IoU@5"``,
        ``"NoC@80"`` and ``"failed"``; ``table()[class]["automatic"]`` and
        ``table()[class]["detectable truth"]`` have ``"IoU"`` only, and
        ``table()[class]["faint fringe"]`` is :meth:`faint_fringe`.
        """
        rows: dict[str, dict[str, dict[str, float | None]]] = {}
        for kind in (*self.classes, "all"):
            rows[kind] = {
                method: {
                    **{f"IoU@{k}": self.mean_iou(method, k, kind) for k in AFTER},
                    "NoC@80": self.mean_noc(method, kind),
                    "failed": float(self.failures(method, kind)),
                }
                for method in METHODS
            }
            rows[kind]["automatic"] = {"IoU": self.automatic_iou(kind)}
            rows[kind]["detectable truth"] = {"IoU": self.detectable_iou(kind)}
            rows[kind]["faint fringe"] = self.faint_fringe(kind)
        return rows

    def targets(self) -> list[Target]:
        """The issue's targets and whether each holds."""
        ours, walker = self.mean_iou("galseg", 3), self.mean_iou("random_walker", 3)
        complete, decoder, encoder = self.complete.p50, self.sam_decoder, self.sam_encoder
        targets = [
            Target("mean IoU after 3 strokes >= 0.80 (4 classes)", f"{ours:.3f}", ours >= 0.80),
            Target(
                "... and >= random_walker + 0.15",
                f"{ours:.3f} vs {walker:.3f} ({ours - walker:+.3f})",
                ours >= walker + 0.15,
            ),
            Target("complete p50 <= 30 ms", f"{complete:.1f} ms", complete <= 30.0),
        ]
        for name, ours_ms, sam, limit in (
            ("complete p50 <= 0.5x SAM ViT-B mask decoder", complete, decoder, 0.5),
            ("set_image p50 <= 0.05x SAM ViT-B image encoder", self.set_image.p50, encoder, 0.05),
        ):
            if sam is None:
                targets.append(Target(name, "SAM not timed", None))
            else:
                ratio = ours_ms / sam.p50
                targets.append(Target(name, f"{ratio:.3f}x", ratio <= limit))
        return targets

    def card_entry(self) -> dict[str, Any]:
        """What a model card records of this run (JSON-serialisable).

        Settings, :meth:`table`, latency p50/p95 in milliseconds (SAM's when
        timed) and each target with whether it holds.
        """
        timings = [self.set_image, self.complete, self.sam_encoder, self.sam_decoder]
        return {
            "settings": dict(self.settings),
            "table": self.table(),
            "latency_ms": {
                t.name: {"p50": round(t.p50, 2), "p95": round(t.p95, 2)}
                for t in timings
                if t is not None
            },
            "targets": [
                {"target": t.name, "measured": t.measured, "holds": t.holds} for t in self.targets()
            ],
        }

    def report(self) -> str:
        """The benchmark as printed: settings, scores, latency and targets."""
        return "\n\n".join(
            [self._header(), self._scores(), self._latency(), _targets_text(self.targets())]
        )

    def _header(self) -> str:
        s = self.settings
        count, classes = len(self.episodes), len(self.classes)
        return "\n".join(
            [
                f"galseg completion benchmark: {s.get('checkpoint', '?')}",
                f"{count} held-out simulated cutouts ({count // max(classes, 1)} per class), "
                f"{s.get('survey', '?')} {s.get('size', '?')}x{s.get('size', '?')}, seeds "
                f"{min(e.seed for e in self.episodes)}..{max(e.seed for e in self.episodes)}",
                f"same strokes for every method, each next one in {s.get('driver', '?')}'s largest "
                f"error; random_walker beta={s.get('beta', '?')}, mode bf",
                f"NoC@80: strokes to IoU >= {GOOD_IOU:.2f}, at most {s.get('max_strokes', '?')}; "
                "'failed' cutouts never got there and count at that cap",
            ]
        )

    def _scores(self) -> str:
        table = self.table()
        columns = [f"IoU@{k}" for k in AFTER] + ["NoC@80", "failed"]
        lines = [f"{'class':<13} {'method':<14}" + "".join(f"{c:>8}" for c in columns)]
        for kind, rows in table.items():
            for i, method in enumerate(METHODS):
                cells = [f"{rows[method][c]:8.3f}" for c in columns[:-2]]
                cells += [f"{rows[method]['NoC@80']:8.2f}", f"{rows[method]['failed']:8.0f}"]
                lines.append(f"{kind if i == 0 else '':<13} {method:<14}" + "".join(cells))
        for row, heading in (
            ("automatic", "automatic mode (segment, no strokes): IoU of each class"),
            (
                "detectable truth",
                "detectable truth (the class's light in 5\" boxes above the truth limit): "
                "IoU with the whole truth",
            ),
        ):
            scores = "  ".join(f"{kind} {rows[row]['IoU']:.3f}" for kind, rows in table.items())
            lines += ["", heading, scores]
        lines += [
            "",
            f"faint fringe (truth light < {FAINT:g}x the truth limit): share of the truth; "
            "galseg's recall after 3 strokes there and on the rest",
            "  ".join(
                f"{kind} {rows['faint fringe']['share']:.2f}: "
                + " / ".join(
                    _fraction(rows["faint fringe"][r]) for r in ("recall", "recall of the rest")
                )
                for kind, rows in table.items()
            ),
        ]
        return "\n".join(lines)

    def _latency(self) -> str:
        s = self.settings
        lines = [
            f"latency on this machine ({s.get('machine', '?')}, {s.get('device', '?')}, "
            f"{s.get('threads', '?')} torch threads)",
            f"{'':<44}{'p50 ms':>10}{'p95 ms':>10}{'runs':>6}",
        ]
        timings = [self.set_image, self.complete, self.sam_encoder, self.sam_decoder]
        for timing in timings:
            if timing is not None:
                lines.append(
                    f"{timing.name:<44}{timing.p50:10.1f}{timing.p95:10.1f}{len(timing.seconds):6d}"
                )
        if self.sam_encoder is not None and self.sam_decoder is not None:
            lines.append(
                f"ratios (p50): set_image / SAM image encoder = "
                f"{self.set_image.p50 / self.sam_encoder.p50:.4f}; complete / SAM mask decoder = "
                f"{self.complete.p50 / self.sam_decoder.p50:.3f}"
            )
        else:
            lines.append("SAM ViT-B not timed (--no-sam)")
        return "\n".join(lines)


def _fraction(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _targets_text(targets: Sequence[Target]) -> str:
    marks = {True: "[ok]  ", False: "[FAIL]", None: "[n/a] "}
    lines = ["targets (issue 5)"]
    lines += [f"{marks[t.holds]} {t.name:<48} {t.measured}" for t in targets]
    return "\n".join(lines)


# ------------------------------------------------------------------ the run
def benchmark_completion(
    checkpoint: str | Path | Checkpoint | None = None,
    *,
    n: int = 12,
    seed: int = HELD_OUT_SEEDS,
    survey: str = "legacy",
    size: int = 256,
    max_strokes: int = 10,
    driver: str = "galseg",
    beta: float = WALKER_BETA,
    sam: bool = True,
    sam_reps: int = 3,
    device: str = "auto",
    progress: Progress = False,
) -> CompletionBenchmark:
    """Run the completion benchmark (protocol in :mod:`galseg.model._benchmark`).

    Parameters
    ----------
    checkpoint : path-like or Checkpoint, optional
        The galseg checkpoint (default: the shipped one).
    n : int
        Cutouts per class.
    seed : int
        First simulator seed (at least :data:`HELD_OUT_SEEDS`); the strokes
        are seeded from it and each cutout's seed too.
    survey : str
        Survey preset of the cutouts.
    size : int
        Side of the cutouts in pixels.
    max_strokes : int
        Most strokes per cutout: the NoC@80 cap (at least 5).
    driver : str
        The method whose errors place each next stroke (one of :data:`METHODS`).
    beta : float
        The random walker's ``beta``.
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
    if sam:
        _sam_registry()  # fail now rather than after the episodes
    assistant = load_assistant(checkpoint, device)
    cases = benchmark_cases(n, seed=seed, survey=survey, size=size, progress=progress)
    episodes, set_image, complete = [], [], []
    for case in track(cases, len(cases), "benchmark", progress):
        set_image.append(_time_set_image(assistant, case.cutout))
        episodes.append(_play(assistant, case, seed, max_strokes, driver, beta, complete))
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
        "survey": survey,
        "size": size,
        "max_strokes": max_strokes,
        "driver": driver,
        "beta": beta,
    }
    return CompletionBenchmark(
        tuple(episodes),
        Timing(f"galseg set_image ({size}x{size})", tuple(set_image)),
        Timing(f"galseg complete ({size}x{size})", tuple(complete)),
        *sam_timings,
        settings=settings,
    )


def _play(
    assistant: Assistant,
    case: BenchCase,
    seed: int,
    max_strokes: int,
    driver: str,
    beta: float,
    times: list[float],
) -> Episode:
    """One episode on ``case`` (its image already set) and its automatic-mode score."""
    image = walker_image(case.cutout, assistant.config.preprocessing.stretch)
    complete = galseg_completer(assistant, case.kind, times)
    masks: list[np.ndarray] = []

    def galseg(positive: np.ndarray, negative: np.ndarray) -> np.ndarray:
        masks.append(complete(positive, negative))
        return masks[-1]

    completers = {
        "galseg": galseg,
        "strokes alone": strokes_alone,
        "random_walker": random_walker_completer(image, beta=beta),
    }
    rng = np.random.default_rng([seed, case.seed])
    ious, signs = run_episode(
        case.target, completers, rng, driver=driver, max_strokes=max_strokes, always=max(AFTER)
    )
    automatic_mask = assistant.segment(case.cutout) == assistant.taxonomy[case.kind].value
    automatic = iou(automatic_mask, case.target)
    after_3 = masks[2]  # galseg runs on strokes 1 to max(AFTER) whichever method drives
    brighter = case.target & ~case.faint
    return Episode(
        case.kind,
        case.seed,
        {name: tuple(values) for name, values in ious.items()},
        tuple(signs),
        automatic,
        max_strokes,
        case.detectable,
        (int(case.faint.sum()), int(after_3[case.faint].sum())),
        (int(brighter.sum()), int(after_3[brighter].sum())),
    )
