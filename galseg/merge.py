"""Import a data set into a mask store, merging revisions without overwriting any.

:func:`import_dataset` reads what :func:`galseg.export.export_dataset` wrote
(a folder or a zip file) and adds its cutouts and mask revisions to a store:

- every file's checksum is verified against the data card first, so a
  truncated or altered data set is refused;
- a cutout whose content hash is the store's but whose pixels differ (or
  whose id is taken by other pixels) is a clash: the whole data set is
  refused;
- each revision is added as a new revision of the store, in the data set's
  order (the order of the store it was exported from), keeping its
  annotator, time, provenance and metadata; one the store already holds
  (same annotator, time, provenance and pixels) is not added again, so
  importing the same data set twice adds nothing;
- the cutouts' flags (``no_feature``, ``unsure``, ``bad_data``) are merged.

All checks run before anything is written: a refused data set leaves the
store as it was (a new store is not even created).

Examples
--------
>>> import numpy as np, tempfile
>>> from galseg import Cutout, MaskStore
>>> from galseg.export import export_dataset
>>> work = tempfile.mkdtemp()
>>> mine = MaskStore.open(work + "/mine.zarr")
>>> cid = mine.add_cutout(Cutout.from_array(np.arange(64.0).reshape(1, 8, 8), bands=["r"]))
>>> _ = mine.save_mask(cid, np.eye(8, dtype=np.uint8), "ada")
>>> _ = export_dataset(mine, work + "/shared")
>>> import_dataset(work + "/shared", work + "/theirs.zarr")
ImportReport(cutouts_added=1, revisions_added=1, revisions_present=0, flags_added=0)
>>> import_dataset(work + "/shared", work + "/theirs.zarr")
ImportReport(cutouts_added=0, revisions_added=0, revisions_present=1, flags_added=0)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
import contextlib
from dataclasses import dataclass
import hashlib
import os
from pathlib import Path, PurePosixPath
import tempfile
import zipfile

import numpy as np

from ._progress import Progress, track
from .cutout import Cutout, content_hash
from .datacard import read_card
from .discovery import find_cutouts
from .errors import GalsegError, StoreError
from .store import MaskStore, Revision, is_mask_store

__all__ = ["ImportReport", "import_dataset"]


@dataclass
class ImportReport:
    """What :func:`import_dataset` added.

    Attributes
    ----------
    cutouts_added : int
        Cutouts the store did not hold.
    revisions_added : int
        Mask revisions added.
    revisions_present : int
        Revisions of the data set the store already held (not added again).
    flags_added : int
        Flags set (an annotator's ``no_feature``, ``unsure`` or ``bad_data``).
    """

    cutouts_added: int = 0
    revisions_added: int = 0
    revisions_present: int = 0
    flags_added: int = 0

    def summary(self, into: Path) -> str:
        """One line for people."""
        return (
            f"imported {self.revisions_added} revisions and {self.cutouts_added} new cutouts "
            f"into {into} ({self.revisions_present} revisions were there already)"
        )


def import_dataset(
    dataset: str | os.PathLike,
    into: str | os.PathLike,
    *,
    cutouts: Sequence[str | os.PathLike] = (),
    progress: Progress = False,
) -> ImportReport:
    """Merge an exported data set (folder or zip file) into the store ``into``.

    Parameters
    ----------
    dataset : path-like
        The data set's folder, or its zip file.
    into : path-like
        The store (created, with the data set's taxonomy, if missing).
    cutouts : sequence of path-like
        Where to find the pixels of a data set exported without them
        (``galseg export --no-pixels``) that the store does not hold: FITS
        files, folders of them or stores, as ``galseg annotate`` takes them
        (:func:`galseg.discovery.find_cutouts`). Each is matched to the data
        set's cutouts by its content hash, so names and folders need not be
        the exporter's. By default the files the data set names are tried.
    progress : bool or callable
        See :mod:`galseg._progress`.

    Returns
    -------
    ImportReport

    Raises
    ------
    StoreError
        If the data set is not one, is truncated or altered, clashes with the
        store's pixels, has other classes than the store, or lacks pixels
        found neither in the store nor in ``cutouts``. Nothing is written then.
    """
    into = Path(into)
    with _unpacked(Path(dataset)) as folder:
        read_card(folder)
        source = MaskStore.open(folder / "masks.zarr", mode="r")
        store = MaskStore.open(into, mode="r") if is_mask_store(into) else None
        if store is None and into.exists() and (not into.is_dir() or any(into.iterdir())):
            raise StoreError(f"{into}: not a galseg mask store")
        if store is not None and store.taxonomy != source.taxonomy:
            raise StoreError(
                f"{dataset}: its classes {source.taxonomy!r} are not the store's "
                f"{store.taxonomy!r}; import it into a new store, or ask for an export "
                "mapped to your classes (galseg export --map)"
            )
        found = [item.read() for item in find_cutouts(cutouts)] if cutouts else []
        copies = {cutout.content_hash: cutout for cutout in found}
        plans = [_plan(source, cid, store, Path(dataset), copies) for cid in source.ids()]
        store = MaskStore.open(into, taxonomy=source.taxonomy)
        report = ImportReport()
        for plan in track(plans, len(plans), "import", progress):
            _apply(plan, source, store, report)
    return report


# --------------------------------------------------------------------- private
@dataclass
class _Plan:
    """What importing one cutout will do, decided before anything is written."""

    cutout_id: str
    cutout: Cutout | None  # to add to the store; None if the store holds it
    revisions: list[Revision]  # to add, in the data set's order
    present: int  # revisions the store holds already
    flags: list[tuple[str, str]]  # (flag, annotator) to set


def _plan(
    source: MaskStore,
    cutout_id: str,
    store: MaskStore | None,
    dataset: Path,
    copies: Mapping[str, Cutout],
) -> _Plan:
    info = source.info(cutout_id)
    where = f"{dataset}: cutout {cutout_id}"
    theirs = None
    if source.has_pixels(cutout_id):
        theirs = source.cutout(cutout_id)
        if content_hash(theirs.data, theirs.bands) != info["content_hash"]:
            raise StoreError(f"{where}: its pixels do not match its content hash (altered)")
    held = store is not None and cutout_id in store
    if held:
        ours = store.info(cutout_id)
        clash = ours["content_hash"] != info["content_hash"]
        if not clash and theirs is not None and store.has_pixels(cutout_id):
            clash = not np.array_equal(store.cutout(cutout_id).data, theirs.data, equal_nan=True)
        if clash:
            raise StoreError(
                f"{where}: clashes with different pixels under the same content hash in "
                f"{store.path}; nothing was imported"
            )
    elif theirs is None:
        theirs = copies.get(info["content_hash"])
    if theirs is None and not held:
        try:
            theirs = source.cutout(cutout_id)  # from the files the data set names
        except GalsegError:
            name = info.get("name") or cutout_id
            raise StoreError(
                f"{where} ({name}): the data set has no pixels for it, and neither the store "
                "nor --cutouts holds them; give the folder of your copy of it with --cutouts"
            ) from None
    known = set()
    if held:
        known = {_identity(store, rev) for rev in store.history(cutout_id)}
    revisions = source.history(cutout_id)
    new = [rev for rev in revisions if _identity(source, rev) not in known]
    already = store.flags(cutout_id) if held else {}
    flags = [
        (flag, who)
        for flag, flagged_by in sorted(source.flags(cutout_id).items())
        for who in flagged_by
        if who not in already.get(flag, [])
    ]
    return _Plan(cutout_id, None if held else theirs, new, len(revisions) - len(new), flags)


def _apply(plan: _Plan, source: MaskStore, store: MaskStore, report: ImportReport) -> None:
    if plan.cutout is not None:
        store.add_cutout(plan.cutout, copy_pixels=source.has_pixels(plan.cutout_id))
        report.cutouts_added += 1
    for rev in plan.revisions:
        store.save_mask(
            plan.cutout_id,
            source.load_mask(plan.cutout_id, revision=rev.revision),
            rev.annotator,
            rev.provenance,
            metadata=rev.metadata,
            time=rev.time,
        )
        report.revisions_added += 1
    for flag, who in plan.flags:
        store.set_flag(plan.cutout_id, flag, who)
        report.flags_added += 1
    report.revisions_present += plan.present


def _identity(store: MaskStore, rev: Revision) -> tuple[str, str, str, str]:
    """What makes two revisions the same: annotator, time, provenance and pixels."""
    mask = store.load_mask(rev.cutout_id, revision=rev.revision)
    return rev.annotator, rev.time, rev.provenance, hashlib.sha256(mask.tobytes()).hexdigest()


@contextlib.contextmanager
def _unpacked(dataset: Path) -> Iterator[Path]:
    """The data set's folder: itself, or a zip file unpacked into a temporary one."""
    if dataset.is_dir():
        yield dataset
        return
    if not dataset.exists():
        raise StoreError(f"{dataset}: no such data set")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            with zipfile.ZipFile(dataset) as archive:
                bad = archive.testzip()
                if bad is not None:
                    raise StoreError(f"{dataset}: {bad} is corrupt in the zip file")
                for name in archive.namelist():
                    if name.startswith("/") or ".." in PurePosixPath(name).parts:
                        raise StoreError(f"{dataset}: unsafe path {name!r} in the zip file")
                archive.extractall(tmp)
        except (zipfile.BadZipFile, EOFError, OSError) as exc:
            raise StoreError(f"{dataset}: not a readable zip file of a data set ({exc})") from None
        unpacked = f"{Path(tmp)}{os.sep}"
        try:
            yield Path(tmp)
        except GalsegError as exc:  # a file of the zip is named in it, not in the unpacked copy
            if unpacked not in str(exc):
                raise
            raise type(exc)(str(exc).replace(unpacked, f"{dataset}: ")) from None
