"""Handing the results of a session's background threads to Qt's main thread."""

from __future__ import annotations

from collections.abc import Callable

from qtpy.QtCore import QObject, Signal
from qtpy.QtWidgets import QApplication

__all__ = ["main_thread_post"]


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
