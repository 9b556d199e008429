"""Progress reporting that never ties the core to a user interface.

Long operations take a ``progress`` argument: ``True`` shows a tqdm bar on
stderr (the command line), ``False`` shows nothing, and a callable
``progress(done, total)`` lets a GUI drive its own progress bar.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from tqdm.auto import tqdm

__all__ = ["Progress", "track"]

T = TypeVar("T")

Progress = bool | Callable[[int, int], object]
"""``True`` (tqdm bar), ``False`` (silent) or a ``callback(done, total)``."""


def track(
    items: Iterable[T], total: int, desc: str, progress: Progress, unit: str = "cutout"
) -> Iterator[T]:
    """Iterate over ``items`` while reporting progress as ``progress`` asks.

    ``unit`` names one item on the tqdm bar.

    Examples
    --------
    >>> seen = []
    >>> list(track([10, 20], 2, "demo", lambda done, total: seen.append((done, total))))
    [10, 20]
    >>> seen
    [(0, 2), (1, 2), (2, 2)]
    """
    if progress is True:
        yield from tqdm(items, total=total, desc=desc, unit=unit)
        return
    if progress is False:
        yield from items
        return
    progress(0, total)
    for done, item in enumerate(items, start=1):
        yield item
        progress(done, total)
