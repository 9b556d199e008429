"""A napari progress bar fed by a session's ``(done, total)`` events."""

from __future__ import annotations


class ProgressBar:
    """Shows background work of the session in napari's activity dock.

    Parameters
    ----------
    description : str
        What the bar says is under way.

    Examples
    --------
    >>> bar = ProgressBar("galseg: scoring the queue")  # doctest: +SKIP
    >>> bar.update(3, 10); bar.close()  # doctest: +SKIP
    """

    def __init__(self, description: str) -> None:
        self.description = description
        self._bar = None

    @property
    def shown(self) -> bool:
        """Whether the bar is on screen."""
        return self._bar is not None

    def update(self, done: int, total: int) -> None:
        """Show ``done`` of ``total`` (a new bar if the total changed); closes when done."""
        from napari.utils import progress

        if self._bar is None or self._bar.total != total:
            self.close()
            self._bar = progress(total=total, desc=self.description)
        self._bar.n = done
        self._bar.refresh()

    def close(self) -> None:
        """Take the bar away (harmless when none is shown)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
