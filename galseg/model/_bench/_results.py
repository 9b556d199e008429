"""The benchmark's measurements, their averages and the targets they are held to."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...simulate import FEATURE_KINDS
from .._evaluate import GOOD_IOU
from .._strokes import STROKE_STYLES
from ._cases import FAMILIES
from ._locality import LocalityProbe
from ._timing import Timing

__all__ = [
    "AFTER",
    "METHODS",
    "AutomaticScore",
    "CompletionBenchmark",
    "Episode",
    "Target",
]

METHODS = ("galseg", "strokes alone", "random_walker")
"""The methods compared, in the order printed."""

AFTER = (1, 2, 3, 5)
"""Strokes after which the mean IoU is reported."""


@dataclass(frozen=True)
class Episode:
    """One class completed on one cutout in one stroke style.

    Attributes
    ----------
    family, style, kind, name : str
        The case family, stroke style, class and case.
    ious : dict of str to tuple of float
        Each method's IoU after each stroke it ran on.
    signs : tuple of bool
        The strokes, shared by every method: True to paint, False to erase.
    max_strokes : int
        The NoC cap.
    deep_iou : float or None
        galseg's IoU after 3 strokes against the deep truth (``own`` only).
    locality : float
        Mean :attr:`~galseg.model.Completion.locality` of galseg's completions.
    observed_iou : float or None
        The case's :attr:`~galseg.model._bench.BenchCase.observed_iou`.
    """

    family: str
    style: str
    kind: str
    name: str
    ious: Mapping[str, tuple[float, ...]]
    signs: tuple[bool, ...]
    max_strokes: int
    deep_iou: float | None
    locality: float
    observed_iou: float | None = None

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


@dataclass(frozen=True)
class AutomaticScore:
    """Automatic mode (:meth:`Assistant.segment`, no strokes) on one cutout.

    Attributes
    ----------
    family : str
        The case family.
    kind : str or None
        The class whose target is scored, or None on a featureless cutout.
    iou : float or None
        IoU of the class's automatic mask with the target (None when featureless).
    false_positive : bool
        On a featureless cutout: whether any tidal or bar pixel came back.
    """

    family: str
    kind: str | None
    iou: float | None
    false_positive: bool = False


@dataclass(frozen=True)
class Target:
    """One target and whether it holds.

    Attributes
    ----------
    name : str
        What is measured and the bound it is held to.
    measured : str
        What was measured.
    holds : bool or None
        Whether it holds (None when not measured, e.g. without SAM).
    """

    name: str
    measured: str
    holds: bool | None


Table = dict[str, dict[str, dict[str, dict[str, dict[str, float]]]]]


@dataclass(frozen=True)
class CompletionBenchmark:
    """The benchmark's measurements (see :func:`~galseg.model.benchmark_completion`).

    Attributes
    ----------
    episodes : tuple of Episode
        One per case and stroke style.
    automatic : tuple of AutomaticScore
        Automatic mode on every case and featureless cutout.
    probes : tuple of LocalityProbe
        Strokes on real images.
    set_image, complete : Timing
        galseg's latencies.
    sam_encoder, sam_decoder : Timing or None
        Segment Anything ViT-B's, when timed.
    settings : dict
        How it was run.
    """

    episodes: tuple[Episode, ...]
    automatic: tuple[AutomaticScore, ...]
    probes: tuple[LocalityProbe, ...]
    set_image: Timing
    complete: Timing
    sam_encoder: Timing | None = None
    sam_decoder: Timing | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)

    # ---------------------------------------------------------------- groups
    @property
    def families(self) -> tuple[str, ...]:
        """The case families measured, in :data:`FAMILIES` order."""
        return _present(FAMILIES, {e.family for e in self.episodes})

    @property
    def styles(self) -> tuple[str, ...]:
        """The stroke styles measured, in :data:`STROKE_STYLES` order."""
        return _present(STROKE_STYLES, {e.style for e in self.episodes})

    @property
    def classes(self) -> tuple[str, ...]:
        """The classes measured, in :data:`~galseg.simulate.FEATURE_KINDS` order."""
        return _present(FEATURE_KINDS, {e.kind for e in self.episodes})

    def _of(self, family: str, style: str, kind: str | None = None) -> list[Episode]:
        return [
            e
            for e in self.episodes
            if e.family == family and e.style == style and kind in (None, "all", e.kind)
        ]

    # ---------------------------------------------------------------- scores
    def mean_iou(
        self, method: str, strokes: int, family: str, style: str, kind: str | None = None
    ) -> float:
        """Mean IoU after ``strokes`` strokes (over every class by default)."""
        return float(np.mean([e.iou_after(method, strokes) for e in self._of(family, style, kind)]))

    def table(self) -> Table:
        """Scores as ``table()[family][style][class or "all"][method][column]``.

        Columns are ``"IoU@1"``, ``"IoU@2"``, ``"IoU@3"``, ``"IoU@5"``,
        ``"NoC@80"`` (failures counted at the cap) and ``"failed"``; for the
        ``own`` family, ``[...]["deep truth"]["IoU@3"]`` is galseg's score
        against the deep truth; for every family,
        ``[...]["observed truth"]["IoU"]`` is the cases' mean ``observed_iou``.
        """
        table: Table = {}
        for family in self.families:
            table[family] = {}
            for style in self.styles:
                rows: dict[str, dict[str, dict[str, float]]] = {}
                for kind in (*self.classes, "all"):
                    episodes = self._of(family, style, kind)
                    if not episodes:
                        continue
                    rows[kind] = {
                        method: {
                            **{
                                f"IoU@{k}": _mean(e.iou_after(method, k) for e in episodes)
                                for k in AFTER
                            },
                            "NoC@80": _mean(e.noc(method) for e in episodes),
                            "failed": float(sum(e.failed(method) for e in episodes)),
                        }
                        for method in METHODS
                    }
                    deep = [e.deep_iou for e in episodes if e.deep_iou is not None]
                    if deep:
                        rows[kind]["deep truth"] = {"IoU@3": _mean(deep)}
                    observed = [e.observed_iou for e in episodes if e.observed_iou is not None]
                    if observed:
                        rows[kind]["observed truth"] = {"IoU": _mean(observed)}
                table[family][style] = rows
        return table

    def automatic_table(self) -> dict[str, dict[str, float]]:
        """``[family][class or "all"]``: mean automatic-mode IoU; ``[family]["false positives"]``.

        The false-positive rate is the share of featureless cutouts on which
        any tidal or bar pixel came back.
        """
        result: dict[str, dict[str, float]] = {}
        for family in self.families:
            scores = [a for a in self.automatic if a.family == family]
            row = {
                kind: _mean(a.iou for a in scores if a.kind == kind)
                for kind in self.classes
                if any(a.kind == kind for a in scores)
            }
            row["all"] = _mean(a.iou for a in scores if a.kind is not None)
            featureless = [a for a in scores if a.kind is None]
            if featureless:
                row["false positives"] = _mean(a.false_positive for a in featureless)
            result[family] = row
        return result

    def locality_table(self) -> dict[str, dict[str, float]]:
        """Locality figures: ``["episodes"]`` and one row per place on the real images.

        ``["episodes"]["network"]`` is the mean share of the network's own
        mask that grows from the strokes over every completion of every
        episode; each place's row has the completions' ``"shown"`` locality
        (share of shown pixels in pieces touching the stroke, measured on
        the masks), the network's, and the median ``"growth"`` (completion
        pixels per stroke pixel).
        """
        table = {"episodes": {"network": _mean(e.locality for e in self.episodes)}}
        places = dict.fromkeys(p.place for p in self.probes)
        for place in places:
            probes = [p for p in self.probes if p.place == place]
            table[place] = {
                "shown": _mean(p.shown_locality for p in probes),
                "network": _mean(p.locality for p in probes),
                "growth": float(np.median([p.growth for p in probes])),
                "strokes": float(len(probes)),
            }
        return table

    # --------------------------------------------------------------- targets
    def targets(self) -> list[Target]:
        """Every target and whether it holds."""
        targets: list[Target] = []
        if "own" in self.families and "line" in self.styles:
            at3, at1 = (self.mean_iou("galseg", k, "own", "line") for k in (3, 1))
            worst = min(self.classes, key=lambda c: self.mean_iou("galseg", 3, "own", "line", c))
            worst_iou = self.mean_iou("galseg", 3, "own", "line", worst)
            targets += [
                _at_least("own, lines: mean IoU after 3 strokes", at3, 0.85),
                _at_least("own, lines: mean IoU after 1 stroke", at1, 0.60),
                Target(
                    "own, lines: every class IoU@3 >= 0.75",
                    f"{worst_iou:.3f} ({worst})",
                    worst_iou >= 0.75,
                ),
            ]
        if "independent" in self.families:
            for style in ("line", "dabs"):
                if style not in self.styles:
                    continue
                ours = self.mean_iou("galseg", 3, "independent", style)
                walker = self.mean_iou("random_walker", 3, "independent", style)
                targets += [
                    _at_least(f"independent, {style}: mean IoU after 3 strokes", ours, 0.80),
                    Target(
                        f"independent, {style}: ... >= random_walker + 0.15",
                        f"{ours:.3f} vs {walker:.3f} ({ours - walker:+.3f})",
                        ours >= walker + 0.15,
                    ),
                ]
        for family in self.families:
            curves = {
                s: [self.mean_iou("galseg", k, family, s) for k in AFTER] for s in self.styles
            }
            rising = all(np.all(np.diff(c) > 0) for c in curves.values())
            shown = "; ".join(f"{s} " + " ".join(f"{v:.2f}" for v in c) for s, c in curves.items())
            targets.append(Target(f"{family}: mean IoU rises with every stroke", shown, rising))
            for style in ("line", "dabs"):
                if style in self.styles:
                    value = self.mean_iou("galseg", 5, family, style)
                    targets.append(
                        _at_least(f"{family}, {style}: mean IoU after 5 strokes", value, 0.90)
                    )
        locality = self.locality_table()
        if self.probes:
            shown = _mean(p.shown_locality for p in self.probes)
            targets.append(_at_least("locality of completions on real images", shown, 0.95))
            if "sky" in locality:
                growth = locality["sky"]["growth"]
                targets.append(
                    Target(
                        "a stroke on sky: median completion <= 2x the stroke",
                        f"{growth:.2f}x",
                        growth <= 2.0,
                    )
                )
        for family, row in self.automatic_table().items():
            per_class = [row[c] for c in self.classes if c in row]
            if per_class:
                targets.append(
                    _at_least(f"{family}: automatic mode IoU, every class", min(per_class), 0.5)
                )
            if "false positives" in row:
                rate = row["false positives"]
                targets.append(
                    Target(
                        f"{family}: featureless cutouts with tidal/bar pixels <= 5%",
                        f"{100 * rate:.1f}%",
                        rate <= 0.05,
                    )
                )
        targets += self._latency_targets()
        return targets

    def _latency_targets(self) -> list[Target]:
        complete = self.complete.p50
        targets = [Target("complete p50 <= 30 ms", f"{complete:.1f} ms", complete <= 30.0)]
        for name, ours_ms, sam, limit in (
            ("complete p50 <= 0.5x SAM ViT-B mask decoder", complete, self.sam_decoder, 0.5),
            (
                "set_image p50 <= 0.05x SAM ViT-B image encoder",
                self.set_image.p50,
                self.sam_encoder,
                0.05,
            ),
        ):
            if sam is None:
                targets.append(Target(name, "SAM not timed", None))
            else:
                ratio = ours_ms / sam.p50
                targets.append(Target(name, f"{ratio:.3f}x", ratio <= limit))
        return targets

    # ---------------------------------------------------------------- record
    def card_entry(self) -> dict[str, Any]:
        """What a model card records of this run (JSON-serialisable)."""
        timings = [self.set_image, self.complete, self.sam_encoder, self.sam_decoder]
        return {
            "settings": dict(self.settings),
            "table": self.table(),
            "automatic": self.automatic_table(),
            "locality": self.locality_table(),
            "latency_ms": {
                t.name: {"p50": round(t.p50, 2), "p95": round(t.p95, 2)}
                for t in timings
                if t is not None
            },
            "targets": [
                {"target": t.name, "measured": t.measured, "holds": t.holds} for t in self.targets()
            ],
        }


def _present(order: tuple[str, ...], present: set[str]) -> tuple[str, ...]:
    return tuple(name for name in order if name in present)


def _mean(values) -> float:
    values = [float(v) for v in values]
    return float(np.mean(values)) if values else float("nan")


def _at_least(name: str, value: float, bound: float) -> Target:
    return Target(f"{name} >= {bound:.2f}", f"{value:.3f}", value >= bound)
