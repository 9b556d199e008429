"""Masks carried from one survey's pixel grid onto another's, by WCS.

A mask painted on a Euclid VIS cutout (0.1"/px) can be moved onto the HSC
(0.168"/px), Rubin (0.2"/px) or Legacy Surveys (0.262"/px) cutout of the same
galaxy. Labels cannot be interpolated, so each class's coverage is reprojected
instead: :func:`reproject.reproject_exact` gives, for every target pixel, the
fraction of its area each class covers on the sky. A target pixel takes its
best-covered class whose coverage reaches ``threshold`` (half of the pixel by
default). Thin features would vanish on a coarser grid by that rule alone (a
2-pixel-wide stream at 0.1"/px covers at most 0.76 of a 0.262"/px pixel, and
often about 0.4 of two neighbours), so a class also keeps the skeleton of the
pixels it covers by at least :data:`THIN_COVERAGE`: a one-pixel-wide line that
keeps the feature connected. Inside broad features that skeleton lies within
the pixels the threshold already takes, so it only matters for thin ones.

Target pixels of which less than half lies inside the source cutouts carry no
information: they stay unlabelled and are recorded as not covered.

Examples
--------
A square painted on a 0.1"/px grid lands on a 0.262"/px grid of the same sky:

>>> import numpy as np
>>> from astropy.wcs import WCS
>>> def tan(scale, n):
...     wcs = WCS(naxis=2)
...     wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
...     wcs.wcs.crval, wcs.wcs.crpix = [150.0, 2.0], [(n + 1) / 2, (n + 1) / 2]
...     wcs.wcs.cdelt = [-scale / 3600, scale / 3600]
...     return wcs
>>> mask = np.zeros((131, 131), np.uint8)
>>> mask[40:92, 40:92] = 2                     # 5.2" square, centred
>>> labels, covered = reproject_mask(mask, tan(0.1, 131), tan(0.262, 61), (61, 61))
>>> round(float((labels == 2).sum()) / (5.2 / 0.262) ** 2, 1)   # its area is kept
1.0
>>> bool(covered[30, 30]), bool(covered.all())  # the source spans 13.1", the target 16"
(True, False)
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
import os
from pathlib import Path
from typing import Any
import zlib

from astropy.coordinates import SkyCoord
from astropy.wcs import WCS
import numpy as np

from ._progress import Progress, track
from .cutout import Cutout
from .errors import CutoutError, GalsegError
from .queue import find_cutouts
from .store import MaskStore, Revision, _wcs_from_cards

__all__ = [
    "METHOD",
    "THIN_COVERAGE",
    "TransferReport",
    "covered_pixels",
    "reproject_mask",
    "transfer_masks",
]

METHOD = "reproject_exact"
"""How class coverage is reprojected (recorded with every transferred revision)."""

THIN_COVERAGE = 0.1
"""Least coverage of a target pixel by a class for it to carry that class's skeleton."""

_COVERED = 0.5  # least fraction of a target pixel inside the sources for it to be covered


def reproject_mask(
    mask: np.ndarray,
    source_wcs: WCS,
    target_wcs: WCS,
    target_shape: tuple[int, int],
    *,
    threshold: float = 0.5,
) -> tuple[np.ndarray, np.ndarray]:
    """Move a label mask onto another pixel grid of the sky.

    Parameters
    ----------
    mask : ndarray of int, shape (y, x)
        Label image on the source grid (0 = unlabelled).
    source_wcs, target_wcs : astropy.wcs.WCS
        Celestial WCS of the source and target grids.
    target_shape : (int, int)
        ``(y, x)`` shape of the target grid.
    threshold : float
        Least fraction of a target pixel a class must cover to label it
        (thin features keep their skeleton below it; see the module docs).

    Returns
    -------
    labels : ndarray of uint8, shape ``target_shape``
        The mask on the target grid.
    covered : ndarray of bool, shape ``target_shape``
        Target pixels at least half inside the source grid.

    Raises
    ------
    GalsegError
        If a WCS is not celestial or the mask is not a 2-D label image.
    """
    coverage, footprint = _class_coverage(mask, source_wcs, target_wcs, target_shape)
    return _labels(coverage, footprint, threshold)


def covered_pixels(revision: Revision) -> np.ndarray | None:
    """The pixels a transferred revision carries information for, or None if it has no record.

    The record is kept in the revision's metadata (``transfer.covered``) as
    ``numpy.packbits`` of the boolean image, zlib-compressed and base64-encoded,
    with its shape.

    Raises
    ------
    GalsegError
        If the record is there but cannot be read (edited by hand, cut short).
    """
    record = revision.metadata.get("transfer", {}).get("covered")
    if record is None:
        return None
    try:
        height, width = (int(n) for n in record["shape"])
        packed = zlib.decompress(base64.b64decode(record["data"], validate=True))
        bits = np.unpackbits(np.frombuffer(packed, np.uint8))
        return bits[: height * width].reshape(height, width).astype(bool)
    except (KeyError, TypeError, ValueError, zlib.error) as exc:
        raise GalsegError(
            f"cutout {revision.cutout_id} revision {revision.revision}: its record of the "
            f"pixels the transfer covered (transfer.covered) is unreadable ({exc})"
        ) from None


@dataclass
class TransferReport:
    """What :func:`transfer_masks` did.

    Attributes
    ----------
    targets : int
        Target cutouts read.
    overlapped : int
        Target cutouts that at least one source cutout with masks overlaps.
    revisions : int
        Revisions written into the output store.
    unchanged : int
        Revisions not written because the same transfer is already there.
    sources_without_wcs : list of str
        Source cutout ids left out for lack of a celestial WCS.
    """

    targets: int = 0
    overlapped: int = 0
    revisions: int = 0
    unchanged: int = 0
    sources_without_wcs: list[str] = field(default_factory=list)

    def summary(self, out: Path) -> str:
        """One line for people."""
        text = (
            f"transferred {self.revisions} masks onto {self.overlapped} of {self.targets} "
            f"target cutouts into {out}"
        )
        if self.unchanged:
            text += f" ({self.unchanged} already there)"
        if self.sources_without_wcs:
            text += f"; {len(self.sources_without_wcs)} source cutouts have no WCS"
        return text


def transfer_masks(
    source: MaskStore,
    targets: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    *,
    threshold: float = 0.5,
    progress: Progress = False,
) -> TransferReport:
    """Carry every annotator's latest masks onto other cutouts of the same sky.

    For each target cutout, the source cutouts that overlap it on the sky are
    found by their WCS; each annotator's latest mask of them is reprojected
    onto the target's grid (:func:`reproject_mask`), the coverage of several
    overlapping sources being combined (weighted by how much of each target
    pixel they cover), and saved into ``out`` as a revision by that annotator
    with provenance ``transferred``. Its metadata (``transfer``) hold the
    method, the threshold, the source store, each source's cutout id and
    revision, and the covered pixels (:func:`covered_pixels`). Running the same
    transfer again writes nothing new.

    Parameters
    ----------
    source : MaskStore
        The store holding the masks.
    targets : sequence of path-like
        FITS files, folders of them or stores, as ``galseg annotate`` takes
        them (:func:`galseg.queue.find_cutouts`).
    out : path-like
        Store to write into (created with the source's taxonomy if missing).
    threshold : float
        See :func:`reproject_mask`.
    progress : bool or callable
        See :mod:`galseg._progress`.

    Raises
    ------
    GalsegError
        If a target cannot be read or has no celestial WCS (the message names
        the file; nothing is written then), or ``out`` is another taxonomy's
        store.
    """
    _check_threshold(threshold)
    items = find_cutouts(targets)
    for item in items:  # every target checked before anything is written
        cutout = item.read()
        _celestial(cutout.wcs, cutout.source or cutout.name)
    report = TransferReport(targets=len(items))
    sources = _sources_with_masks(source, report)
    store = MaskStore.open(out, taxonomy=source.taxonomy)
    for item in track(items, len(items), "transfer", progress):
        cutout = item.read()  # read again rather than hold a catalogue's pixels
        centre, radius = _sky_disc(cutout.wcs.celestial, cutout.image_shape)
        near = [
            s
            for s in sources
            if s.centre.separation(centre).deg < s.radius + radius
            and s.content_hash != cutout.content_hash
        ]
        report.overlapped += _transfer_onto(source, near, store, cutout, threshold, report)
    return report


# --------------------------------------------------------------------- private
@dataclass(frozen=True)
class _Source:
    """A source cutout with masks: where it lies on the sky, and whose masks it has."""

    cutout_id: str
    content_hash: str
    wcs: WCS
    shape: tuple[int, int]
    centre: SkyCoord
    radius: float  # degrees from the centre to the farthest corner
    latest: Mapping[str, Revision]


def _sources_with_masks(store: MaskStore, report: TransferReport) -> list[_Source]:
    sources = []
    for cutout_id in store.ids():
        latest = store.latest_by_annotator(cutout_id)
        if not latest:
            continue
        info = store.info(cutout_id)
        wcs = _wcs_from_cards(info.get("wcs"))
        if wcs is None or not wcs.has_celestial:
            report.sources_without_wcs.append(cutout_id)
            continue
        shape = tuple(info["shape"])
        centre, radius = _sky_disc(wcs.celestial, shape)
        sources.append(
            _Source(cutout_id, info["content_hash"], wcs.celestial, shape, centre, radius, latest)
        )
    return sources


def _transfer_onto(
    source: MaskStore,
    near: list[_Source],
    store: MaskStore,
    cutout: Cutout,
    threshold: float,
    report: TransferReport,
) -> bool:
    """Write each annotator's combined transfer onto one target; whether any source covers it.

    The target joins ``store`` only if some source covers it.
    """
    annotators = sorted({who for s in near for who in s.latest})
    any_covered = False
    for who in annotators:
        coverage: dict[int, np.ndarray] = {}
        footprint = np.zeros(cutout.image_shape)
        used = []
        for s in near:
            if who not in s.latest:
                continue
            rev = s.latest[who]
            mask = source.load_mask(s.cutout_id, revision=rev.revision)
            cov, fp = _class_coverage(mask, s.wcs, cutout.wcs.celestial, cutout.image_shape)
            if not (fp >= _COVERED).any():
                continue
            used.append({"cutout_id": s.cutout_id, "revision": rev.revision})
            for value, plane in cov.items():  # weighted by the part of each pixel covered
                coverage[value] = coverage.get(value, 0.0) + plane * fp
            footprint = footprint + fp
        if not used:
            continue
        any_covered = True
        with np.errstate(invalid="ignore", divide="ignore"):
            coverage = {v: np.where(footprint > 0, c / footprint, 0.0) for v, c in coverage.items()}
        labels, covered = _labels(coverage, np.minimum(footprint, 1.0), threshold)
        record = {
            "method": METHOD,
            "threshold": threshold,
            "source_store": str(Path(source.path).resolve()),
            "sources": used,
        }
        target_id = store.add_cutout(cutout, copy_pixels=True)
        previous = store.latest(target_id, who)
        if previous is not None and _same_transfer(previous, record):
            report.unchanged += 1
            continue
        store.save_mask(
            target_id,
            labels,
            who,
            "transferred",
            metadata={"transfer": {**record, "covered": _encode(covered)}},
        )
        report.revisions += 1
    return any_covered


def _same_transfer(previous: Revision, record: Mapping[str, Any]) -> bool:
    """Whether ``previous`` came from the same source masks the same way.

    The source store's path is left out: the same store named another way, or
    moved, holds the same masks (cutout ids are content hashes).
    """
    done = previous.metadata.get("transfer")
    return (
        previous.provenance == "transferred"
        and isinstance(done, Mapping)
        and all(done.get(key) == value for key, value in record.items() if key != "source_store")
    )


def _class_coverage(
    mask: np.ndarray, source_wcs: WCS, target_wcs: WCS, target_shape: tuple[int, int]
) -> tuple[dict[int, np.ndarray], np.ndarray]:
    """Each present class's coverage of the target pixels, and the footprint (y, x)."""
    from reproject import reproject_exact

    mask = np.asarray(mask)
    if mask.ndim != 2 or not (np.issubdtype(mask.dtype, np.integer) or mask.dtype == bool):
        raise GalsegError(
            f"reproject_mask: the mask must be a 2-D label image, not {mask.dtype} "
            f"of shape {mask.shape}"
        )
    source_wcs = _celestial(source_wcs, "the source grid")
    target_wcs = _celestial(target_wcs, "the target grid")
    values = [int(v) for v in np.unique(mask) if v != 0]
    planes = np.stack([mask == v for v in values] or [np.zeros_like(mask, bool)]).astype(float)
    shape = (int(target_shape[0]), int(target_shape[1]))
    reprojected, footprint = reproject_exact(
        (planes, source_wcs), target_wcs, shape_out=shape, return_footprint=True
    )
    coverage = dict(zip(values, np.nan_to_num(reprojected), strict=False))
    return coverage, np.nan_to_num(footprint[0])


def _labels(
    coverage: Mapping[int, np.ndarray], footprint: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """Each covered pixel's best-covered class at or above ``threshold``, thin features kept."""
    from skimage.morphology import skeletonize

    _check_threshold(threshold)
    covered = footprint >= _COVERED
    best = np.zeros(footprint.shape)
    labels = np.zeros(footprint.shape, np.uint8)
    for value, cov in sorted(coverage.items()):
        candidate = (cov >= threshold) | skeletonize(cov >= THIN_COVERAGE)
        take = candidate & covered & (cov > best)
        labels[take] = value
        best[take] = cov[take]
    return labels, covered


def _check_threshold(threshold: float) -> None:
    if not 0 < threshold <= 1:
        raise GalsegError(f"the coverage threshold must be in (0, 1], not {threshold}")


def _celestial(wcs: WCS | None, where: object) -> WCS:
    """The celestial part of ``wcs``; a GalsegError naming ``where`` if it has none."""
    if wcs is None or not wcs.has_celestial:
        raise CutoutError(f"{where}: no celestial WCS, so its pixels cannot be placed on the sky")
    return wcs.celestial


def _sky_disc(wcs: WCS, shape: tuple[int, int]) -> tuple[SkyCoord, float]:
    """The centre of a grid on the sky, and the distance (deg) to its farthest corner."""
    ny, nx = shape
    x = np.array([(nx - 1) / 2, -0.5, nx - 0.5, -0.5, nx - 0.5])
    y = np.array([(ny - 1) / 2, -0.5, -0.5, ny - 0.5, ny - 0.5])
    points = wcs.pixel_to_world(x, y)
    return points[0], float(points[0].separation(points[1:]).deg.max())


def _encode(covered: np.ndarray) -> dict[str, Any]:
    packed = zlib.compress(np.packbits(covered.ravel()).tobytes(), 9)
    return {
        "shape": list(covered.shape),
        "encoding": "base64 of zlib of numpy.packbits of the C-ordered boolean image",
        "data": base64.b64encode(packed).decode("ascii"),
    }
