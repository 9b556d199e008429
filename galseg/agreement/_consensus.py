"""Consensus masks: STAPLE per class over the annotators of each cutout."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._progress import Progress, track
from ..errors import StoreError
from ..store import MaskStore
from ..taxonomy import Taxonomy
from ._collect import CONSENSUS_ANNOTATOR, AnnotatedCutout, annotated_cutouts
from ._staple import staple

__all__ = ["Consensus", "consensus", "write_consensus"]


@dataclass(frozen=True)
class Consensus:
    """The consensus of the cutouts that two or more annotators painted.

    Attributes
    ----------
    labels : dict of str to ndarray of uint8
        Cutout id -> consensus label image: at each pixel the class whose
        STAPLE probability is highest, if it is at least 0.5; else unlabelled.
    agreement : dict of str to ndarray of float32
        Cutout id -> fraction of the cutout's annotators whose label is the
        consensus label, per pixel.
    sensitivity, specificity : dict of str to dict of str to float
        Class name -> annotator -> STAPLE's estimate (classes someone painted).
    """

    labels: dict[str, np.ndarray]
    agreement: dict[str, np.ndarray]
    sensitivity: dict[str, dict[str, float]]
    specificity: dict[str, dict[str, float]]


def consensus(cutouts: Sequence[AnnotatedCutout], taxonomy: Taxonomy) -> Consensus:
    """STAPLE consensus, per class, of the cutouts with two or more annotators.

    Each class is estimated on its own (:func:`~galseg.agreement.staple`,
    pooling every shared cutout, so that an annotator's sensitivity and
    specificity come from all their work); the classes are then combined
    pixel by pixel.

    Examples
    --------
    >>> import numpy as np
    >>> from galseg import DEFAULT_TAXONOMY
    >>> from galseg.agreement import AnnotatedCutout
    >>> a = np.array([[0, 1, 1, 0]], np.uint8)
    >>> b = np.array([[1, 1, 1, 0]], np.uint8)
    >>> shared = AnnotatedCutout("c1", {"ada": a, "bo": b, "cy": a}, {}, None)
    >>> result = consensus([shared], DEFAULT_TAXONOMY)
    >>> result.labels["c1"].tolist(), result.agreement["c1"].astype(float).round(2).tolist()
    ([[0, 1, 1, 0]], [[0.67, 1.0, 1.0, 1.0]])
    """
    shared = [c for c in cutouts if len(c.masks) >= 2]
    best = {c.cutout_id: np.zeros(_shape(c), np.float64) for c in shared}
    labels = {c.cutout_id: np.zeros(_shape(c), np.uint8) for c in shared}
    sensitivity: dict[str, dict[str, float]] = {}
    specificity: dict[str, dict[str, float]] = {}
    for feature in taxonomy.feature_classes:
        if not any((m == feature.value).any() for c in shared for m in c.masks.values()):
            continue
        result = staple([{who: m == feature.value for who, m in c.masks.items()} for c in shared])
        sensitivity[feature.name], specificity[feature.name] = (
            result.sensitivity,
            result.specificity,
        )
        for cutout, probability in zip(shared, result.probability, strict=True):
            wins = (probability >= 0.5) & (probability > best[cutout.cutout_id])
            best[cutout.cutout_id][wins] = probability[wins]
            labels[cutout.cutout_id][wins] = feature.value
    agreement = {
        c.cutout_id: np.mean([m == labels[c.cutout_id] for m in c.masks.values()], axis=0).astype(
            np.float32
        )
        for c in shared
    }
    return Consensus(labels, agreement, sensitivity, specificity)


def write_consensus(
    store: MaskStore | str | Path, out: MaskStore | str | Path, *, progress: Progress = False
) -> int:
    """Save the consensus of ``store`` into ``out``, with each pixel's agreement fraction.

    Each cutout that two or more annotators painted is added to ``out`` (the
    pixels too, if ``store`` has them) with a mask revision by annotator
    ``consensus`` with provenance ``consensus``, whose metadata list the
    annotators, and the agreement fraction of that revision
    (:meth:`MaskStore.save_agreement`). ``out`` may be ``store`` itself.

    Returns
    -------
    int
        The number of consensus masks written.

    Raises
    ------
    GalsegError
        If a store is unreadable, or their taxonomies differ.
    """
    source = store if isinstance(store, MaskStore) else MaskStore.open(store, mode="r")
    target = out if isinstance(out, MaskStore) else MaskStore.open(out, taxonomy=source.taxonomy)
    _check_same_taxonomy(source, target)
    cutouts = list(annotated_cutouts(source))
    result = consensus(cutouts, source.taxonomy)
    written = 0
    chosen = [c for c in cutouts if c.cutout_id in result.labels]
    for cutout in track(chosen, len(chosen), "consensus", progress):
        cid = cutout.cutout_id
        if cid not in target:
            target.add_cutout(source.cutout(cid), copy_pixels=source.has_pixels(cid))
        revision = target.save_mask(
            cid,
            result.labels[cid],
            CONSENSUS_ANNOTATOR,
            provenance="consensus",
            metadata={"method": "STAPLE", "annotators": sorted(cutout.masks)},
        )
        target.save_agreement(cid, result.agreement[cid], revision)
        written += 1
    return written


def _check_same_taxonomy(source: MaskStore, target: MaskStore) -> None:
    if source.taxonomy != target.taxonomy:
        raise StoreError(f"{target.path}: its classes are not those of {source.path}")


def _shape(cutout: AnnotatedCutout) -> tuple[int, ...]:
    return next(iter(cutout.masks.values())).shape
