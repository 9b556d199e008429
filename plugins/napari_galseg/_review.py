"""The review panel: other annotators' masks and their consensus as read-only layers.

On each cutout the session's :meth:`~galseg.annotate.AnnotationSession.review_masks`
become Labels layers named ``review: NAME``, hidden until the expert shows
them, below the expert's own mask. "Copy into my mask" makes the chosen one
the expert's own, as a new revision
(:meth:`~galseg.annotate.AnnotationSession.copy_from`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qtpy.QtWidgets import QComboBox, QGroupBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout

from galseg.annotate import AnnotationSession

from ._layers import mask_layer
from ._notify import notify_error

if TYPE_CHECKING:
    import napari

REVIEW_PREFIX = "review: "


class ReviewPanel(QGroupBox):
    """Review layers of the open cutout, and the action that copies one.

    Parameters
    ----------
    viewer : napari.Viewer
        Where the layers go.
    session : AnnotationSession
        The session whose open cutout is reviewed.
    below : callable
        Returns the layer the review layers stay below (the expert's mask).
    """

    def __init__(self, viewer: napari.Viewer, session: AnnotationSession, below) -> None:
        super().__init__("Review")
        self.viewer, self.session, self._below = viewer, session, below
        self.layers: dict[str, object] = {}
        layout = QVBoxLayout(self)
        self.summary_label = QLabel("")
        self.summary_label.setWordWrap(True)
        layout.addWidget(self.summary_label)
        row = QHBoxLayout()
        self.choice = QComboBox()
        self.copy_button = QPushButton("Copy into my mask")
        self.copy_button.setToolTip("Replace your mask by the chosen one, as a new revision")
        self.copy_button.clicked.connect(lambda: self.copy(self.choice.currentText()))
        row.addWidget(self.choice)
        row.addWidget(self.copy_button)
        layout.addLayout(row)

    def refresh(self) -> None:
        """Show the open cutout's review masks (hidden layers), dropping those of the last one."""
        masks = self.session.review_masks()
        for name in [n for n in self.layers if n not in masks]:
            self.viewer.layers.remove(self.layers.pop(name))
        taxonomy = self.session.store.taxonomy
        for name, mask in masks.items():
            if name in self.layers:
                self.layers[name].data = mask
                continue
            data, kwargs, _ = mask_layer(mask, REVIEW_PREFIX + name, taxonomy, opacity=0.5)
            layer = self.viewer.add_labels(data, visible=False, **kwargs)
            layer.editable = False
            layers = self.viewer.layers
            below = self._below()
            if below is not None:
                layers.move(layers.index(layer), layers.index(below))
                layers.selection.active = below  # keep painting
            self.layers[name] = layer
        self.choice.clear()
        self.choice.addItems(list(masks))
        self.copy_button.setEnabled(bool(masks))
        self.summary_label.setText(
            f"Hidden layers to compare: {', '.join(masks)}" if masks else "No one else's mask yet."
        )

    def copy(self, name: str) -> bool:
        """Copy the review mask ``name`` into the expert's mask."""
        if not self.session.copy_from(name):
            notify_error(f"could not copy the mask of {name}")
            return False
        self.refresh()  # the consensus includes the expert's own mask
        return True
