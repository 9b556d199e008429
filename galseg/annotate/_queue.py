"""The queue of cutouts an expert steps through, and what they have done so far.

:class:`AnnotationQueue` steps through the cutouts
:func:`galseg.discovery.find_cutouts` found, reads each into the working
:class:`~galseg.store.MaskStore` and tells which ones the annotator has
finished — without reading any FITS file it has not opened, so that a queue
of hundreds of cutouts starts at once.

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> from galseg import MaskStore
>>> from galseg.io import write_cutout
>>> from galseg.simulate import simulate_cutout
>>> folder = Path(tempfile.mkdtemp())
>>> for seed in (1, 2):
...     files = write_cutout(simulate_cutout(seed, size=32)[0], folder / f"gal{seed}.fits")
>>> queue = AnnotationQueue.from_paths([folder], MaskStore.open(folder / "masks.zarr"), "ada")
>>> [item.name for item in queue.items]
['gal1', 'gal2']
>>> opened = queue.open()
>>> opened.cutout.bands, opened.mask.shape, opened.revision
(('g', 'r', 'z'), (32, 32), None)
>>> queue.set_flag("no_feature")
>>> queue.progress_text(), queue.next_unannotated()
('1 / 2 done', 1)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
import os
from pathlib import Path

import numpy as np

from ..cutout import Cutout
from ..discovery import QueueItem, find_cutouts
from ..errors import GalsegError
from ..store import MaskStore, check_name

__all__ = ["AnnotationQueue", "OpenedCutout"]


@dataclass(frozen=True)
class OpenedCutout:
    """A cutout opened from the queue, ready to paint on.

    Attributes
    ----------
    cutout : Cutout
        The pixels, bands, WCS, ...
    cutout_id : str
        Its id in the working store.
    mask : ndarray of uint8, shape (y, x)
        The annotator's latest mask of it, or zeros if they have none.
    revision : int or None
        The revision number of ``mask``, or None for the zeros.
    """

    cutout: Cutout
    cutout_id: str
    mask: np.ndarray
    revision: int | None


class AnnotationQueue:
    """Step through cutouts, reading each into the working store.

    Parameters
    ----------
    items : sequence of QueueItem
        The cutouts, e.g. from :func:`find_cutouts`.
    store : MaskStore
        The working store (writable): every opened cutout is added to it with
        a copy of its pixels, so that it is self-contained for retraining.
    annotator : str
        Whose masks and flags count; the attribute of that name may be
        changed later (to a valid name).

    Notes
    -----
    Navigation (:meth:`go`, :meth:`next`, :meth:`previous`) clamps at the ends
    of the queue and never wraps round; :meth:`next_unannotated` does wrap.

    Whether a cutout not opened in this session is done is found from the
    store alone: a file item is matched to the cutout the store recorded with
    the same source files, in the same order (the most recently added one, if
    several). No FITS file is read until :meth:`open`.
    """

    def __init__(self, items: Sequence[QueueItem], store: MaskStore, annotator: str):
        check_name(annotator, "annotator", str(store.path))
        self._items = tuple(items)
        self.store = store
        self.annotator = annotator
        self._index = 0
        self._opened_ids: dict[int, str] = {}
        self._ids_by_sources: dict[tuple[Path, ...], str] | None = None
        self._with_mask: set[tuple[str, str]] = set()  # (annotator, id): masks are never deleted

    @classmethod
    def from_paths(
        cls, paths: Sequence[str | os.PathLike[str]], store: MaskStore, annotator: str
    ) -> AnnotationQueue:
        """A queue of the cutouts in ``paths`` (see :func:`find_cutouts`)."""
        return cls(find_cutouts(paths), store, annotator)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"<AnnotationQueue of {len(self)} cutouts, at {self._index} ({self.annotator})>"

    @property
    def items(self) -> tuple[QueueItem, ...]:
        """The queue's items, in order."""
        return self._items

    @property
    def index(self) -> int:
        """Index of the current item (0 at the start)."""
        return self._index

    @property
    def current(self) -> QueueItem:
        """The current item.

        Raises
        ------
        IndexError
            If the queue is empty.
        """
        if not self._items:
            raise IndexError("the annotation queue is empty")
        return self._items[self._index]

    # -------------------------------------------------------------- navigation
    def go(self, index: int) -> int:
        """Make item ``index`` current (clamped to the queue) and return the new index."""
        self._index = min(max(index, 0), max(len(self._items) - 1, 0))
        return self._index

    def next(self) -> int:
        """Move to the next item (staying on the last one) and return the new index."""
        return self.go(self._index + 1)

    def previous(self) -> int:
        """Move to the previous item (staying on the first one) and return the new index."""
        return self.go(self._index - 1)

    def next_unannotated(self, after: int | None = None) -> int | None:
        """The first item not done after ``after`` (default: the current item).

        The search goes forward, wraps round to the start and ends with
        ``after`` itself. It does not move the queue.

        Returns
        -------
        int or None
            The index, or None if every item is done.
        """
        start = self._index if after is None else after
        n = len(self._items)
        for step in range(1, n + 1):
            index = (start + step) % n
            if not self.is_done(index):
                return index
        return None

    # ----------------------------------------------------------------- opening
    def open(self, index: int | None = None) -> OpenedCutout:
        """Make item ``index`` (default: the current one) current and open it.

        The cutout is read and added to the working store with a copy of its
        pixels (nothing is written if it is there already).

        Raises
        ------
        GalsegError
            If the cutout cannot be read (the message names the file) or not
            added to the store. The item stays current, so that :meth:`next`
            moves past it.
        """
        if index is not None:
            self.go(index)
        return self.read(self._index)

    def read(self, index: int) -> OpenedCutout:
        """Open item ``index`` without making it current (safe in a worker thread).

        As :meth:`open`, for a caller that reads in the background and moves
        the queue once the cutout is there.

        Raises
        ------
        GalsegError
            If the cutout cannot be read (the message names the file) or not
            added to the store.
        """
        cutout = self._items[index].read()
        cutout_id = self.store.add_cutout(cutout, copy_pixels=True)
        self._opened_ids[index] = cutout_id
        latest = self.store.latest(cutout_id, self.annotator)
        if latest is None:
            mask = np.zeros(cutout.image_shape, dtype=np.uint8)
        else:
            mask = self.store.load_mask(cutout_id, revision=latest.revision)
        return OpenedCutout(cutout, cutout_id, mask, None if latest is None else latest.revision)

    # -------------------------------------------------------------------- done
    def is_done(self, index: int) -> bool:
        """Whether the annotator saved a mask of item ``index`` or set a flag on it."""
        cutout_id = self._store_id(index)
        if cutout_id is None:
            return False
        if (self.annotator, cutout_id) in self._with_mask:
            return True
        if self.store.latest(cutout_id, self.annotator) is not None:
            self._with_mask.add((self.annotator, cutout_id))
            return True
        return bool(self._flags_of(cutout_id))

    def n_done(self) -> int:
        """How many items are done (see :meth:`is_done`)."""
        return sum(self.is_done(index) for index in range(len(self._items)))

    def progress_text(self) -> str:
        """E.g. ``"12 / 200 done"``."""
        return f"{self.n_done()} / {len(self._items)} done"

    # ------------------------------------------------------------------- flags
    def set_flag(self, flag: str, on: bool = True) -> None:
        """Set (or clear) a flag such as ``"no_feature"`` on the current cutout.

        Raises
        ------
        GalsegError
            If the cutout is not in the store yet (:meth:`open` it first) or
            the flag is unknown (see :data:`galseg.store.FLAGS`).
        """
        cutout_id = self._store_id(self._index) if self._items else None
        if cutout_id is None:
            name = self.current.name if self._items else "the queue"
            raise GalsegError(f"{name}: open the cutout before flagging it")
        self.store.set_flag(cutout_id, flag, self.annotator, on)

    def flags(self) -> list[str]:
        """The flags the annotator set on the current cutout, sorted."""
        cutout_id = self._store_id(self._index) if self._items else None
        return [] if cutout_id is None else self._flags_of(cutout_id)

    # ----------------------------------------------------------------- helpers
    def _flags_of(self, cutout_id: str) -> list[str]:
        flags = self.store.flags(cutout_id)
        return sorted(flag for flag, who in flags.items() if self.annotator in who)

    def _store_id(self, index: int) -> str | None:
        """The working store's id of item ``index``, if the store has it."""
        if index in self._opened_ids:
            return self._opened_ids[index]
        item = self._items[index]
        if item.store_id is not None:  # ids are content hashes: the same in every store
            return item.store_id if item.store_id in self.store else None
        if self._ids_by_sources is None:
            self._ids_by_sources = _ids_by_sources(self.store)
        return self._ids_by_sources.get(tuple(path.resolve() for path in item.sources))


# --------------------------------------------------------------------- private
def _ids_by_sources(store: MaskStore) -> dict[tuple[Path, ...], str]:
    """Cutout id by resolved source files; the most recently added wins a tie."""
    found: dict[tuple[Path, ...], tuple[str, str]] = {}
    for cutout_id in store.ids():
        sources = tuple(path.resolve() for path in store.source_paths(cutout_id))
        added = store.info(cutout_id).get("added", "")
        if sources and (sources not in found or added > found[sources][0]):
            found[sources] = (added, cutout_id)
    return {sources: cutout_id for sources, (_, cutout_id) in found.items()}
