"""Each class's footprint on the sky, as an IVOA MOC, for cross-matching catalogues.

A Multi-Order Coverage map (MOC, the IVOA standard that ``mocpy``, Aladin and
TOPCAT read) is a set of HEALPix cells. :func:`class_mocs` makes one per
class: the union, over every cutout with a celestial WCS and each annotator's
latest mask of it in a store, of the sky its labelled pixels cover (in ICRS). Each labelled pixel is
sampled at four points (half a pixel apart) and the MOC's resolution is the
finest HEALPix order whose cells are no smaller than the coarsest pixel, so a
painted region has no holes.

Examples
--------
>>> import numpy as np, tempfile
>>> from galseg import Cutout, MaskStore
>>> from galseg.simulate import simulate_cutout
>>> cutout, truth = simulate_cutout(0, size=64)
>>> store = MaskStore.open(tempfile.mkdtemp() + "/m.zarr")
>>> mask = np.zeros((64, 64), np.uint8); mask[20:40, 10:30] = 2
>>> _ = store.save_mask(store.add_cutout(cutout), mask, "ada")
>>> mocs = class_mocs(store)
>>> list(mocs)
['shell']
>>> ra, dec = cutout.wcs.pixel_to_world_values([20.0, 60.0], [30.0, 30.0])
>>> mocs["shell"].contains_lonlat(ra * u.deg, dec * u.deg).tolist()
[True, False]
"""

from __future__ import annotations

import os
from pathlib import Path
import re

import astropy.units as u
import numpy as np

from .store import MaskStore

__all__ = ["class_mocs", "moc_order", "write_class_mocs"]

_CELL_AT_ORDER_0 = float(np.sqrt(4 * np.pi / 12) * 180 / np.pi * 3600)  # arcsec
_MAX_ORDER = 29


def moc_order(pixel_scale: float) -> int:
    """The finest HEALPix order whose cells are at least ``pixel_scale`` arcsec across.

    Examples
    --------
    >>> moc_order(0.262), moc_order(0.1)
    (19, 21)
    """
    return int(min(_MAX_ORDER, np.floor(np.log2(_CELL_AT_ORDER_0 / pixel_scale))))


def class_mocs(store: MaskStore):
    """The sky footprint of each class over each annotator's latest mask in ``store``.

    Returns
    -------
    dict of str to mocpy.MOC
        Class name -> MOC, for the classes present; cutouts without a
        celestial WCS are left out.
    """
    from mocpy import MOC

    points: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
    scales = []
    for cutout_id in store.ids():
        cutout_wcs = _celestial_wcs(store, cutout_id)
        if cutout_wcs is None:
            continue
        wcs, scale = cutout_wcs
        for rev in store.latest_by_annotator(cutout_id).values():  # not superseded ones
            mask = store.load_mask(cutout_id, revision=rev.revision)
            for value in np.unique(mask[mask > 0]).tolist():
                y, x = np.nonzero(mask == value)
                dy, dx = (np.array([-0.25, -0.25, 0.25, 0.25]), np.array([-0.25, 0.25] * 2))
                sky = wcs.pixel_to_world((x[:, None] + dx).ravel(), (y[:, None] + dy).ravel())
                points.setdefault(value, []).append((sky.icrs.ra.deg, sky.icrs.dec.deg))
                scales.append(scale)
    if not points:
        return {}
    order = moc_order(max(scales))
    mocs = {}
    for value, chunks in sorted(points.items()):
        ra = np.concatenate([c[0] for c in chunks])
        dec = np.concatenate([c[1] for c in chunks])
        name = store.taxonomy[value].name
        mocs[name] = MOC.from_lonlat(lon=ra * u.deg, lat=dec * u.deg, max_norder=order)
    return mocs


def write_class_mocs(store: MaskStore, folder: str | os.PathLike) -> dict[str, Path]:
    """Write :func:`class_mocs` as ``folder/<class>.fits`` (IVOA MOC 2.0 FITS); return the paths.

    A class name is used as the file name where it is one (letters, digits,
    ``_``, ``-`` and ``.``); otherwise every other character becomes ``_``,
    and the label value is added where two classes would share a file. The
    returned mapping, by class name, tells which file is which.

    Examples
    --------
    >>> _file_stems({"shell": 2, "diffuse halo": 6, "diffuse/halo": 7})
    {'shell': 'shell', 'diffuse halo': 'diffuse_halo', 'diffuse/halo': 'diffuse_halo_7'}
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    mocs = class_mocs(store)
    stems = _file_stems({name: store.taxonomy[name].value for name in mocs})
    paths = {}
    for name, moc in mocs.items():
        paths[name] = folder / f"{stems[name]}.fits"
        moc.save(paths[name], format="fits")
    return paths


def _file_stems(values: dict[str, int]) -> dict[str, str]:
    """A distinct, portable file stem for each class name (see :func:`write_class_mocs`)."""
    stems: dict[str, str] = {}
    for name, value in values.items():
        stem = re.sub(r"[^A-Za-z0-9_.-]", "_", name).strip(".") or "class"
        stems[name] = f"{stem}_{value}" if stem in stems.values() else stem
    return stems


def _celestial_wcs(store: MaskStore, cutout_id: str):
    """(celestial WCS, pixel scale) of a stored cutout, or None."""
    from .store import _wcs_from_cards

    info = store.info(cutout_id)
    wcs = _wcs_from_cards(info.get("wcs"))
    if wcs is None or not wcs.has_celestial or not info.get("pixel_scale"):
        return None
    return wcs.celestial, float(info["pixel_scale"])
