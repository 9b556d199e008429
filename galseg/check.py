"""Checking a mask store whole, and removing what interrupted writers left behind.

:func:`check_store` (``galseg check STORE``) reads every cutout, revision and
embedding of a :class:`~galseg.store.MaskStore` and lists what is wrong:
metadata missing or of the wrong kind, arrays of the wrong shape or type,
labels outside the store's taxonomy, stored pixels or masks whose content hash
differs from the one recorded, revision numbers out of order.

A writer killed mid-save leaves no partial revision in the published tree, but
may leave its staging folder (under ``.galseg-staging``) and Zarr's
``*.partial`` temporary files. With ``repair=True`` those, and only those, are
removed; a published revision is never touched. Repair while no one writes to
the store: a running writer's staging folder looks the same as a dead one's.

Examples
--------
>>> import numpy as np, tempfile
>>> from galseg import Cutout, MaskStore
>>> store = MaskStore.open(tempfile.mkdtemp() + "/masks.zarr")
>>> cid = store.add_cutout(Cutout.from_array(np.ones((1, 8, 8)), bands=["r"]))
>>> _ = store.save_mask(cid, np.zeros((8, 8), dtype=np.uint8), "ada")
>>> report = check_store(store.path)
>>> report.ok, report.summary()
(True, '1 cutouts, 1 revisions, 0 embeddings: no problem')
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
import os
from pathlib import Path
import re
import shutil
from typing import Any

import numpy as np
import zarr
from zarr.storage import LocalStore

from ._atomic import STAGING_NAME
from .cutout import content_hash
from .errors import GalsegError
from .store import FLAGS, PROVENANCES, MaskStore, _revision_from_attrs, check_name, mask_digest

__all__ = ["Problem", "StoreCheck", "check_store"]

_PARTIAL = re.compile(r"\.[0-9a-f]{32}\.partial$")
"""Zarr's temporary files: ``<name>.<uuid hex>.partial``, renamed into place when whole."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a store.

    Attributes
    ----------
    where : str
        The node (cutout, revision, embedding folder), as a path.
    what : str
        What is wrong, in plain words.
    """

    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


@dataclass
class StoreCheck:
    """What :func:`check_store` found.

    Attributes
    ----------
    store : Path
    cutouts, revisions, embeddings : int
        Nodes checked.
    problems : list of Problem
        Everything wrong with published data (never repaired).
    leftovers : list of Path
        Staging folders and partial files of interrupted writers.
    removed : list of Path
        The leftovers removed (with ``repair=True``).
    """

    store: Path
    cutouts: int = 0
    revisions: int = 0
    embeddings: int = 0
    problems: list[Problem] = field(default_factory=list)
    leftovers: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No problem, and no leftover still there."""
        return not self.problems and len(self.removed) == len(self.leftovers)

    def summary(self) -> str:
        """One line: what was checked and how it went."""
        checked = (
            f"{self.cutouts} cutouts, {self.revisions} revisions, {self.embeddings} embeddings"
        )
        found = []
        if self.problems:
            found.append(f"{len(self.problems)} problems")
        left = len(self.leftovers) - len(self.removed)
        if left:
            found.append(f"{left} leftovers of interrupted writes (remove them with --repair)")
        if self.removed:
            found.append(f"removed {len(self.removed)} leftovers of interrupted writes")
        return f"{checked}: {'; '.join(found) or 'no problem'}"


def check_store(
    path: str | os.PathLike[str],
    *,
    repair: bool = False,
    progress: Callable[[str], object] | None = None,
) -> StoreCheck:
    """Verify every cutout, revision and embedding of a mask store.

    Parameters
    ----------
    path : path-like
        The store.
    repair : bool
        Remove the staging folders and Zarr ``*.partial`` files that
        interrupted writers left; nothing else is ever removed.
    progress : callable, optional
        Called with each cutout id as it is checked.

    Returns
    -------
    StoreCheck

    Raises
    ------
    StoreError
        If ``path`` is not a readable galseg store at all.
    """
    store = MaskStore.open(path, mode="r")
    report = StoreCheck(store.path)
    report.leftovers = sorted(_leftovers(store.path))
    cutouts = store.path / "cutouts"
    for entry in sorted(cutouts.iterdir()) if cutouts.is_dir() else []:
        if not entry.is_dir():
            continue
        if progress is not None:
            progress(entry.name)
        report.problems += _check_cutout(store, entry, report)
    if repair:
        for leftover in report.leftovers:
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
            if not leftover.exists():
                report.removed.append(leftover)
        staging = store.path / STAGING_NAME
        if staging.is_dir() and not any(staging.iterdir()):
            staging.rmdir()
    return report


def _leftovers(root: Path) -> Iterator[Path]:
    staging = root / STAGING_NAME
    if staging.is_dir():
        yield from staging.iterdir()
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != STAGING_NAME]
        yield from (Path(folder, name) for name in files if _PARTIAL.search(name))


def _check_cutout(store: MaskStore, folder: Path, report: StoreCheck) -> list[Problem]:
    cutout_id = folder.name
    where = str(folder)
    if not (folder / "zarr.json").exists():
        return [Problem(where, "a folder without zarr.json (not a published cutout)")]
    report.cutouts += 1
    try:
        info = store.info(cutout_id)
    except GalsegError as exc:
        return [Problem(where, str(exc))]
    problems = _missing_keys(where, info, {"content_hash": str, "bands": list, "shape": list})
    if problems:
        return problems
    shape, bands, digest = tuple(info["shape"]), tuple(info["bands"]), info["content_hash"]
    if digest[:16] != cutout_id:
        problems.append(Problem(where, f"content hash {digest[:16]}… does not match its id"))
    for flag, who in dict(info.get("flags") or {}).items():
        if flag not in FLAGS or not isinstance(who, list):
            problems.append(Problem(where, f"unknown flag {flag!r}"))
    image = folder / "image"
    if image.exists():
        pixels, wrong = _read(image, np.float32, (len(bands), *shape))
        if wrong:
            problems.append(Problem(str(image), wrong))
        elif content_hash(pixels, bands) != digest:
            problems.append(Problem(str(image), "the stored pixels do not match the content hash"))
    problems += _check_revisions(store, folder / "masks", shape, digest, report)
    embeddings = folder / "embeddings"
    for entry in sorted(embeddings.iterdir()) if embeddings.is_dir() else []:
        if entry.is_dir():
            report.embeddings += 1
            problems += _check_embedding(entry)
    return problems


def _check_revisions(
    store: MaskStore, folder: Path, shape: tuple, digest: str, report: StoreCheck
) -> list[Problem]:
    problems: list[Problem] = []
    if not (folder / "zarr.json").exists():
        return [Problem(str(folder), "no masks group")]
    previous_time = ""
    values = set(store.taxonomy.values)
    for entry in sorted(p for p in folder.iterdir() if p.is_dir()):
        where = str(entry)
        if not (entry.name.isdigit() and (entry / "zarr.json").exists()):
            problems.append(Problem(where, "not a revision (name or zarr.json)"))
            continue
        report.revisions += 1
        mask, wrong = _read(entry, np.uint8, shape)
        attrs = _attrs(entry)
        keys = {"revision": int, "annotator": str, "time": str, "provenance": str}
        missing = _missing_keys(where, attrs, keys)
        if wrong or missing:
            problems += [Problem(where, wrong)] if wrong else missing
            continue
        if attrs["revision"] != int(entry.name):
            problems.append(Problem(where, f"its metadata says revision {attrs['revision']}"))
        try:
            check_name(attrs["annotator"], "annotator", where)
        except GalsegError as exc:
            problems.append(Problem(where, str(exc).removeprefix(f"{where}: ")))
        if attrs["provenance"] not in PROVENANCES:
            problems.append(Problem(where, f"unknown provenance {attrs['provenance']!r}"))
        if attrs.get("content_hash") != digest:
            problems.append(Problem(where, "painted on other pixels than the cutout's"))
        unknown = sorted(set(np.unique(mask).tolist()) - values)
        if unknown:
            problems.append(Problem(where, f"labels {unknown} are not in the store's taxonomy"))
        if "mask_sha256" in attrs and attrs["mask_sha256"] != mask_digest(mask):
            problems.append(Problem(where, "the stored mask does not match its content hash"))
        problems += _covered_problems(folder.parent.name, entry, attrs, mask.shape)
        if attrs["time"] < previous_time:
            problems.append(Problem(where, "saved before the revision numbered below it"))
        previous_time = attrs["time"]
    return problems


def _covered_problems(
    cutout_id: str, entry: Path, attrs: dict[str, Any], shape: tuple[int, ...]
) -> list[Problem]:
    """A transferred revision's record of the pixels it covers (from the metadata
    already read): readable, and of the mask's shape."""
    from .transfer import covered_pixels

    revision = _revision_from_attrs(cutout_id, attrs)
    try:
        covered = covered_pixels(revision)
    except GalsegError as exc:
        prefix = f"cutout {cutout_id} revision {revision.revision}: "
        return [Problem(str(entry), str(exc).removeprefix(prefix))]
    if covered is not None and covered.shape != shape:
        return [Problem(str(entry), f"its transfer.covered record is {covered.shape}, not {shape}")]
    return []


def _check_embedding(folder: Path) -> list[Problem]:
    where = str(folder)
    vector, wrong = _read(folder, np.float32, None)
    if wrong:
        return [Problem(where, wrong)]
    if vector.ndim != 1 or not np.isfinite(vector).all():
        return [Problem(where, "an embedding must be a finite 1-D vector")]
    if _attrs(folder).get("model") != folder.name:
        return [Problem(where, "its metadata names another model")]
    return []


def _read(folder: Path, dtype: type, shape: tuple | None) -> tuple[np.ndarray, str]:
    """The array stored in ``folder``, or a reason it is wrong."""
    try:
        array = zarr.open_array(LocalStore(folder, read_only=True), mode="r")
        if array.dtype != dtype:
            return np.empty(0), f"dtype {array.dtype}, expected {np.dtype(dtype)}"
        if shape is not None and tuple(array.shape) != shape:
            return np.empty(0), f"shape {tuple(array.shape)}, expected {shape}"
        return array[...], ""
    except Exception as exc:  # zarr and its codecs raise many kinds on damaged data
        return np.empty(0), f"unreadable array ({type(exc).__name__}: {exc})".splitlines()[0]


def _attrs(folder: Path) -> dict[str, Any]:
    try:
        return dict(zarr.open_array(LocalStore(folder, read_only=True), mode="r").attrs)
    except Exception:  # reported by _read already
        return {}


def _missing_keys(where: str, attrs: dict[str, Any], keys: dict[str, type]) -> list[Problem]:
    return [
        Problem(where, f"metadata {key!r} missing or not a {kind.__name__}")
        for key, kind in keys.items()
        if not isinstance(attrs.get(key), kind)
    ]
