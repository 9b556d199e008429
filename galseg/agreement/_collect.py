"""The masks to compare: each annotator's final mask of each cutout, and the truth where known."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from ..store import MaskStore

__all__ = ["CONSENSUS_ANNOTATOR", "HUMAN_PROVENANCES", "AnnotatedCutout", "annotated_cutouts"]

HUMAN_PROVENANCES = ("painted", "assisted", "imported")
"""Provenances of masks made by people: the masks compared (a model's
predictions, a simulator's truth and consensus masks are not annotators)."""

CONSENSUS_ANNOTATOR = "consensus"
"""Annotator name of consensus masks in a store (:func:`~galseg.agreement.write_consensus`)."""


@dataclass(frozen=True)
class AnnotatedCutout:
    """One cutout's final masks by each annotator, and its truth if known.

    Attributes
    ----------
    cutout_id : str
    masks : dict of str to ndarray of uint8
        Annotator -> their latest mask (all unlabelled where they flagged the
        cutout ``no_feature`` without painting).
    times : dict of str to str
        Annotator -> time of that mask (ISO 8601; the empty string for a flag).
    truth : ndarray of uint8 or None
        The truth mask, from the truth store.
    """

    cutout_id: str
    masks: dict[str, np.ndarray]
    times: dict[str, str]
    truth: np.ndarray | None


def annotated_cutouts(
    store: MaskStore, *, truth: MaskStore | None = None, ids: Iterable[str] | None = None
) -> Iterator[AnnotatedCutout]:
    """Every cutout of ``store`` (or of ``ids``) with at least one annotator's mask, in id order.

    Only masks made by people count (:data:`HUMAN_PROVENANCES`). The truth of
    a cutout is the latest mask of the same cutout (same pixels, hence same
    id) in ``truth``. ``ids`` limits the cutouts (those not in ``store`` are
    skipped).

    Examples
    --------
    >>> import tempfile
    >>> from galseg import Cutout, MaskStore
    >>> store = MaskStore.open(tempfile.mkdtemp() + "/m.zarr")
    >>> cid = store.add_cutout(Cutout.from_array(np.ones((1, 4, 4)), bands=["r"]))
    >>> _ = store.save_mask(cid, np.eye(4, dtype=np.uint8), "ada")
    >>> _ = store.save_mask(cid, np.ones((4, 4), np.uint8), "model", provenance="predicted")
    >>> [sorted(c.masks) for c in annotated_cutouts(store)]
    [['ada']]
    """
    for cutout_id in store.ids() if ids is None else sorted(set(ids) & set(store.ids())):
        finals = {
            who: rev
            for who, rev in store.final_masks(cutout_id).items()
            if rev is None or rev.provenance in HUMAN_PROVENANCES
        }
        if not finals:
            continue
        shape = tuple(store.info(cutout_id)["shape"])
        masks = {
            who: np.zeros(shape, np.uint8)
            if rev is None
            else store.load_mask(cutout_id, revision=rev.revision)
            for who, rev in finals.items()
        }
        times = {who: "" if rev is None else rev.time for who, rev in finals.items()}
        known = truth is not None and cutout_id in truth and truth.latest(cutout_id) is not None
        yield AnnotatedCutout(
            cutout_id, masks, times, truth.load_mask(cutout_id) if known else None
        )
