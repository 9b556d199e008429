"""Undo and redo of a mask's edits: each step a list of pixel changes."""

from __future__ import annotations

from collections import deque
from typing import NamedTuple

import numpy as np

__all__ = ["Edit", "History"]


class Edit(NamedTuple):
    """Pixels of a mask that changed: where, from what, to what.

    Attributes
    ----------
    index : tuple of ndarray
        The pixels, as ``np.nonzero`` gives them.
    old, new : ndarray
        Their values before and after, one per pixel.
    """

    index: tuple[np.ndarray, ...]
    old: np.ndarray
    new: np.ndarray

    @property
    def size(self) -> int:
        """How many pixels changed."""
        return int(self.old.size)

    def inverse(self) -> Edit:
        """The edit that takes this one back."""
        return Edit(self.index, self.new, self.old)


class History:
    """Undo and redo stacks of steps, each a list of :class:`Edit` s.

    Parameters
    ----------
    limit : int
        Steps kept for undo; older ones are forgotten.

    Examples
    --------
    >>> mask = np.zeros(4, np.uint8)
    >>> history = History()
    >>> edit = Edit((np.array([1, 2]),), mask[[1, 2]], np.array([3, 3], np.uint8))
    >>> mask[edit.index] = edit.new
    >>> history.push([edit])
    >>> for step in history.undo():
    ...     mask[step.index] = step.new
    >>> mask.tolist(), history.can_redo
    ([0, 0, 0, 0], True)
    """

    def __init__(self, limit: int = 100) -> None:
        self._undo: deque[list[Edit]] = deque(maxlen=limit)
        self._redo: list[list[Edit]] = []

    @property
    def can_undo(self) -> bool:
        """Whether there is a step to undo."""
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        """Whether there is a step to redo."""
        return bool(self._redo)

    def push(self, edits: list[Edit]) -> None:
        """Record a step that was just applied; the redo stack is dropped."""
        self._undo.append(edits)
        self._redo.clear()

    def undo(self) -> list[Edit] | None:
        """The edits that undo the last step (to apply in order), or None."""
        if not self._undo:
            return None
        step = self._undo.pop()
        self._redo.append(step)
        return [edit.inverse() for edit in reversed(step)]

    def redo(self) -> list[Edit] | None:
        """The edits that redo the last undone step, or None."""
        if not self._redo:
            return None
        step = self._redo.pop()
        self._undo.append(step)
        return list(step)

    def clear(self) -> None:
        """Forget every step (another cutout is open)."""
        self._undo.clear()
        self._redo.clear()
