"""What a catalogue run reads: cutout files, folders, globs and catalogue tables."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
import glob
import os
from pathlib import Path
import re

from astropy.io import fits
from astropy.table import Table
import numpy as np

from ..cutout import split_fits_suffix
from ..discovery import QueueItem, band_rank, find_cutouts
from ..errors import GalsegError

__all__ = [
    "CATALOGUE_SUFFIXES",
    "NAME_COLUMNS",
    "PATH_COLUMNS",
    "Inputs",
    "Problem",
    "find_inputs",
    "read_catalogue",
]

CATALOGUE_SUFFIXES = (".csv", ".ecsv")
"""Text catalogue tables (FITS tables are recognised by their content)."""

PATH_COLUMNS = ("path", "file", "filename")
"""Names (any case) of a catalogue's column of cutout files, one per row."""

NAME_COLUMNS = ("name", "id", "objid", "object_id")
"""Names (any case) of a catalogue's column of object names, if any."""

_BAND_COLUMN = re.compile(r"^(?:path|file)_([A-Za-z0-9]{1,3})$", re.IGNORECASE)
_GLOB = re.compile(r"[*?[]")


@dataclass(frozen=True)
class Problem:
    """An input that cannot be predicted, and why.

    Attributes
    ----------
    input : str
        The file(s), or the catalogue and row.
    reason : str
        One line for the report.
    """

    input: str
    reason: str


@dataclass
class Inputs:
    """The cutouts to predict, and the inputs already known to be unusable.

    Attributes
    ----------
    items : list of QueueItem
        One per cutout, in input order; files named twice (say by a folder
        and a catalogue) give one item.
    problems : list of Problem
        Catalogue rows without a usable path.
    duplicates : int
        Inputs left out because they name files (or a store cutout) that an
        earlier input named already.
    """

    items: list[QueueItem] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    duplicates: int = 0


def find_inputs(inputs: Sequence[str | os.PathLike[str]]) -> Inputs:
    """The cutouts named by files, folders, globs, mask stores and catalogue tables.

    Parameters
    ----------
    inputs : sequence of str or path-like
        Each one of:

        - a FITS file, a folder of FITS files or a mask store, as the
          annotator opens them (:func:`galseg.discovery.find_cutouts`: per-band
          files ``<stem>_<band>.fits`` of a folder are one cutout);
        - a glob (``"cutouts/**/*.fits.gz"``; quote it in a shell) matching
          any of those (a FITS catalogue is recognised only when named
          itself: the files a glob matches are not opened here);
        - a catalogue table, CSV (``.csv``, ``.ecsv``) or FITS (a FITS file
          whose data are a table), one row per cutout, with either a column
          of files (:data:`PATH_COLUMNS`) or one column per band
          (``path_g``, ``path_r``, ... or ``file_g``, ...). Relative paths
          are relative to the catalogue's folder. A column from
          :data:`NAME_COLUMNS` names the rows in the report.

    Returns
    -------
    Inputs
        The cutouts, each once, the catalogue rows without a path, and the
        number of inputs that named a cutout again.

    Raises
    ------
    GalsegError
        If an input does not exist, a glob matches nothing, or a catalogue is
        unreadable or has no path column.

    Examples
    --------
    >>> import tempfile
    >>> from galseg.io import write_cutout
    >>> from galseg.simulate import simulate_cutout
    >>> folder = Path(tempfile.mkdtemp())
    >>> for seed in (1, 2):
    ...     _ = write_cutout(simulate_cutout(seed, size=32)[0], folder / f"gal{seed}.fits")
    >>> _ = (folder / "list.csv").write_text("name,path\\nfirst,gal1.fits\\nsecond,\\n")
    >>> found = find_inputs([folder / "list.csv"])
    >>> [item.name for item in found.items], found.problems[0].reason
    (['first'], 'no path given')
    >>> [item.name for item in find_inputs([str(folder / "gal*.fits")]).items]
    ['gal1', 'gal2']
    """
    found = Inputs()
    for entry in inputs:
        paths, named = [Path(entry)], True
        if not paths[0].exists() and _GLOB.search(str(entry)):
            paths = [Path(match) for match in sorted(glob.glob(str(entry), recursive=True))]
            named = False  # a glob may match millions of cutouts: never open them here
            if not paths:
                raise GalsegError(f"{entry}: no file matches")
        tables = [path for path in paths if _is_catalogue(path, look_inside=named)]
        for table in tables:
            items, problems = read_catalogue(table)
            found.items.extend(items)
            found.problems.extend(problems)
        cutouts = [path for path in paths if path not in tables]
        if cutouts:
            found.items.extend(find_cutouts(cutouts))
    listed = len(found.items)
    found.items = _unique(found.items)
    found.duplicates = listed - len(found.items)
    return found


def _unique(items: list[QueueItem]) -> list[QueueItem]:
    """Items without repeats of the same files (or store cutout), first one kept."""
    seen: set[tuple] = set()
    unique = []
    for item in items:
        key = (tuple(p.resolve() for p in item.sources), item.store_path, item.store_id)
        if key not in seen:
            seen.add(key)
            unique.append(item)
    return unique


def read_catalogue(path: str | os.PathLike[str]) -> tuple[list[QueueItem], list[Problem]]:
    """The cutouts a catalogue table lists (see :func:`find_inputs`).

    Parameters
    ----------
    path : path-like
        A CSV (``.csv``, ``.ecsv``) or FITS table.

    Returns
    -------
    items : list of QueueItem
        One per row with its file(s), named by the row's name column if any,
        else by the (first) file.
    problems : list of Problem
        The rows without a path.

    Raises
    ------
    GalsegError
        If the table cannot be read or has no path column.
    """
    path = Path(path)
    try:
        table = Table.read(path, format=_table_format(path))
    except Exception as exc:  # astropy raises many kinds for a bad table
        raise GalsegError(f"{path}: not a readable catalogue table ({exc})") from None
    columns = {name.lower(): name for name in table.colnames}
    single = next((columns[c] for c in PATH_COLUMNS if c in columns), None)
    bands = sorted(
        ((m.group(1), name) for name in table.colnames if (m := _BAND_COLUMN.match(name))),
        key=lambda band: band_rank(band[0]),
    )
    if single is None and not bands:
        raise GalsegError(
            f"{path}: no column of cutout files; name it one of {', '.join(PATH_COLUMNS)}, "
            "or give one column per band (path_g, path_r, ...)"
        )
    file_columns = [single] if single is not None else [name for _, name in bands]
    name_column = next((columns[c] for c in NAME_COLUMNS if c in columns), None)
    items, problems = [], []
    for number, row in enumerate(table, start=1):
        label = f"{path} row {number}"
        if name_column is not None and not _blank(row[name_column]):
            label += f" ({row[name_column]})"
        sources = [_cell_path(row[c], path.parent) for c in file_columns]
        if any(source is None for source in sources):
            problems.append(Problem(label, "no path given"))
            continue
        name = (
            str(row[name_column])
            if name_column is not None and not _blank(row[name_column])
            else split_fits_suffix(sources[0].name)[0]
        )
        items.append(QueueItem(name, tuple(sources)))
    return items, problems


def _is_catalogue(path: Path, *, look_inside: bool = True) -> bool:
    """A text table by its suffix, or (when looking inside) a FITS file whose first
    data are a table."""
    if not path.is_file():
        return False
    if path.suffix.lower() in CATALOGUE_SUFFIXES:
        return True
    if not look_inside or not split_fits_suffix(path.name)[1]:
        return False
    try:
        with fits.open(path, lazy_load_hdus=True) as hdul:
            for hdu in hdul:
                if isinstance(hdu, fits.CompImageHDU):  # a table underneath, before astropy 7
                    return False
                if hdu.header.get("NAXIS", 0) == 0:
                    continue
                return isinstance(hdu, fits.BinTableHDU | fits.TableHDU)
    except (OSError, ValueError):
        return False  # not readable as FITS: reading it as a cutout reports why
    return False


def _table_format(path: Path) -> str:
    suffix = path.suffix.lower()
    return {".csv": "ascii.csv", ".ecsv": "ascii.ecsv"}.get(suffix, "fits")


def _blank(value: object) -> bool:
    return value is np.ma.masked or str(value).strip() in ("", "--", "nan", "None")


def _cell_path(value: object, base: Path) -> Path | None:
    if _blank(value):
        return None
    if isinstance(value, bytes):
        value = value.decode()
    path = Path(str(value).strip()).expanduser()
    return path if path.is_absolute() else base / path
