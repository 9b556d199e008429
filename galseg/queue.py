"""The former home of cutout discovery and the annotation queue, kept for old imports.

New code imports :mod:`galseg.discovery` (finding cutouts on disk) and
:mod:`galseg.annotate` (the annotation queue and session).
"""

from .annotate import AnnotationQueue, OpenedCutout
from .discovery import BAND_ORDER, QueueItem, band_rank, find_cutouts, fits_files

__all__ = [
    "BAND_ORDER",
    "AnnotationQueue",
    "OpenedCutout",
    "QueueItem",
    "band_rank",
    "find_cutouts",
    "fits_files",
]
