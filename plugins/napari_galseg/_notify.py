"""Messages to the user through napari's notifications (never a traceback)."""

from __future__ import annotations

__all__ = ["notify_error", "notify_info"]


def notify_error(message: str) -> None:
    """Show an error message in the viewer."""
    from napari.utils.notifications import show_error

    show_error(message)


def notify_info(message: str) -> None:
    """Show an information message in the viewer."""
    from napari.utils.notifications import show_info

    show_info(message)
