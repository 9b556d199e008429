"""The mask store: cutouts and their masks, revision by revision, in Zarr v3.

A store is one directory that plain ``zarr`` (v3) opens without galseg::

    store.zarr/                        attrs: galseg = {format_version, taxonomy, created}
      cutouts/<id>/                    attrs: name, source (file paths), content_hash, bands, shape,
                                              wcs (FITS header cards), pixel_scale, survey,
                                              zero_points, added, flags
      cutouts/<id>/image               float32 (band, y, x): copy of the pixels (optional)
      cutouts/<id>/masks/<revision>    uint8 (y, x) label image, revision = 000001, 000002, ...
                                       attrs: revision, annotator, time, provenance,
                                              content_hash, mask_sha256, metadata
      cutouts/<id>/embeddings/<model>  float32 (feature,): a model's embedding of the cutout
                                       attrs: model, time, metadata

A cutout's id is the first 16 hex digits of its content hash, so adding the same
pixels twice gives the same id. Revisions are numbered per cutout across
annotators and never change once written; the latest mask of an annotator is
their highest revision.

Saves are atomic: a revision (and a new cutout) is written completely into a
staging folder, flushed, and published with one ``rename``; a process killed at
any moment leaves the previous revision readable and no partial one visible.
Any number of processes may write at once, to different cutouts or to the
same one: the revisions of a cutout are numbered under a lock (a ``flock`` on
``masks/.lock``, released by the kernel if its holder dies), so no revision is
lost or numbered twice, and a higher revision saved here is never older than
a lower one. A revision brought from another store (``galseg import``) keeps
the time it was made, so the *latest* mask is the newest by that time (the
higher revision on a tie): importing a collaborator's older work never
replaces what was made since.

Examples
--------
>>> import numpy as np, tempfile
>>> from galseg import Cutout, MaskStore
>>> cutout = Cutout.from_array(np.zeros((1, 32, 32)), bands=["r"])
>>> store = MaskStore.open(tempfile.mkdtemp() + "/demo.zarr")
>>> cid = store.add_cutout(cutout)
>>> mask = np.zeros((32, 32), dtype=np.uint8); mask[10:20, 5:9] = 4
>>> store.save_mask(cid, mask, annotator="ada")
1
>>> int(store.load_mask(cid, annotator="ada").max())
4
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime
import hashlib
import json
import os
from pathlib import Path
import re
from typing import Any, Literal

from astropy.io import fits
from astropy.wcs import WCS
import numpy as np
import zarr
from zarr.storage import LocalStore

from ._atomic import publish, staging_dir
from .cutout import Cutout
from .errors import CutoutError, GalsegError, MaskError, StoreError
from .taxonomy import DEFAULT_TAXONOMY, Taxonomy

__all__ = [
    "FLAGS",
    "FORMAT_VERSION",
    "PROVENANCES",
    "MaskStore",
    "Revision",
    "check_name",
    "is_mask_store",
    "mask_digest",
]

FORMAT_VERSION = 1
"""Version of the store layout written by this galseg."""

PROVENANCES = (
    "painted",
    "assisted",
    "predicted",
    "simulated",
    "imported",
    "transferred",
    "consensus",
)
"""How a mask revision came about: painted by hand, a model completion accepted
by the annotator, a model prediction, a simulator's truth, imported,
transferred from another survey's cutout (:mod:`galseg.transfer`), or the
consensus of several annotators (:mod:`galseg.agreement`)."""

FLAGS = ("no_feature", "unsure", "bad_data")
"""Per-cutout flags an annotator can set."""

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+\- ]{0,63}$")
_REVISION_DIGITS = 6
_MAX_CHUNK = 1024


@dataclass(frozen=True)
class Revision:
    """One saved mask of a cutout.

    Attributes
    ----------
    cutout_id : str
    revision : int
        1, 2, ... per cutout, across annotators.
    annotator : str
    time : str
        ISO 8601 UTC time of the save.
    provenance : str
        One of :data:`PROVENANCES`.
    metadata : dict
        Free-form JSON-able extras given to :meth:`MaskStore.save_mask`.
    """

    cutout_id: str
    revision: int
    annotator: str
    time: str
    provenance: str
    metadata: Mapping[str, Any]


class MaskStore:
    """A Zarr v3 store of cutouts and their mask revisions.

    Use :meth:`MaskStore.open` to create or open one.
    """

    def __init__(self, path: Path, root: zarr.Group, taxonomy: Taxonomy, read_only: bool):
        self.path = path
        self.taxonomy = taxonomy
        self.read_only = read_only
        self._root = root

    # ----------------------------------------------------------------- opening
    @classmethod
    def open(
        cls,
        path: str | os.PathLike,
        mode: Literal["r", "r+", "a", "w-"] = "a",
        taxonomy: Taxonomy | None = None,
    ) -> MaskStore:
        """Open a mask store, creating it if ``mode`` allows.

        Parameters
        ----------
        path : path-like
            The store directory (by convention ending in ``.zarr``).
        mode : {"r", "r+", "a", "w-"}
            ``"r"`` read only; ``"r+"`` read/write, must exist; ``"a"``
            read/write, created if missing; ``"w-"`` create, fail if it exists.
        taxonomy : Taxonomy, optional
            For a new store, its classes (default :data:`DEFAULT_TAXONOMY`).
            For an existing store, if given, it must equal the store's own.

        Raises
        ------
        StoreError
            If the path is missing (modes ``r``, ``r+``), exists (``w-``), is
            not a galseg store, or was written by a newer galseg.
        """
        path = Path(path)
        if mode not in ("r", "r+", "a", "w-"):
            raise StoreError(f"{path}: unknown mode {mode!r}; use 'r', 'r+', 'a' or 'w-'")
        exists = (path / "zarr.json").exists()
        if path.exists() and not exists and (not path.is_dir() or any(path.iterdir())):
            raise StoreError(f"{path}: not a galseg mask store (no zarr.json)")
        if mode in ("r", "r+") and not exists:
            raise StoreError(f"{path}: no mask store here")
        if mode == "w-" and exists:
            raise StoreError(f"{path}: a store already exists here")
        if not exists:
            return cls._create(path, taxonomy or DEFAULT_TAXONOMY)
        return cls._open_existing(path, read_only=mode == "r", taxonomy=taxonomy)

    @classmethod
    def _create(cls, path: Path, taxonomy: Taxonomy) -> MaskStore:
        try:
            root = zarr.open_group(LocalStore(path), mode="w-", zarr_format=3)
            root.attrs["galseg"] = {
                "format_version": FORMAT_VERSION,
                "taxonomy": taxonomy.to_dict(),
                "created": _now(),
            }
            root.create_group("cutouts")
        except OSError as exc:
            raise StoreError(f"{path}: cannot create a store here ({exc.strerror})") from None
        return cls(path, root, taxonomy, read_only=False)

    @classmethod
    def _open_existing(cls, path: Path, read_only: bool, taxonomy: Taxonomy | None) -> MaskStore:
        try:
            root = zarr.open_group(
                LocalStore(path, read_only=read_only), mode="r" if read_only else "r+"
            )
            info = dict(root.attrs).get("galseg")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StoreError(f"{path}: cannot read the store ({exc})") from None
        if not isinstance(info, dict) or "format_version" not in info:
            raise StoreError(f"{path}: a Zarr group, but not a galseg mask store")
        if int(info["format_version"]) > FORMAT_VERSION:
            raise StoreError(
                f"{path}: store format {info['format_version']} is newer than this galseg "
                f"understands ({FORMAT_VERSION}); upgrade galseg"
            )
        try:
            store_taxonomy = Taxonomy.from_dict(info["taxonomy"])
        except (GalsegError, KeyError) as exc:
            raise StoreError(f"{path}: the store's taxonomy is unreadable ({exc})") from None
        if taxonomy is not None and taxonomy != store_taxonomy:
            raise StoreError(
                f"{path}: the store was made with {store_taxonomy!r}, not {taxonomy!r}"
            )
        return cls(path, root, store_taxonomy, read_only=read_only)

    def __repr__(self) -> str:
        mode = "read-only" if self.read_only else "read/write"
        return f"<MaskStore {self.path} ({mode}, {len(self.ids())} cutouts)>"

    # ----------------------------------------------------------------- cutouts
    def ids(self) -> list[str]:
        """Ids of the cutouts in the store, sorted."""
        return sorted(
            p.name for p in (self.path / "cutouts").iterdir() if (p / "zarr.json").exists()
        )

    def __contains__(self, cutout_id: str) -> bool:
        return (self._cutout_dir(cutout_id) / "zarr.json").exists()

    def __len__(self) -> int:
        return len(self.ids())

    def add_cutout(self, cutout: Cutout, copy_pixels: bool = True) -> str:
        """Add a cutout (idempotent) and return its id.

        Parameters
        ----------
        cutout : Cutout
            The cutout. Its WCS, bands, pixel scale, survey, zero points and
            source paths are recorded; a source path inside the folder that
            holds the store is recorded relative to that folder, so the two
            can be moved together.
        copy_pixels : bool
            Also keep a copy of the pixels in the store, so that it is
            self-contained (needed to train from it or to share it). Without
            it the store refers to ``cutout.source``.

        Returns
        -------
        str
            The cutout id (first 16 hex digits of the content hash).
        """
        self._check_writable()
        cutout_id = cutout.content_hash[:16]
        target = self._cutout_dir(cutout_id)
        if cutout_id in self:
            if copy_pixels and not (target / "image" / "zarr.json").exists():
                with self._writing("add the cutout's pixels"), staging_dir(self.path) as staged:
                    _write_image(staged, cutout)
                    publish(staged, target / "image")
            return cutout_id
        with self._writing(f"add cutout {cutout.name}"), staging_dir(self.path) as staged:
            group = zarr.open_group(LocalStore(staged), mode="w-", zarr_format=3)
            group.attrs.put(_cutout_attrs(cutout, self._portable_paths(cutout.source)))
            group.create_group("masks")
            if copy_pixels:
                _write_image(staged / "image", cutout)
            publish(staged, target)
        return cutout_id

    def _portable_paths(self, source: str | None) -> list[str]:
        """Source paths as stored: relative to the folder holding the store when
        they lie inside it (so store and files can move together), else absolute."""
        if not source:
            return []
        base = self.path.resolve().parent
        paths = []
        for part in source.split(", "):
            path = Path(part).resolve()
            paths.append(
                path.relative_to(base).as_posix() if path.is_relative_to(base) else str(path)
            )
        return paths

    def info(self, cutout_id: str) -> dict[str, Any]:
        """The recorded attributes of a cutout (source, bands, WCS, flags, ...)."""
        return _read_attrs(self._existing_cutout_dir(cutout_id))

    def source_paths(self, cutout_id: str) -> list[Path]:
        """The files a cutout was read from, as paths usable from here.

        A recorded path relative to the folder holding the store is joined to
        that folder; an absolute one is kept. Empty for a cutout made from arrays.
        """
        base = self.path.resolve().parent
        return [base / p for p in self.info(cutout_id).get("source") or []]

    def has_pixels(self, cutout_id: str) -> bool:
        """Whether the store holds a copy of the cutout's pixels."""
        return (self._existing_cutout_dir(cutout_id) / "image" / "zarr.json").exists()

    def cutout(self, cutout_id: str) -> Cutout:
        """Rebuild the :class:`Cutout`, from the stored pixels or its source file.

        Raises
        ------
        StoreError
            If the store holds no pixels and the source file is missing or no
            longer holds the pixels the masks were painted on.
        """
        info = self.info(cutout_id)
        if self.has_pixels(cutout_id):
            data = self._root[f"cutouts/{cutout_id}/image"][...]
        else:
            data = self._read_source_pixels(cutout_id, info)
        return Cutout(
            data=data,
            bands=tuple(info["bands"]),
            wcs=_wcs_from_cards(info.get("wcs")),
            pixel_scale=info.get("pixel_scale"),
            source=", ".join(map(str, self.source_paths(cutout_id))) or None,
            survey=info.get("survey"),
            zero_points=info.get("zero_points") or {},
        )

    def _read_source_pixels(self, cutout_id: str, info: Mapping[str, Any]) -> np.ndarray:
        from .io import read_cutout

        sources = self.source_paths(cutout_id)
        if not sources:
            raise StoreError(f"{self.path}: cutout {cutout_id} has neither pixels nor a source")
        source = ", ".join(map(str, sources))
        try:
            cutout = read_cutout(sources, bands=info["bands"])
        except CutoutError as exc:
            raise StoreError(
                f"{self.path}: cutout {cutout_id}: cannot read its source: {exc}"
            ) from None
        if cutout.content_hash != info["content_hash"]:
            raise StoreError(
                f"{self.path}: cutout {cutout_id}: {source} no longer holds the pixels its "
                "masks were painted on (content hash differs)"
            )
        return cutout.data

    # ------------------------------------------------------------------- masks
    def save_mask(
        self,
        cutout_id: str,
        mask: np.ndarray,
        annotator: str,
        provenance: str = "painted",
        *,
        content_hash: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        time: str | None = None,
    ) -> int:
        """Save a new revision of a cutout's mask, atomically.

        Parameters
        ----------
        cutout_id : str
            Id from :meth:`add_cutout`.
        mask : ndarray of int, shape (y, x)
            Label image with values from the store's taxonomy.
        annotator : str
            Who made it (letters, digits, ``_.@+-`` and spaces; 64 at most).
        provenance : str
            One of :data:`PROVENANCES`.
        content_hash : str, optional
            Hash of the pixels the mask was painted on; the save is refused if
            it is not the stored cutout's.
        metadata : mapping, optional
            JSON-able extras kept with the revision (e.g. the model used).
        time : str, optional
            When the mask was made (ISO 8601), for a revision brought from
            another store; default now.

        Returns
        -------
        int
            The new revision number.

        Raises
        ------
        MaskError
            If the mask's shape, dtype or labels do not fit.
        StoreError
            If the cutout is unknown, the hash differs, or the store is read only.
        """
        self._check_writable()
        info = self.info(cutout_id)
        where = f"{self.path}: cutout {cutout_id}"
        if content_hash is not None and content_hash != info["content_hash"]:
            raise StoreError(
                f"{where}: the mask was painted on other pixels (content hash "
                f"{content_hash[:16]}… is not the stored {info['content_hash'][:16]}…)"
            )
        mask = self._validated_mask(mask, tuple(info["shape"]), where)
        check_name(annotator, "annotator", where)
        if provenance not in PROVENANCES:
            raise StoreError(
                f"{where}: unknown provenance {provenance!r}; use one of {PROVENANCES}"
            )
        if time is not None:
            try:
                datetime.fromisoformat(time)
            except (TypeError, ValueError):
                raise StoreError(f"{where}: time {time!r} is not an ISO 8601 time") from None
        masks_dir = self._cutout_dir(cutout_id) / "masks"
        attrs = {
            "revision": 0,
            "annotator": annotator,
            "time": time or _now(),
            "provenance": provenance,
            "content_hash": info["content_hash"],
            "mask_sha256": mask_digest(mask),
            "metadata": dict(metadata or {}),
        }
        with (
            self._writing(f"save a mask of cutout {cutout_id}"),
            staging_dir(self.path) as staged,
            _locked(masks_dir / ".lock"),  # the number and the time, in order
        ):
            revision = self._latest_revision_number(cutout_id) + 1
            attrs.update(revision=revision, time=time or _now())
            _write_mask(staged, mask, attrs)
            while not publish(staged, masks_dir / _revision_name(revision)):
                revision += 1  # a writer without the lock took this number
                attrs["revision"] = revision
                _write_attrs(staged, attrs)
        return revision

    def _validated_mask(self, mask: np.ndarray, shape: tuple[int, int], where: str) -> np.ndarray:
        mask = np.asarray(mask)
        if mask.shape != shape:
            raise MaskError(f"{where}: mask shape {mask.shape} does not match the cutout {shape}")
        if not (np.issubdtype(mask.dtype, np.integer) or mask.dtype == bool):
            raise MaskError(f"{where}: mask dtype {mask.dtype} is not an integer label type")
        self.taxonomy.validate_mask(mask, where=where)
        return mask.astype(np.uint8)

    def load_mask(
        self, cutout_id: str, annotator: str | None = None, revision: int | None = None
    ) -> np.ndarray:
        """Load a mask: a given revision, or the latest (of an annotator).

        Raises
        ------
        StoreError
            If there is no such mask.
        """
        rev = self._find_revision(cutout_id, annotator, revision)
        path = f"cutouts/{cutout_id}/masks/{_revision_name(rev.revision)}"
        return np.asarray(self._root[path][...], dtype=np.uint8)

    def latest(self, cutout_id: str, annotator: str | None = None) -> Revision | None:
        """The latest revision (of ``annotator``, or of anyone), or None.

        The newest by :attr:`Revision.time`, the higher revision on a tie (see
        the module notes: an imported revision keeps the time it was made).
        """
        revisions = self._revisions_newest_first(cutout_id)
        mine = [rev for rev in revisions if annotator is None or rev.annotator == annotator]
        return max(mine, key=_made, default=None)

    def latest_by_annotator(self, cutout_id: str) -> dict[str, Revision]:
        """Each annotator's latest revision of a cutout's mask (as :meth:`latest`)."""
        latest: dict[str, Revision] = {}
        for rev in self._revisions_newest_first(cutout_id):
            if rev.annotator not in latest or _made(rev) > _made(latest[rev.annotator]):
                latest[rev.annotator] = rev
        return latest

    def _find_revision(
        self, cutout_id: str, annotator: str | None, revision: int | None
    ) -> Revision:
        where = f"{self.path}: cutout {cutout_id}"
        if revision is None:
            rev = self.latest(cutout_id, annotator)
            if rev is None:
                who = f" by {annotator!r}" if annotator else ""
                raise StoreError(f"{where}: no mask saved{who}")
            return rev
        path = self._existing_cutout_dir(cutout_id) / "masks" / _revision_name(revision)
        if not (path / "zarr.json").exists():
            raise StoreError(f"{where}: no revision {revision}")
        rev = _revision_from_attrs(cutout_id, _read_attrs(path))
        if annotator is not None and rev.annotator != annotator:
            raise StoreError(
                f"{where}: revision {revision} is by {rev.annotator!r}, not {annotator!r}"
            )
        return rev

    def revision(self, cutout_id: str, number: int) -> Revision:
        """One revision of a cutout's masks, by number.

        Raises
        ------
        StoreError
            If the cutout has no such revision.
        """
        return self._find_revision(cutout_id, None, number)

    def history(self, cutout_id: str) -> list[Revision]:
        """Every revision of a cutout's masks, oldest first."""
        return list(self._revisions_newest_first(cutout_id))[::-1]

    def annotators(self, cutout_id: str | None = None) -> list[str]:
        """Annotators with at least one mask (of one cutout, or of any)."""
        ids = [cutout_id] if cutout_id is not None else self.ids()
        return sorted({rev.annotator for cid in ids for rev in self.history(cid)})

    def _revision_numbers(self, cutout_id: str) -> list[int]:
        masks_dir = self._existing_cutout_dir(cutout_id) / "masks"
        return sorted(
            int(p.name)
            for p in masks_dir.iterdir()
            if p.name.isdigit() and (p / "zarr.json").exists()
        )

    def _latest_revision_number(self, cutout_id: str) -> int:
        numbers = self._revision_numbers(cutout_id)
        return numbers[-1] if numbers else 0

    def _revisions_newest_first(self, cutout_id: str) -> Iterator[Revision]:
        """Revisions from the newest, reading each one's metadata only when reached."""
        masks_dir = self._existing_cutout_dir(cutout_id) / "masks"
        for n in reversed(self._revision_numbers(cutout_id)):
            yield _revision_from_attrs(cutout_id, _read_attrs(masks_dir / _revision_name(n)))

    # -------------------------------------------------------------- embeddings
    def save_embedding(
        self,
        cutout_id: str,
        vector: np.ndarray,
        model: str,
        *,
        metadata: Mapping[str, Any] | None = None,
    ) -> bool:
        """Keep a model's embedding of a cutout (for similarity search), atomically.

        Parameters
        ----------
        cutout_id : str
            Id from :meth:`add_cutout`.
        vector : ndarray, shape (n,)
            The embedding; stored as float32.
        model : str
            Name of the model that made it (e.g. the first 16 hex digits of
            its checkpoint's SHA-256), as for an annotator name.
        metadata : mapping, optional
            JSON-able extras (e.g. the checkpoint's file name).

        Returns
        -------
        bool
            True if written; False if the cutout has an embedding by this
            model already (it is kept: the same model on the same pixels
            gives the same vector).

        Raises
        ------
        StoreError
            If the cutout is unknown, the name or vector is invalid, or the
            store is read only.
        """
        self._check_writable()
        where = f"{self.path}: cutout {cutout_id}"
        check_name(model, "model", where)
        vector = np.asarray(vector, dtype=np.float32)
        if vector.ndim != 1 or vector.size == 0 or not np.isfinite(vector).all():
            raise StoreError(f"{where}: an embedding must be a finite 1-D vector, got {vector!r}")
        group = self._existing_cutout_dir(cutout_id) / "embeddings"
        with self._writing(f"save an embedding of cutout {cutout_id}"):
            self._ensure_group(group)
            with staging_dir(self.path) as staged:
                zarr.create_array(
                    LocalStore(staged),
                    data=vector,
                    dimension_names=("feature",),
                    attributes={"model": model, "time": _now(), "metadata": dict(metadata or {})},
                    zarr_format=3,
                )
                return publish(staged, group / model)

    def has_embedding(self, cutout_id: str, model: str) -> bool:
        """Whether the store holds ``model``'s embedding of a cutout."""
        return (self._existing_cutout_dir(cutout_id) / "embeddings" / model / "zarr.json").exists()

    def load_embedding(self, cutout_id: str, model: str) -> np.ndarray:
        """A model's embedding of a cutout (float32, 1-D).

        Raises
        ------
        StoreError
            If there is none.
        """
        if not self.has_embedding(cutout_id, model):
            raise StoreError(f"{self.path}: cutout {cutout_id} has no embedding by {model!r}")
        return self._root[f"cutouts/{cutout_id}/embeddings/{model}"][...]

    def embeddings(self, model: str) -> tuple[list[str], np.ndarray]:
        """Every embedding by ``model``: the cutout ids and a (cutout, feature) matrix.

        Examples
        --------
        >>> import tempfile
        >>> from galseg import Cutout, MaskStore
        >>> store = MaskStore.open(tempfile.mkdtemp() + "/e.zarr")
        >>> cid = store.add_cutout(Cutout.from_array(np.ones((1, 8, 8)), bands=["r"]))
        >>> store.save_embedding(cid, [0.5, 2.0], model="m1")
        True
        >>> ids, matrix = store.embeddings("m1")
        >>> ids == [cid], matrix.tolist()
        (True, [[0.5, 2.0]])
        """
        ids = [cid for cid in self.ids() if self.has_embedding(cid, model)]
        vectors = [self.load_embedding(cid, model) for cid in ids]
        return ids, np.stack(vectors) if vectors else np.zeros((0, 0), dtype=np.float32)

    # --------------------------------------------------------------- agreement
    def save_agreement(self, cutout_id: str, fraction: np.ndarray, revision: int) -> None:
        """Keep, beside a consensus mask revision, the fraction of annotators who agree, per pixel.

        Written atomically to ``cutouts/<id>/agreement/<revision>`` (float32,
        (y, x), values in [0, 1]).

        Raises
        ------
        StoreError
            If the cutout or revision is unknown, the fraction does not fit,
            or the store is read only.

        Examples
        --------
        >>> import tempfile
        >>> from galseg import Cutout, MaskStore
        >>> store = MaskStore.open(tempfile.mkdtemp() + "/a.zarr")
        >>> cid = store.add_cutout(Cutout.from_array(np.ones((1, 2, 2)), bands=["r"]))
        >>> rev = store.save_mask(cid, np.eye(2, dtype=np.uint8), "consensus", "consensus")
        >>> store.save_agreement(cid, np.array([[1.0, 0.5], [0.5, 1.0]]), rev)
        >>> store.load_agreement(cid, rev).tolist()
        [[1.0, 0.5], [0.5, 1.0]]
        """
        self._check_writable()
        rev = self._find_revision(cutout_id, None, revision)
        where = f"{self.path}: cutout {cutout_id}"
        fraction = np.asarray(fraction, dtype=np.float32)
        if fraction.shape != tuple(self.info(cutout_id)["shape"]):
            raise StoreError(f"{where}: agreement shape {fraction.shape} does not fit the cutout")
        if not (np.isfinite(fraction).all() and 0 <= fraction.min() and fraction.max() <= 1):
            raise StoreError(f"{where}: an agreement fraction lies in [0, 1]")
        group = self._existing_cutout_dir(cutout_id) / "agreement"
        with self._writing(f"save the agreement of cutout {cutout_id}"):
            self._ensure_group(group)
            with staging_dir(self.path) as staged:
                zarr.create_array(
                    LocalStore(staged),
                    data=fraction,
                    chunks=_chunks(fraction.shape),
                    dimension_names=("y", "x"),
                    attributes={"revision": rev.revision, "time": _now()},
                    zarr_format=3,
                )
                publish(staged, group / _revision_name(rev.revision))

    def load_agreement(self, cutout_id: str, revision: int) -> np.ndarray:
        """The agreement fraction kept with a consensus revision (:meth:`save_agreement`).

        Raises
        ------
        StoreError
            If there is none.
        """
        name = _revision_name(revision)
        if not (self._existing_cutout_dir(cutout_id) / "agreement" / name / "zarr.json").exists():
            raise StoreError(
                f"{self.path}: cutout {cutout_id} has no agreement for revision {revision}"
            )
        return self._root[f"cutouts/{cutout_id}/agreement/{name}"][...]

    def _ensure_group(self, group: Path) -> None:
        """Create an empty Zarr group at ``group`` unless it exists."""
        if not (group / "zarr.json").exists():
            with staging_dir(self.path) as staged:
                zarr.open_group(LocalStore(staged), mode="w-", zarr_format=3)
                publish(staged, group)  # False: another writer made it meanwhile

    # ------------------------------------------------------------------- flags
    def set_flag(self, cutout_id: str, flag: str, annotator: str, on: bool = True) -> None:
        """Set (or clear) a per-cutout flag such as ``"no_feature"`` for an annotator."""
        self._check_writable()
        where = f"{self.path}: cutout {cutout_id}"
        if flag not in FLAGS:
            raise StoreError(f"{where}: unknown flag {flag!r}; use one of {FLAGS}")
        check_name(annotator, "annotator", where)
        with self._writing(f"flag cutout {cutout_id}"):
            # zarr rewrites zarr.json through a temporary file and a rename: atomic
            group = zarr.open_group(LocalStore(self._existing_cutout_dir(cutout_id)), mode="r+")
            flags = {k: set(v) for k, v in dict(group.attrs.get("flags", {})).items()}
            who = flags.setdefault(flag, set())
            (who.add if on else who.discard)(annotator)
            group.attrs["flags"] = {k: sorted(v) for k, v in flags.items() if v}

    def flags(self, cutout_id: str) -> dict[str, list[str]]:
        """Flags set on a cutout: flag name -> annotators who set it."""
        return {k: list(v) for k, v in self.info(cutout_id).get("flags", {}).items()}

    # ---------------------------------------------------------------- training
    def iter_examples(
        self, annotator: str | None = None, *, predicted: bool = False
    ) -> Iterator[tuple[np.ndarray, np.ndarray, dict[str, Any]]]:
        """Yield ``(image, mask, metadata)`` for training, one per cutout and annotator.

        Each annotator's latest mask of each cutout is one example. A cutout an
        annotator flagged ``"no_feature"`` without painting anything is an
        all-unlabelled example. Cutouts without pixels in the store are read
        from their source files. A model's own predictions (provenance
        ``"predicted"``, e.g. from ``galseg predict``) are left out unless
        ``predicted`` is set: retraining on them would teach a model its own
        mistakes.

        Parameters
        ----------
        annotator : str, optional
            Only this annotator's masks.
        predicted : bool
            Also yield masks whose latest revision is a model prediction.

        Yields
        ------
        image : ndarray of float32, shape (band, y, x)
        mask : ndarray of uint8, shape (y, x)
        metadata : dict
            ``id``, ``annotator``, ``revision`` (0 for a flagged empty mask),
            ``provenance``, ``bands``, ``pixel_scale``, ``survey``,
            ``content_hash``.
        """
        for cutout_id in self.ids():
            finals = {
                who: rev
                for who, rev in self.final_masks(cutout_id, annotator).items()
                if predicted or rev is None or rev.provenance != "predicted"
            }
            if not finals:
                continue
            info = self.info(cutout_id)
            image = self.cutout(cutout_id).data
            base = {
                "id": cutout_id,
                "bands": tuple(info["bands"]),
                "pixel_scale": info.get("pixel_scale"),
                "survey": info.get("survey"),
                "content_hash": info["content_hash"],
            }
            for who, rev in finals.items():
                if rev is None:
                    meta = {**base, "annotator": who, "revision": 0, "provenance": "no_feature"}
                    yield image, np.zeros(tuple(info["shape"]), dtype=np.uint8), meta
                else:
                    meta = {
                        **base,
                        "annotator": who,
                        "revision": rev.revision,
                        "provenance": rev.provenance,
                    }
                    yield image, self.load_mask(cutout_id, revision=rev.revision), meta

    def final_masks(
        self, cutout_id: str, annotator: str | None = None
    ) -> dict[str, Revision | None]:
        """What each annotator finally said about a cutout.

        Returns
        -------
        dict
            Annotator name (sorted) -> their latest :class:`Revision`, or None
            where they flagged the cutout ``"no_feature"`` without painting.
            Only ``annotator`` if given.
        """
        finals: dict[str, Revision | None] = dict(self.latest_by_annotator(cutout_id))
        for who in self.flags(cutout_id).get("no_feature", []):
            finals.setdefault(who, None)
        return {who: finals[who] for who in sorted(finals) if annotator in (None, who)}

    # ----------------------------------------------------------------- helpers
    def _cutout_dir(self, cutout_id: str) -> Path:
        return self.path / "cutouts" / cutout_id

    def _existing_id(self, cutout_id: str) -> str:
        if cutout_id not in self:
            raise StoreError(f"{self.path}: no cutout {cutout_id!r} in the store")
        return cutout_id

    def _existing_cutout_dir(self, cutout_id: str) -> Path:
        return self._cutout_dir(self._existing_id(cutout_id))

    @contextlib.contextmanager
    def _writing(self, what: str) -> Iterator[None]:
        """Turn a file-system failure while writing into a StoreError naming the store."""
        try:
            yield
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot {what} ({exc.strerror or exc})") from None

    def _check_writable(self) -> None:
        if self.read_only:
            raise StoreError(f"{self.path}: the store is open read-only")


def is_mask_store(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a galseg mask store (a Zarr group with galseg metadata).

    Cheap: reads only the top ``zarr.json``; never raises.
    """
    try:
        return "galseg" in _read_attrs(Path(path))
    except StoreError:
        return False


# --------------------------------------------------------------------- private
def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def mask_digest(mask: np.ndarray) -> str:
    """SHA-256 of a mask's labels (as C-ordered uint8) and shape, kept with each revision.

    Examples
    --------
    >>> mask_digest(np.zeros((2, 2), dtype=np.uint8))[:12]
    '660c5b93b24f'
    """
    labels = np.ascontiguousarray(mask, dtype=np.uint8)
    return hashlib.sha256(repr(labels.shape).encode() + labels.tobytes()).hexdigest()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if missing); a dead holder's
    lock is released by the kernel. Without ``fcntl`` (Windows), no lock."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _revision_name(revision: int) -> str:
    return f"{revision:0{_REVISION_DIGITS}d}"


def check_name(name: str, what: str, where: str) -> None:
    """Raise :class:`StoreError` unless ``name`` is a valid annotator (or other) name.

    Valid names are 1-64 letters, digits, ``_.@+-`` and spaces, starting with a
    letter or digit; ``what`` and ``where`` go into the message.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise StoreError(
            f"{where}: {what} {name!r} is not a valid name (letters, digits, '_.@+-' and "
            "spaces, starting with a letter or digit, 64 characters at most)"
        )


def _chunks(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(min(n, _MAX_CHUNK) for n in shape)


def _write_image(path: Path, cutout: Cutout) -> None:
    zarr.create_array(
        LocalStore(path),
        data=cutout.data,
        chunks=(1, *_chunks(cutout.image_shape)),
        dimension_names=("band", "y", "x"),
        attributes={"bands": list(cutout.bands)},
        zarr_format=3,
    )


def _write_mask(path: Path, mask: np.ndarray, attrs: Mapping[str, Any]) -> None:
    zarr.create_array(
        LocalStore(path),
        data=mask,
        chunks=_chunks(mask.shape),
        dimension_names=("y", "x"),
        attributes=dict(attrs),
        zarr_format=3,
    )


def _write_attrs(path: Path, attrs: Mapping[str, Any]) -> None:
    zarr.open_array(LocalStore(path), mode="r+").attrs.put(dict(attrs))


def _read_attrs(node_dir: Path) -> dict[str, Any]:
    """A node's attributes, read straight from its ``zarr.json`` (fast for many revisions)."""
    path = node_dir / "zarr.json"
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f).get("attributes", {})
    except (OSError, ValueError, AttributeError) as exc:
        raise StoreError(f"{path}: unreadable store metadata ({exc})") from None


def _made(rev: Revision) -> tuple[datetime, int]:
    """When a revision was made (a time without zone read as UTC), then its number."""
    when = datetime.fromisoformat(rev.time)
    return (when if when.tzinfo else when.replace(tzinfo=UTC)), rev.revision


def _revision_from_attrs(cutout_id: str, attrs: Mapping[str, Any]) -> Revision:
    if not all(key in attrs for key in ("revision", "annotator", "time", "provenance")):
        raise StoreError(f"cutout {cutout_id}: a mask revision lacks its metadata ({dict(attrs)})")
    return Revision(
        cutout_id=cutout_id,
        revision=int(attrs["revision"]),
        annotator=attrs["annotator"],
        time=attrs["time"],
        provenance=attrs["provenance"],
        metadata=attrs.get("metadata", {}),
    )


def _cutout_attrs(cutout: Cutout, sources: list[str]) -> dict[str, Any]:
    return {
        "name": cutout.name,
        "source": sources,
        "content_hash": cutout.content_hash,
        "bands": list(cutout.bands),
        "shape": list(cutout.image_shape),
        "wcs": _wcs_cards(cutout.wcs),
        "pixel_scale": cutout.pixel_scale,
        "survey": cutout.survey,
        "zero_points": dict(cutout.zero_points),
        "added": _now(),
        "flags": {},
    }


def _wcs_cards(wcs: WCS | None) -> dict[str, Any] | None:
    if wcs is None:
        return None
    return {key: value for key, value in wcs.to_header(relax=True).items() if key}


def _wcs_from_cards(cards: Mapping[str, Any] | None) -> WCS | None:
    if not cards:
        return None
    return WCS(fits.Header(cards))
