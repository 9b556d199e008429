"""Handing the results of a session's background threads to Qt's main thread."""

from __future__ import annotations

from collections.abc import Callable
import time

from qtpy.QtCore import QEventLoop, QObject, QTimer, Signal
from qtpy.QtWidgets import QApplication

__all__ = ["main_thread_post", "wait_in_event_loop"]


class _Caller(QObject):
    """Lives as long as the application: a signal from a worker never finds it deleted."""

    call = Signal(object)


def main_thread_post() -> Callable[[Callable[[], None]], None]:
    """``post(function)``: run ``function`` in Qt's event loop (at once if called from it).

    Needs the QApplication (``napari.qt.get_qapp()`` makes it).
    """
    app = QApplication.instance()
    caller = app.findChild(_Caller, "galseg-main-thread")
    if caller is None:
        caller = _Caller(app)
        caller.setObjectName("galseg-main-thread")
        caller.call.connect(lambda function: function())
    return caller.call.emit


def wait_in_event_loop(until: Callable[[], bool], timeout: float = 300.0) -> bool:
    """Run Qt's event loop until ``until()`` is true or ``timeout`` s passed; whether it is.

    The UI stays live while a script waits (for a cutout read or rendered in
    the background): windows paint, timers fire, posted results arrive.
    """
    if until():
        return True
    deadline = time.monotonic() + timeout
    loop = QEventLoop()
    poll = QTimer()
    poll.timeout.connect(lambda: loop.quit() if until() or time.monotonic() > deadline else None)
    poll.start(5)
    loop.exec()
    poll.stop()
    return until()
