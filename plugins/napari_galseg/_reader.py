"""napari reader: FITS cutouts, folders of them, and galseg mask stores.

Built on :func:`galseg.queue.find_cutouts` and :func:`galseg.io.read_cutout`.
A file that cannot be read is reported in a napari notification naming the
file and the problem; the other cutouts still open and the viewer carries on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from galseg.cutout import split_fits_suffix
from galseg.errors import GalsegError
from galseg.queue import QueueItem, find_cutouts, fits_files
from galseg.settings import load_settings
from galseg.store import MaskStore, is_mask_store

from ._layers import cutout_layers, mask_layer

_EMPTY = [(None,)]  # napari's "read fine, nothing to show"


def get_reader(path: str | Sequence[str]) -> Callable | None:
    """Return a reader for ``path`` if galseg can open it, else None.

    Accepted: a FITS file (``.fits``, ``.fit``, ``.fits.gz``, ``.fz``, ...); a
    list of FITS files, read as one cutout with one file per band; a folder
    holding FITS files; a galseg mask store (``*.zarr``).
    """
    if not isinstance(path, str | Path):
        paths = [Path(p) for p in path]
        return _read if paths and all(_is_fits(p) for p in paths) else None
    path = Path(path)
    if _is_fits(path) or is_mask_store(path):
        return _read
    if path.is_dir() and fits_files(path):  # the folder listing the queue itself uses
        return _read
    return None


def _read(path: str | Sequence[str]) -> list[tuple]:
    if isinstance(path, str | Path):
        items = _items_or_report([path])
    else:  # several files: the bands of one cutout
        items = [QueueItem(name="", sources=tuple(Path(p) for p in path))]
    show_bands = load_settings().show_bands
    layers: list[tuple] = []
    for item in items:
        first = not layers
        try:
            cutout = item.read()
        except GalsegError as exc:
            _report(exc)
            continue
        for data, kwargs, kind in cutout_layers(cutout):
            is_band = not kwargs.get("rgb", False)
            kwargs["visible"] = first and is_band == show_bands
            layers.append((data, kwargs, kind))
        if item.store_id is not None:
            layers += _store_masks(item, cutout.name, visible=first)
    return layers or _EMPTY


def _items_or_report(paths: list) -> list[QueueItem]:
    try:
        return find_cutouts(paths)
    except GalsegError as exc:
        _report(exc)
        return []


def _store_masks(item: QueueItem, name: str, visible: bool) -> list[tuple]:
    """Each annotator's latest mask of a stored cutout, as Labels layers."""
    store = MaskStore.open(item.store_path, mode="r")
    return [
        mask_layer(
            store.load_mask(item.store_id, revision=rev.revision),
            f"{name} [{who}]",
            store.taxonomy,
            opacity=0.5,
            visible=visible,
        )
        for who, rev in store.latest_by_annotator(item.store_id).items()
    ]


def _is_fits(path: Path) -> bool:
    return bool(split_fits_suffix(path.name)[1]) and not path.is_dir()


def _report(exc: GalsegError) -> None:
    from napari.utils.notifications import show_error

    show_error(str(exc))
