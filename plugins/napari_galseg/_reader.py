"""napari reader for FITS cutouts, built on :func:`galseg.io.read_cutout`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from galseg.cutout import split_fits_suffix
from galseg.io import read_cutout

from ._layers import cutout_layers


def get_reader(path: str | Sequence[str]) -> Callable | None:
    """Return a reader if ``path`` (or every path of a list) is a FITS file, else None.

    A list of paths is read as one cutout with one file per band.
    """
    paths = [path] if isinstance(path, str | Path) else list(path)
    if not paths or not all(split_fits_suffix(Path(p).name)[1] for p in paths):
        return None
    return _read


def _read(path: str | Sequence[str]) -> list[tuple]:
    source = path if isinstance(path, str | Path) else list(path)
    return cutout_layers(read_cutout(source))
