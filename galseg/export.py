"""Export a mask store as a self-describing data set for collaborators.

``export_dataset(store, out)`` writes a folder (or, with ``zip=True``, one zip
file holding the same)::

    out/
      masks.zarr/        a galseg mask store (plain Zarr v3) holding, for every
                         cutout, its WCS, bands, metadata and flags, its pixels
                         (unless ``pixels=False``), and every revision of its
                         masks, in the store's order, with its annotator,
                         original time, provenance and metadata
      manifest.ecsv      one row per revision (and per ``no_feature`` flag without
                         one): id, name, survey, bands, pixel scale, RA/Dec,
                         annotator, revision, provenance, classes present,
                         whether it is the annotator's final mask, ...; the
                         taxonomy is in its header
      fits/              (with ``fits_masks=True``) one FITS mask per final row,
                         carrying the cutout's WCS
      moc/<class>.fits   (with ``moc=True``) each class's footprint on the sky
                         as an IVOA MOC (:mod:`galseg.footprint`)
      README.md          the data card (:mod:`galseg.datacard`)
      dataset.json       the same for programs, with the SHA-256 of every file

With a :class:`~galseg.taxonomy.TaxonomyMapping` the masks are written in
another group's classes. The data set is built beside ``out`` and appears
whole, with one rename, or not at all. :func:`galseg.merge.import_dataset`
reads it back.

The manifest is an astropy ECSV table: ``astropy.table.Table.read`` reads it
with its column descriptions and units (``Table.read(path).to_pandas()`` for
pandas).
"""

from __future__ import annotations

from dataclasses import replace
import hashlib
import os
from pathlib import Path
import re
import shutil
import tempfile
from typing import Any

from astropy.io import fits
from astropy.table import Table
import numpy as np

from . import __version__
from ._progress import Progress, track
from .cutout import Cutout
from .datacard import write_card
from .errors import StoreError
from .photometry import surface_brightness
from .store import PROVENANCES, MaskStore, Revision
from .stretch import sky_noise
from .surveys import identify_survey, surface_brightness_limit
from .taxonomy import Taxonomy, TaxonomyMapping

__all__ = ["export_dataset", "MANIFEST_COLUMNS"]

MANIFEST_COLUMNS = {
    "id": "cutout id in masks.zarr (first 16 hex digits of the content hash)",
    "name": "cutout name (source file stem)",
    "survey": "survey the cutout comes from",
    "bands": "band names, comma-separated, in image order",
    "pixel_scale": "pixel scale [arcsec / pixel]",
    "ra": "right ascension of the central pixel [deg]",
    "dec": "declination of the central pixel [deg]",
    "annotator": "who made the mask",
    "revision": "revision number in the source store (0: flagged no_feature, empty mask)",
    "provenance": "how the mask was made: " + ", ".join((*PROVENANCES, "no_feature")),
    "time": "time of the revision (ISO 8601 UTC)",
    "classes": "classes present in the mask, ';'-separated, or 'none'",
    "labelled_fraction": "fraction of the pixels with a label",
    "final": "whether this is the annotator's final word on the cutout (their latest revision)",
    "mask_path": "path of the mask array inside masks.zarr",
    "fits_mask": "FITS mask file relative to the dataset folder, if written",
    "content_hash": "SHA-256 of the pixels the mask was painted on",
}
"""Columns of ``manifest.ecsv`` and what they hold."""


def export_dataset(
    store: MaskStore,
    out: str | os.PathLike,
    *,
    annotator: str | None = None,
    fits_masks: bool = False,
    pixels: bool = True,
    zip: bool = False,
    mapping: TaxonomyMapping | None = None,
    moc: bool = False,
    progress: Progress = False,
) -> Table:
    """Write a store's masks, every revision, as a data set (see the module docs).

    Parameters
    ----------
    store : MaskStore
        The store to export.
    out : path-like
        A folder that does not exist yet or is empty; with ``zip``, a file
        that does not exist yet.
    annotator : str, optional
        Only this annotator's masks.
    fits_masks : bool
        Also write each annotator's final mask of each cutout as FITS under ``fits/``.
    pixels : bool
        Include the cutouts' pixels (collaborators who hold the images can do
        without them: the WCS, bands and content hashes are always included).
    zip : bool
        Write one zip file instead of a folder.
    mapping : TaxonomyMapping, optional
        Write the masks in ``mapping.target``'s classes.
    moc : bool
        Also write each class's sky footprint as a MOC under ``moc/``.
    progress : bool or callable
        See :mod:`galseg._progress`.

    Returns
    -------
    astropy.table.Table
        The manifest, as written.

    Raises
    ------
    StoreError
        If ``out`` is taken, there is nothing to export, or ``mapping`` is for
        another taxonomy. Nothing is left at ``out`` then.
    """
    out = Path(out)
    if zip and out.exists():
        raise StoreError(f"{out}: the file exists already; choose a new name")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise StoreError(f"{out}: the export folder is not empty; choose a new one")
    if mapping is not None and mapping.source != store.taxonomy:
        raise StoreError(f"{store.path}: the mapping is for {mapping.source!r}, not the store's")
    if not any(store.final_masks(cid, annotator) for cid in store.ids()):
        who = f" by {annotator!r}" if annotator else ""
        raise StoreError(f"{store.path}: no masks{who} to export")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{out.name}.partial-", dir=out.parent) as tmp:
        staged = Path(tmp) / "dataset"
        staged.mkdir()
        table = _write_dataset(store, staged, annotator, fits_masks, pixels, mapping, moc, progress)
        if zip:
            archive = shutil.make_archive(str(Path(tmp) / "dataset"), "zip", staged)
            os.replace(archive, out)
        else:
            os.replace(staged, out)  # an empty folder at ``out`` is replaced
    return table


def _write_dataset(
    store: MaskStore,
    out: Path,
    annotator: str | None,
    fits_masks: bool,
    pixels: bool,
    mapping: TaxonomyMapping | None,
    moc: bool,
    progress: Progress,
) -> Table:
    taxonomy = mapping.target if mapping is not None else store.taxonomy
    dataset = MaskStore.open(out / "masks.zarr", mode="w-", taxonomy=taxonomy)
    rows: list[dict[str, Any]] = []
    card: dict[str, Any] = {"cutouts": [], "masks": []}
    for cutout_id in track(store.ids(), len(store.ids()), "export", progress):
        found = _export_cutout(
            store, dataset, cutout_id, annotator, out if fits_masks else None, pixels, mapping
        )
        if found:
            rows += found
            card["cutouts"].append(_describe_cutout(store.cutout(cutout_id), cutout_id))
    table = Table(rows=rows, names=list(MANIFEST_COLUMNS))
    for name, description in MANIFEST_COLUMNS.items():
        table[name].description = description
    table["pixel_scale"].unit = "arcsec / pix"
    table["ra"].unit = table["dec"].unit = "deg"
    table.meta.update(
        {
            "galseg_dataset": 1,
            "source_store": Path(store.path).name,
            "taxonomy": taxonomy.to_dict(),
        }
    )
    table.write(out / "manifest.ecsv", format="ascii.ecsv")
    for cutout_id in dataset.ids():  # the counts are of each annotator's final mask
        for rev in dataset.latest_by_annotator(cutout_id).values():
            mask = dataset.load_mask(cutout_id, revision=rev.revision)
            values, counts = np.unique(mask[mask > 0], return_counts=True)
            classes = {taxonomy[int(v)].name: int(n) for v, n in zip(values, counts, strict=True)}
            card["masks"].append({"id": cutout_id, "annotator": rev.annotator, "classes": classes})
    if moc:
        from .footprint import write_class_mocs

        paths = write_class_mocs(dataset, out / "moc")
        card["mocs"] = {name: path.relative_to(out).as_posix() for name, path in paths.items()}
    for lock in (out / "masks.zarr").rglob(".lock"):  # the writers' locks, not data
        lock.unlink()
    write_card(
        out,
        {
            "galseg_version": __version__,
            "source_store": Path(store.path).name,
            "pixels": pixels,
            "revisions": sum(len(dataset.history(cid)) for cid in dataset.ids()),
            "taxonomy": taxonomy.to_dict(),
            "mapping": mapping.to_dict() if mapping is not None else None,
            **card,
        },
    )
    return table


def _describe_cutout(cutout, cutout_id: str) -> dict[str, Any]:
    """A cutout's line in the data card: survey (its preset's name when recognised),
    pixel scale, bands, 3σ limits in 10″ boxes from the sky noise."""
    limits = {}
    if cutout.pixel_scale:
        for band, image in zip(cutout.bands, cutout.data, strict=True):
            zero_point = cutout.zero_points.get(band)
            sigma = sky_noise(image).sigma
            if zero_point is not None and sigma > 0:
                noise_sb = surface_brightness(sigma, zero_point, cutout.pixel_scale)
                limits[band] = surface_brightness_limit(noise_sb, cutout.pixel_scale)
    preset = identify_survey(cutout.survey)  # "LSSTCam" and "Rubin" are one survey
    return {
        "id": cutout_id,
        "survey": preset.name if preset is not None else cutout.survey,
        "pixel_scale": cutout.pixel_scale,
        "bands": list(cutout.bands),
        "sb_limit": limits,
    }


def _named_beside(cutout: Cutout, folder: Path) -> Cutout:
    """The cutout with its source files recorded by file name only.

    A data set travels: the exporter's paths mean nothing on a collaborator's
    disk and tell where the exporter keeps files. Placed in ``folder`` (the
    data set's), the store records each file by its name; a collaborator
    without the pixels points ``galseg import --cutouts`` at their copies,
    which are matched by content.
    """
    if not cutout.source:
        return cutout
    names = [str(folder / Path(part).name) for part in cutout.source.split(", ")]
    return replace(cutout, source=", ".join(names))


def _export_cutout(
    store: MaskStore,
    dataset: MaskStore,
    cutout_id: str,
    annotator: str | None,
    fits_out: Path | None,
    pixels: bool,
    mapping: TaxonomyMapping | None,
) -> list[dict[str, Any]]:
    """Copy one cutout's revisions and flags into ``dataset``, oldest first; return their
    manifest rows."""
    finals = store.final_masks(cutout_id, annotator)
    if not finals:
        return []
    info = store.info(cutout_id)
    cutout = store.cutout(cutout_id)
    dataset.add_cutout(_named_beside(cutout, dataset.path.parent), copy_pixels=pixels)
    for flag, flagged_by in store.flags(cutout_id).items():
        for who in flagged_by:
            if annotator in (None, who):
                dataset.set_flag(cutout_id, flag, who)
    centre = cutout.sky_coord_centre() or (np.nan, np.nan)
    base = {
        "id": cutout_id,
        "name": info.get("name", ""),
        "survey": info.get("survey") or "",
        "bands": ",".join(cutout.bands),
        "pixel_scale": cutout.pixel_scale if cutout.pixel_scale is not None else np.nan,
        "ra": centre[0],
        "dec": centre[1],
        "content_hash": cutout.content_hash,
    }
    final_revisions = {rev.revision for rev in finals.values() if rev is not None}
    rows = []
    for rev in store.history(cutout_id):
        if annotator not in (None, rev.annotator):
            continue
        mask = store.load_mask(cutout_id, revision=rev.revision)
        if mapping is not None:
            mask = mapping.apply(mask)
        new = dataset.save_mask(
            cutout_id, mask, rev.annotator, rev.provenance, metadata=rev.metadata, time=rev.time
        )
        path = f"cutouts/{cutout_id}/masks/{new:06d}"
        rows.append(_row(base, rev, mask, path, dataset.taxonomy, rev.revision in final_revisions))
    for who, rev in finals.items():
        if rev is None:  # flagged "no_feature" without painting: an empty mask
            empty = Revision(cutout_id, 0, who, "", "no_feature", {})
            mask = np.zeros(cutout.image_shape, np.uint8)
            rows.append(_row(base, empty, mask, "", dataset.taxonomy, True))
    if fits_out is not None:
        for row in rows:
            if row["final"]:
                row["fits_mask"] = _write_fits_mask(fits_out, cutout, row, dataset)
    return rows


def _row(
    base: dict[str, Any],
    rev: Revision,
    mask: np.ndarray,
    mask_path: str,
    taxonomy: Taxonomy,
    final: bool,
) -> dict[str, Any]:
    present = [taxonomy[int(v)].name for v in np.unique(mask) if v != 0]
    return {
        **base,
        "annotator": rev.annotator,
        "revision": rev.revision,
        "provenance": rev.provenance,
        "time": rev.time,
        "classes": ";".join(present) or "none",
        "labelled_fraction": float(np.count_nonzero(mask)) / mask.size,
        "final": final,
        "mask_path": mask_path,
        "fits_mask": "",
    }


def _write_fits_mask(out: Path, cutout, row: dict[str, Any], dataset: MaskStore) -> str:
    """Write one mask as a FITS image with the cutout's WCS; return its relative path."""
    relative = Path("fits") / f"{row['id']}_{_safe(row['annotator'])}.fits"
    mask = (
        dataset.load_mask(row["id"], annotator=row["annotator"])
        if row["revision"]
        else np.zeros(cutout.image_shape, np.uint8)
    )
    header = cutout.wcs.to_header() if cutout.wcs is not None else fits.Header()
    header["OBJECT"] = (row["name"], "cutout name (source file stem)")
    header["GALSEGID"] = (row["id"], "galseg cutout id")
    header["ANNOTATR"] = (row["annotator"], "who made the mask")
    header["REVISION"] = (row["revision"], "revision in the source store")
    header["PROVENAN"] = (row["provenance"], "how the mask was made")
    header["CONTHASH"] = row["content_hash"]  # SHA-256 of the pixels: no room for a comment
    header["BUNIT"] = ("label", "class label, see CLASSn")
    for cls in dataset.taxonomy:
        header[f"CLASS{cls.value}"] = (cls.name, f"label {cls.value}")
    (out / "fits").mkdir(exist_ok=True)
    fits.PrimaryHDU(data=mask, header=header).writeto(out / relative)
    return relative.as_posix()


def _safe(name: str) -> str:
    """A file-name form of an annotator name, distinct for distinct names.

    Names with characters other than ``A-Za-z0-9_.-`` get them replaced and a
    short hash appended, so "ada lovelace" and "ada_lovelace" stay apart.
    """
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    if safe == name:
        return name
    return f"{safe}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"
