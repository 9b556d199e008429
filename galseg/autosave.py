"""Saving a mask while it is being painted: off the caller's thread, soon after each change.

:class:`Autosaver` takes a snapshot of the mask at every change and saves the
latest one in a worker thread once painting pauses (``delay``), and at the
latest ``max_delay`` seconds after the first unsaved change, so that every
stroke is on disk within a couple of seconds even during a long painting
session. :func:`saved_ago` words the time since the last save for a status
label.

Examples
--------
>>> import numpy as np
>>> saved = []
>>> def save(mask):
...     saved.append(mask)
...     return len(saved)  # the revision number
>>> saver = Autosaver(save, delay=0.1)
>>> mask = np.zeros((4, 4), dtype=np.uint8)
>>> for value in (1, 2, 3):  # three quick strokes ...
...     mask[0, 0] = value
...     saver.changed(mask.copy())
>>> saver.flush()  # ... are one save, of the last snapshot
True
>>> len(saved), int(saved[0][0, 0]), saver.last_revision
(1, 3, 1)
>>> saver.close()
True
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
import threading
import time
from typing import Any
import warnings

import numpy as np

__all__ = ["Autosaver", "saved_ago"]


class Autosaver:
    """Save the latest snapshot of a mask in a worker thread, debounced.

    Parameters
    ----------
    save : callable
        ``save(snapshot) -> int`` writes one snapshot and returns its revision
        number, e.g. ``lambda m: store.save_mask(cutout_id, m, annotator,
        content_hash=cutout.content_hash)``. It is called in the worker
        thread, never twice at once.
    delay : float
        Seconds without a new change after which the latest snapshot is saved.
    max_delay : float
        Seconds after the first unsaved change by which it is saved, even while
        changes keep coming. At least ``delay``.
    on_saved : callable, optional
        ``on_saved(revision, time)`` after each save, ``time`` as
        :func:`time.time` gives it.
    on_error : callable, optional
        ``on_error(exception)`` when ``save`` raises (an :class:`Exception`).
        Default: a warning.

    Notes
    -----
    The callbacks run in the worker thread: a GUI must pass what they report
    to its own thread (in napari, through a Qt signal). They must not call
    :meth:`flush` or :meth:`close`; an exception they raise becomes a warning.

    A snapshot whose save fails stays pending. It is saved again after the
    next change (with the usual delays) or at the next :meth:`flush`, unless a
    newer snapshot has replaced it; it is never dropped silently. A snapshot
    handed in with ``keep=True`` (say, a revision of its own provenance) is
    saved at once and never replaced: later ones are saved after it.
    """

    def __init__(
        self,
        save: Callable[[np.ndarray], int],
        *,
        delay: float = 0.5,
        max_delay: float = 2.0,
        on_saved: Callable[[int, float], None] | None = None,
        on_error: Callable[[Exception], None] | None = None,
    ):
        if not 0 <= delay <= max_delay:
            raise ValueError(
                f"need 0 <= delay <= max_delay, got delay={delay}, max_delay={max_delay}"
            )
        self._save = save
        self._delay = delay
        self._max_delay = max_delay
        self._on_saved = on_saved
        self._on_error = on_error or _warn_save_failed
        self._condition = threading.Condition()
        # Snapshots are numbered 1, 2, ... as handed in; saving number n covers all before it.
        self._snapshot: Any = None  # the unsaved one, unless being saved
        self._number = 0  # its number
        self._kept: deque[tuple[Any, int]] = deque()  # never replaced, saved first
        self._handed = 0  # number of the latest snapshot handed in
        self._saved = 0  # number of the latest snapshot saved
        self._errors = 0  # failed saves so far
        self._failed_number = 0  # number of the latest snapshot whose save failed
        self._first_change: float | None = None  # time.monotonic() of the first unsaved change
        self._last_change = 0.0
        self._urgent = False  # flush asked: save without waiting
        self._failed = False  # the last save failed: wait for a change or a flush
        self._closed = False
        self._last_saved: float | None = None
        self._last_revision: int | None = None
        self._thread = threading.Thread(target=self._run, name="galseg-autosave", daemon=True)
        self._thread.start()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "pending" if self.pending else "saved"
        return f"<Autosaver {state}, last revision {self._last_revision}>"

    # -------------------------------------------------------------- public API
    def changed(self, snapshot: Any, *, keep: bool = False) -> None:
        """Hand in the mask as it is now; it replaces any snapshot not yet saved.

        Returns at once; safe to call from any thread. Pass a copy, which
        later painting does not modify. With ``keep``, the snapshot is saved
        at once and no later one replaces it.

        Raises
        ------
        RuntimeError
            If the autosaver is closed.
        """
        with self._condition:
            if self._closed:
                raise RuntimeError("the autosaver is closed")
            now = time.monotonic()
            self._handed += 1
            if keep:  # newer than the unsaved one, which it covers
                self._snapshot, self._first_change = None, None
                self._kept.append((snapshot, self._handed))
            else:
                self._snapshot, self._number = snapshot, self._handed
                self._last_change = now
                if self._first_change is None:
                    self._first_change = now
            self._failed = False
            self._condition.notify_all()

    def flush(self, timeout: float | None = None) -> bool:
        """Save the pending snapshot now and wait until all handed in so far is saved.

        Parameters
        ----------
        timeout : float, optional
            Seconds to wait at most. Default: as long as it takes.

        Returns
        -------
        bool
            True if everything handed in before the call is saved; False if
            the save failed (``on_error`` was called) or the time ran out.
        """
        with self._condition:
            target = self._handed
            errors = self._errors
            if self._closed:
                return self._saved >= target
            if self._snapshot is not None or self._kept:
                self._urgent = True
                self._failed = False
                self._condition.notify_all()
            self._condition.wait_for(
                lambda: (
                    self._saved >= target
                    or (self._errors > errors and self._failed_number >= target)
                ),
                timeout,
            )
            return self._saved >= target

    def close(self, timeout: float | None = None) -> bool:
        """Flush, then stop the worker thread. Closing twice is harmless.

        Returns
        -------
        bool
            Whether everything handed in was saved (see :meth:`flush`).
        """
        saved = self.flush(timeout)
        with self._condition:
            self._closed = True
            self._condition.notify_all()
        self._thread.join(timeout)
        return saved

    @property
    def pending(self) -> bool:
        """Whether a snapshot handed in is not saved yet (or is being saved)."""
        with self._condition:
            return self._saved < self._handed

    @property
    def last_saved(self) -> float | None:
        """:func:`time.time` of the last successful save, or None."""
        with self._condition:
            return self._last_saved

    @property
    def last_revision(self) -> int | None:
        """What ``save`` returned the last time it succeeded, or None."""
        with self._condition:
            return self._last_revision

    @property
    def running(self) -> bool:
        """Whether the worker thread is alive (until :meth:`close`)."""
        return self._thread.is_alive()

    # ------------------------------------------------------------------ worker
    def _run(self) -> None:
        while True:
            with self._condition:
                work = self._next_snapshot()
            if work is None:
                return
            self._save_snapshot(*work)

    def _next_snapshot(self) -> tuple[Any, int, bool] | None:
        """Wait (holding the lock) until a snapshot is due; None once closed."""
        while True:
            if self._kept and not self._failed:
                return (*self._kept.popleft(), True)
            ready = self._snapshot is not None and not self._failed
            wait: float | None = None
            if ready and (self._urgent or self._closed):
                break
            if ready:
                assert self._first_change is not None
                due = min(self._last_change + self._delay, self._first_change + self._max_delay)
                wait = due - time.monotonic()
                if wait <= 0:
                    break
            elif self._closed:
                return None
            self._condition.wait(wait)
        snapshot, self._snapshot = self._snapshot, None
        self._urgent = False
        self._first_change = None
        return snapshot, self._number, False

    def _save_snapshot(self, snapshot: Any, number: int, kept: bool) -> None:
        try:
            revision = self._save(snapshot)
        except Exception as exc:
            with self._condition:
                if kept:  # saved first again, before anything newer
                    self._kept.appendleft((snapshot, number))
                    self._failed = True
                elif self._snapshot is None and not self._kept:  # nothing newer: retry it
                    self._snapshot, self._number = snapshot, number
                    self._failed = True
            _call(self._on_error, exc)
            with self._condition:
                self._errors += 1
                self._failed_number = number
                self._condition.notify_all()
            return
        saved_at = time.time()
        with self._condition:
            self._last_saved = saved_at
            self._last_revision = revision
        if self._on_saved is not None:
            _call(self._on_saved, revision, saved_at)
        with self._condition:
            self._saved = number
            self._condition.notify_all()


def saved_ago(last_saved: float | None, now: float) -> str:
    """Words for a status label: how long ago the last save was.

    Parameters
    ----------
    last_saved : float or None
        :func:`time.time` of the last save (e.g. :attr:`Autosaver.last_saved`),
        or None if nothing was saved.
    now : float
        :func:`time.time` now.

    Examples
    --------
    >>> saved_ago(None, 100.0), saved_ago(100.0, 100.4), saved_ago(100.0, 102.5)
    ('not saved yet', 'saved just now', 'saved 2 s ago')
    >>> saved_ago(100.0, 300.0), saved_ago(0.0, 7300.0)
    ('saved 3 min ago', 'saved 2 h ago')
    """
    if last_saved is None:
        return "not saved yet"
    seconds = int(now - last_saved)
    if seconds < 1:
        return "saved just now"
    if seconds < 60:
        return f"saved {seconds} s ago"
    if seconds < 3600:
        return f"saved {seconds // 60} min ago"
    return f"saved {seconds // 3600} h ago"


def _warn_save_failed(exc: Exception) -> None:
    warnings.warn(f"autosave failed (will retry at the next change): {exc}", stacklevel=2)


def _call(callback: Callable[..., Any], *args: Any) -> None:
    """Run a callback in the worker; what it raises is reported, never kills the worker."""
    try:
        callback(*args)
    except Exception as exc:
        warnings.warn(f"autosave: callback {callback!r} raised {exc!r}", stacklevel=2)
