"""Agreement between annotators: pairwise IoU, a STAPLE consensus, and skill against truth.

Masks by several annotators sit side by side in a mask store.
:func:`measure_agreement` compares them, class by class: each pair on the
cutouts they share, each annotator against the consensus of all, and, with a
truth store (simulated or calibration cutouts), each annotator and the
consensus against the truth, also over time. The consensus is STAPLE's
(:func:`staple`): each annotator's sensitivity and specificity per class are
estimated from the masks alone and weigh their votes, so a careful annotator
counts for more than one who paints too wide. :func:`write_consensus` saves
the consensus masks into a store, with each pixel's agreement fraction;
:func:`plot_agreement` draws the report. ``galseg agreement`` and
``galseg consensus`` run them.

Examples
--------
>>> from galseg.agreement import measure_agreement
>>> report = measure_agreement("masks.zarr", truth="truth.zarr")  # doctest: +SKIP
>>> report.annotators["ada"]["iou_vs_truth"]  # doctest: +SKIP
"""

from ._collect import CONSENSUS_ANNOTATOR, HUMAN_PROVENANCES, AnnotatedCutout, annotated_cutouts
from ._consensus import Consensus, consensus, write_consensus
from ._overlap import iou, mean_iou
from ._plots import plot_agreement
from ._report import AgreementReport, measure_agreement
from ._staple import Staple, staple

__all__ = [
    "CONSENSUS_ANNOTATOR",
    "HUMAN_PROVENANCES",
    "AgreementReport",
    "AnnotatedCutout",
    "Consensus",
    "Staple",
    "annotated_cutouts",
    "consensus",
    "iou",
    "mean_iou",
    "measure_agreement",
    "plot_agreement",
    "staple",
    "write_consensus",
]
