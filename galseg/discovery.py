"""Finding cutouts on disk: FITS files, folders of them, per-band groups and mask stores.

:func:`find_cutouts` turns the paths an expert or a catalogue run names into
:class:`QueueItem` s, one per cutout, without reading any pixels; the
annotator (:mod:`galseg.annotate`) and catalogue runs (:mod:`galseg.batch`)
both start from it.

Examples
--------
>>> import tempfile
>>> from galseg.io import write_cutout
>>> from galseg.simulate import simulate_cutout
>>> folder = Path(tempfile.mkdtemp())
>>> _ = write_cutout(simulate_cutout(0, size=32)[0], folder / "ngc474.fits")
>>> [item.name for item in find_cutouts([folder])]
['ngc474']
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
import os
from pathlib import Path

from .cutout import Cutout, split_fits_suffix
from .errors import GalsegError
from .io import read_cutout
from .store import MaskStore

__all__ = ["BAND_ORDER", "QueueItem", "band_rank", "find_cutouts", "fits_files"]

BAND_ORDER = ("u", "g", "r", "i", "z", "y", "j", "h", "k")
"""Bands from blue to red (compared without regard to case): the order of the
files of a per-band cutout. Other bands follow, alphabetically."""


@dataclass(frozen=True)
class QueueItem:
    """One cutout of a queue: FITS file(s), or a cutout of a mask store.

    Attributes
    ----------
    name : str
        Human name: the file's stem, the common stem of per-band files
        (``ngc474`` for ``ngc474_g.fits``, ``ngc474_r.fits``), or the name
        recorded in the store.
    sources : tuple of Path
        The FITS file(s), one per band for a per-band cutout; empty for a
        store item.
    store_id : str or None
        For a store item, the cutout's id in that store.
    store_path : Path or None
        For a store item, the store holding it.
    """

    name: str
    sources: tuple[Path, ...] = ()
    store_id: str | None = None
    store_path: Path | None = None

    def read(self) -> Cutout:
        """Read the cutout from its files or its store.

        Raises
        ------
        GalsegError
            If a file cannot be read (see :func:`galseg.io.read_cutout`) or the
            store or cutout is missing.
        """
        if self.store_path is not None:
            return MaskStore.open(self.store_path, mode="r").cutout(self.store_id)
        return read_cutout(self.sources)


def find_cutouts(paths: Sequence[str | os.PathLike[str]]) -> list[QueueItem]:
    """The cutouts in files, folders and mask stores.

    Parameters
    ----------
    paths : sequence of path-like
        FITS files, folders of FITS files, and galseg mask stores.

        - A FITS file (any suffix of :data:`galseg.cutout.FITS_SUFFIXES`) is
          one cutout, except for per-band files: files of one folder named
          ``<stem>_<band><suffix>`` of which at least two share ``<stem>`` and
          ``<suffix>`` form one cutout named ``<stem>``, their files ordered
          blue to red by :data:`BAND_ORDER` (other bands after, alphabetically).
        - A folder contributes its FITS files, not those of its sub-folders;
          files whose names start with ``.`` and files that are not FITS are
          skipped.
        - A folder holding ``zarr.json`` is opened as a mask store (read only),
          and contributes each of its cutouts, ordered by name, then id.

    Returns
    -------
    list of QueueItem
        In the order of ``paths``, each folder's files sorted by name; a file
        found twice is listed once.

    Raises
    ------
    GalsegError
        If a path does not exist, a file given explicitly is not FITS, or a
        folder with ``zarr.json`` is not a readable galseg store.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from galseg.io import write_cutout
    >>> from galseg.simulate import simulate_cutout
    >>> folder = Path(tempfile.mkdtemp())
    >>> cutout = simulate_cutout(0, size=32)[0]
    >>> _ = write_cutout(cutout, folder / "ngc474.fits.gz", layout="per-band")
    >>> _ = write_cutout(cutout, folder / "ngc1316.fits")
    >>> for item in find_cutouts([folder]):
    ...     print(item.name, [path.name for path in item.sources])
    ngc1316 ['ngc1316.fits']
    ngc474 ['ngc474_g.fits.gz', 'ngc474_r.fits.gz', 'ngc474_z.fits.gz']
    """
    entries: list[Path | QueueItem] = []  # files and store items, in order
    for path in map(Path, paths):
        entries.extend(_entries(path))
    files = _group_files(_unique([entry for entry in entries if isinstance(entry, Path)]))
    items = [files.pop(entry, None) if isinstance(entry, Path) else entry for entry in entries]
    return list(dict.fromkeys(item for item in items if item is not None))


def fits_files(folder: str | os.PathLike[str]) -> list[Path]:
    """The FITS files directly in ``folder``, sorted; hidden files are skipped.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> for name in ("b.fits.gz", "a.fits", ".a.fits", "notes.txt"):
    ...     _ = (folder / name).write_bytes(b"")
    >>> [p.name for p in fits_files(folder)]
    ['a.fits', 'b.fits.gz']
    """
    return [
        child
        for child in sorted(Path(folder).iterdir())
        if not child.name.startswith(".") and child.is_file() and _is_fits(child)
    ]


def _is_fits(path: Path) -> bool:
    return bool(split_fits_suffix(path.name)[1])


def _entries(path: Path) -> Sequence[Path | QueueItem]:
    """The FITS files of a file or folder, or the items of a store."""
    if path.is_dir() and (path / "zarr.json").exists():
        return _store_items(path)
    if path.is_dir():
        return fits_files(path)
    if not path.exists():
        raise GalsegError(f"{path}: no such file or folder")
    if not _is_fits(path):
        raise GalsegError(
            f"{path}: not a FITS file (expected a name ending in .fits, .fit, .fits.gz "
            "or .fits.fz), a folder or a mask store"
        )
    return [path]


def _unique(paths: list[Path]) -> list[Path]:
    """``paths`` without repeats of the same file, first occurrence kept."""
    seen: set[Path] = set()
    unique = []
    for path in paths:
        if path.resolve() not in seen:
            seen.add(path.resolve())
            unique.append(path)
    return unique


def _group_files(files: list[Path]) -> dict[Path, QueueItem]:
    """One item per file, but one per group of per-band files, keyed by its first file."""
    groups: defaultdict[tuple[Path, str, str], list[tuple[str, Path]]] = defaultdict(list)
    for path in files:
        key, band = _band_key(path)
        if key is not None:
            groups[key].append((band, path))
    items: dict[Path, QueueItem] = {}
    for path in files:
        key, _ = _band_key(path)
        members = groups.get(key, []) if key is not None else []
        if len(members) < 2:
            items[path] = QueueItem(split_fits_suffix(path.name)[0], (path,))
        elif members[0][1] == path:  # the group's first file stands for the group
            ordered = sorted(members, key=lambda member: band_rank(member[0]))
            items[path] = QueueItem(key[1], tuple(member for _, member in ordered))
    return items


_MAX_BAND_NAME = 3
"""Longest tail taken for a band name: ``g``, ``VIS``, ``Ks``, but not ``hsc`` + 1."""


def _band_key(path: Path) -> tuple[tuple[Path, str, str] | None, str]:
    """``((folder, stem, suffix), band)`` for ``<stem>_<band><suffix>``, else ``(None, "")``.

    The tail must look like a band name (at most three characters, e.g. ``g``,
    ``VIS``, ``Ks``): ``ngc474_legacy.fits`` and ``ngc474_hsc.fits`` are
    two cutouts, not two bands of one.
    """
    stem, suffix = split_fits_suffix(path.name)
    base, _, band = stem.rpartition("_")
    if base and band and (len(band) <= _MAX_BAND_NAME or band.lower() in BAND_ORDER):
        return (path.parent.resolve(), base, suffix), band
    return None, ""


def band_rank(band: str) -> tuple[int, str]:
    """Sort key of a band name, blue to red by :data:`BAND_ORDER`, others after.

    Examples
    --------
    >>> sorted(["z", "VIS", "g", "r"], key=band_rank)
    ['g', 'r', 'z', 'VIS']
    """
    lower = band.lower()
    return (BAND_ORDER.index(lower) if lower in BAND_ORDER else len(BAND_ORDER), lower)


def _store_items(path: Path) -> list[QueueItem]:
    store = MaskStore.open(path, mode="r")
    named = [
        (store.info(cutout_id).get("name") or cutout_id, cutout_id) for cutout_id in store.ids()
    ]
    return [
        QueueItem(name, store_id=cutout_id, store_path=path) for name, cutout_id in sorted(named)
    ]
