"""How far annotators agree, with each other, with their consensus and with the truth."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations
import json
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import write_file
from ..errors import GalsegError
from ..store import MaskStore
from ..taxonomy import Taxonomy
from ._collect import AnnotatedCutout, annotated_cutouts
from ._consensus import Consensus, consensus
from ._overlap import mean_iou

__all__ = ["AgreementReport", "measure_agreement"]


@dataclass(frozen=True)
class AgreementReport:
    """Agreement between the annotators of a store (:func:`measure_agreement`).

    Every IoU is a mean over cutouts of the IoU of one class's masks,
    counting only the cutouts where either mask has the class; an overall
    IoU is the mean of the per-class ones. None means nothing to compare.

    Attributes
    ----------
    store, truth : str or None
        The stores measured (``truth`` None without a truth store).
    classes : list of str
        The classes someone painted, or the truth holds.
    annotators : dict
        Name -> ``{"iou_vs_consensus", "iou_vs_truth", "n_cutouts",
        "per_class": {class: {"iou_vs_consensus", "iou_vs_truth",
        "sensitivity", "specificity"}}, "history": [...]}``. Sensitivity and
        specificity are STAPLE's estimates from the shared cutouts (no truth
        needed). ``history`` lists, in the order they were painted, the
        cutouts with truth: ``{"cutout", "time", "iou_vs_truth", "per_class"}``.
    pairwise : dict
        Class -> ``{"annotators": [...], "iou": matrix, "n_cutouts": matrix}``
        over the cutouts each pair shares.
    consensus : dict
        ``{"iou_vs_truth", "n_cutouts", "per_class": {class: {"iou_vs_truth"}}}``.
    """

    store: str
    truth: str | None
    classes: list[str]
    annotators: dict[str, dict[str, Any]]
    pairwise: dict[str, dict[str, Any]]
    consensus: dict[str, Any]
    masks: Consensus | None = field(default=None, repr=False, compare=False)

    def as_json(self) -> dict[str, Any]:
        """The report as JSON-serialisable data (what ``--json`` writes)."""
        return {
            "store": self.store,
            "truth": self.truth,
            "classes": self.classes,
            "annotators": self.annotators,
            "consensus": self.consensus,
            "pairwise": self.pairwise,
        }

    def write_json(self, path: str | Path) -> None:
        """Write :meth:`as_json` to ``path``, atomically."""
        text = json.dumps(self.as_json(), indent=2) + "\n"
        try:
            write_file(Path(path), text.encode())
        except OSError as exc:
            raise GalsegError(f"{path}: cannot write the report ({exc.strerror or exc})") from None

    def text(self) -> str:
        """A table for the terminal: each annotator's skill, and IoU per class."""
        key = "iou_vs_truth" if self.truth else "iou_vs_consensus"
        width = max([9, *(len(n) for n in self.annotators)])
        lines = [
            f"{'annotator':<{width}}  cutouts  sensitivity  specificity  vs consensus  vs truth"
            + "".join(f"  {c[:14]:>14}" for c in self.classes)
        ]
        rows = [(name, a, a["iou_vs_consensus"]) for name, a in self.annotators.items()]
        for name, entry, vs_consensus in [*rows, ("consensus", self.consensus, None)]:
            per_class = entry["per_class"]
            lines.append(
                f"{name:<{width}}  {entry['n_cutouts']:>7}"
                f"  {_f(_overall(per_class, 'sensitivity')):>11}"
                f"  {_f(_overall(per_class, 'specificity')):>11}"
                f"  {_f(vs_consensus):>12}  {_f(entry['iou_vs_truth']):>8}"
                + "".join(f"  {_f(per_class[c].get(key)):>14}" for c in self.classes)
            )
        lines.append(
            "(sensitivity, specificity: STAPLE's estimates, mean over classes; class columns: "
            f"IoU vs {key[7:]}, mean over the cutouts showing the class)"
        )
        return "\n".join(lines)


def measure_agreement(
    store: MaskStore | str | Path, *, truth: MaskStore | str | Path | None = None
) -> AgreementReport:
    """Compare the annotators of a store with each other, their consensus and the truth.

    Each annotator's final mask of each cutout counts (masks made by people:
    :func:`~galseg.agreement.annotated_cutouts`). The consensus is STAPLE's
    (:func:`~galseg.agreement.consensus`) on the cutouts that two or more
    annotators painted; the truth of a cutout is its mask in ``truth``
    (e.g. ``truth.zarr`` from ``galseg simulate``, or calibration cutouts).

    Parameters
    ----------
    store : MaskStore or path-like
    truth : MaskStore or path-like, optional

    Returns
    -------
    AgreementReport

    Raises
    ------
    GalsegError
        If a store is unreadable, holds no annotator's mask, or the stores'
        classes differ.
    """
    store = store if isinstance(store, MaskStore) else MaskStore.open(store, mode="r")
    if truth is not None and not isinstance(truth, MaskStore):
        truth = MaskStore.open(truth, mode="r")
    if truth is not None and truth.taxonomy != store.taxonomy:
        raise GalsegError(f"{truth.path}: its classes are not those of {store.path}")
    cutouts = list(annotated_cutouts(store, truth=truth))
    if not cutouts:
        raise GalsegError(f"{store.path}: no annotator's mask to compare")
    agreed = consensus(cutouts, store.taxonomy)
    classes = _classes(cutouts, store.taxonomy)
    names = sorted({who for c in cutouts for who in c.masks})
    annotators = {who: _annotator(who, cutouts, agreed, classes) for who in names}
    return AgreementReport(
        store=str(store.path),
        truth=None if truth is None else str(truth.path),
        classes=[c for c, _ in classes],
        annotators=annotators,
        pairwise=_pairwise(cutouts, names, classes),
        consensus=_consensus_entry(cutouts, agreed, classes),
        masks=agreed,
    )


def _classes(cutouts: Sequence[AnnotatedCutout], taxonomy: Taxonomy) -> list[tuple[str, int]]:
    """(name, value) of the classes in any mask or truth."""
    present: set[int] = set()
    for c in cutouts:
        for mask in [*c.masks.values(), *([] if c.truth is None else [c.truth])]:
            present.update(np.unique(mask).tolist())
    return [(f.name, f.value) for f in taxonomy.feature_classes if f.value in present]


def _overall(per_class: dict[str, dict[str, Any]], key: str) -> float | None:
    values = [v[key] for v in per_class.values() if v.get(key) is not None]
    return float(np.mean(values)) if values else None


def _annotator(
    who: str,
    cutouts: Sequence[AnnotatedCutout],
    agreed: Consensus,
    classes: Sequence[tuple[str, int]],
) -> dict[str, Any]:
    mine = [c for c in cutouts if who in c.masks]
    vs_consensus = [
        (c.masks[who], agreed.labels[c.cutout_id]) for c in mine if c.cutout_id in agreed.labels
    ]
    with_truth = sorted((c for c in mine if c.truth is not None), key=lambda c: c.times[who])
    vs_truth = [(c.masks[who], c.truth) for c in with_truth]
    per_class = {
        name: {
            "iou_vs_consensus": mean_iou(vs_consensus, value),
            "iou_vs_truth": mean_iou(vs_truth, value),
            "sensitivity": agreed.sensitivity.get(name, {}).get(who),
            "specificity": agreed.specificity.get(name, {}).get(who),
        }
        for name, value in classes
    }
    history = []
    for c in with_truth:
        scores = {name: mean_iou([(c.masks[who], c.truth)], value) for name, value in classes}
        scores = {k: v for k, v in scores.items() if v is not None}
        history.append(
            {
                "cutout": c.cutout_id,
                "time": c.times[who],
                "iou_vs_truth": float(np.mean(list(scores.values()))) if scores else None,
                "per_class": scores,
            }
        )
    return {
        "iou_vs_consensus": _overall(per_class, "iou_vs_consensus"),
        "iou_vs_truth": _overall(per_class, "iou_vs_truth"),
        "n_cutouts": len(mine),
        "per_class": per_class,
        "history": history,
    }


def _pairwise(
    cutouts: Sequence[AnnotatedCutout], names: list[str], classes: Sequence[tuple[str, int]]
) -> dict[str, dict[str, Any]]:
    result = {}
    for name, value in classes:
        n = len(names)
        scores: list[list[float | None]] = [
            [1.0 if i == j else None for j in range(n)] for i in range(n)
        ]
        counts = [[0] * n for _ in range(n)]
        for i, j in combinations(range(n), 2):
            shared = [c for c in cutouts if names[i] in c.masks and names[j] in c.masks]
            score = mean_iou([(c.masks[names[i]], c.masks[names[j]]) for c in shared], value)
            scores[i][j] = scores[j][i] = score
            counts[i][j] = counts[j][i] = len(shared)
        result[name] = {"annotators": names, "iou": scores, "n_cutouts": counts}
    return result


def _consensus_entry(
    cutouts: Sequence[AnnotatedCutout], agreed: Consensus, classes: Sequence[tuple[str, int]]
) -> dict[str, Any]:
    pairs = [
        (agreed.labels[c.cutout_id], c.truth)
        for c in cutouts
        if c.cutout_id in agreed.labels and c.truth is not None
    ]
    per_class = {name: {"iou_vs_truth": mean_iou(pairs, value)} for name, value in classes}
    return {
        "iou_vs_truth": _overall(per_class, "iou_vs_truth"),
        "n_cutouts": len(agreed.labels),
        "per_class": per_class,
    }


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
