"""The "galseg annotator" entry of napari's Plugins menu: pick cutouts and a store."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from qtpy.QtWidgets import QFileDialog, QLabel, QPushButton, QVBoxLayout, QWidget

from galseg.errors import GalsegError

from ._launch import launch

if TYPE_CHECKING:
    import napari


class AnnotatorOpener(QWidget):
    """Asks for a folder of cutouts and a mask store, then docks the annotator."""

    def __init__(self, napari_viewer: napari.Viewer):
        super().__init__()
        self.viewer = napari_viewer
        self.annotator_widget = None
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Annotate a folder of FITS cutouts,\nsaving masks into a store."))
        button = QPushButton("Open cutouts…")
        button.clicked.connect(self._ask_and_open)
        layout.addWidget(button)
        layout.addStretch(1)

    def _ask_and_open(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of FITS cutouts")
        if not folder:
            return
        store, _ = QFileDialog.getSaveFileName(
            self, "Mask store (new or existing)", str(Path(folder) / "masks.zarr")
        )
        if store:
            self.open(folder, store)

    def open(self, folder: str | Path, store: str | Path) -> None:
        """Dock the annotator on ``folder``'s cutouts, saving into ``store``."""
        try:
            self.annotator_widget = launch([folder], store, viewer=self.viewer, ask_annotator=True)
        except GalsegError as exc:
            from napari.utils.notifications import show_error

            show_error(str(exc))
