"""Plain callbacks: how a session tells its views what changed, without any GUI toolkit."""

from __future__ import annotations

from collections.abc import Callable
import queue
import threading
from typing import Any

__all__ = ["Event", "Inbox"]


class Event:
    """A list of callbacks, called in order with the arguments of :meth:`emit`.

    Examples
    --------
    >>> seen = []
    >>> opened = Event("opened")
    >>> _ = opened.connect(seen.append)
    >>> opened.emit("ngc474")
    >>> seen
    ['ngc474']
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._callbacks: list[Callable[..., Any]] = []

    def __repr__(self) -> str:
        return f"<Event {self.name}: {len(self._callbacks)} callbacks>"

    def connect(self, callback: Callable[..., Any]) -> Callable[..., Any]:
        """Call ``callback`` at each :meth:`emit`; returns it (usable as a decorator)."""
        self._callbacks.append(callback)
        return callback

    def disconnect(self, callback: Callable[..., Any] | None = None) -> None:
        """Stop calling ``callback`` (every callback if None); unknown ones are ignored."""
        if callback is None:
            self._callbacks.clear()
        elif callback in self._callbacks:
            self._callbacks.remove(callback)

    def emit(self, *args: Any) -> None:
        """Call every callback with ``args``."""
        for callback in list(self._callbacks):
            callback(*args)


class Inbox:
    """Functions handed over from worker threads, run when the owner thread asks.

    A session's default ``post``: scripts and tests without an event loop call
    :meth:`run_pending` (or :meth:`AnnotationSession.wait`) to take the
    results of background work on their own thread. A GUI passes its own
    ``post`` instead, which runs them in its event loop.

    Examples
    --------
    >>> inbox = Inbox()
    >>> inbox.post(lambda: print("done"))
    >>> inbox.run_pending()
    done
    1
    """

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._owner = threading.get_ident()

    def post(self, function: Callable[[], None]) -> None:
        """Hand ``function`` to the owner thread (safe from any thread)."""
        self._queue.put(function)

    def run_pending(self, timeout: float = 0.0) -> int:
        """Run what was posted, waiting up to ``timeout`` s for the first; return how many ran."""
        ran = 0
        try:
            function = self._queue.get(timeout=timeout) if timeout > 0 else self._queue.get_nowait()
        except queue.Empty:
            return 0
        while True:
            function()
            ran += 1
            try:
                function = self._queue.get_nowait()
            except queue.Empty:
                return ran
