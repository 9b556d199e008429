"""The calibration panel: how the expert paints against known truth, and hints.

A view of the session's ``calibration_feedback`` events
(:meth:`galseg.annotate.Calibration.feedback`): the expert's IoU per class on
the calibration cutouts beside the others', and for a class they paint well
below the others a hint whose example (a simulated cutout that is not in the
queue) opens with its truth in a viewer of its own.
"""

from __future__ import annotations

from qtpy.QtWidgets import QGroupBox, QLabel, QPushButton, QVBoxLayout

from galseg.annotate import AnnotationSession, Feedback, Hint

from ._layers import cutout_layers, mask_layer
from ._notify import notify_info


class CalibrationPanel(QGroupBox):
    """Calibration feedback of an :class:`~galseg.annotate.AnnotationSession`.

    Parameters
    ----------
    session : AnnotationSession
        A session with calibration cutouts in its queue.
    """

    def __init__(self, session: AnnotationSession) -> None:
        super().__init__("Calibration")
        self.session = session
        self.hint: Hint | None = None
        self.example_viewer = None
        layout = QVBoxLayout(self)
        self.skill_label = QLabel(
            "Some cutouts of the queue have a known truth, kept hidden; how you paint them "
            "shows here."
        )
        self.skill_label.setWordWrap(True)
        self.hint_label = QLabel("")
        self.hint_label.setWordWrap(True)
        self.example_button = QPushButton("Show example")
        self.example_button.setToolTip("A simulated cutout, not in your queue, with its truth")
        self.example_button.clicked.connect(self.show_example)
        for widget in (self.skill_label, self.hint_label, self.example_button):
            layout.addWidget(widget)
        self.hint_label.setVisible(False)
        self.example_button.setVisible(False)
        session.events.calibration_feedback.connect(self._on_feedback)

    def _on_feedback(self, feedback: Feedback, new_hints: list[Hint]) -> None:
        self.skill_label.setText(feedback.text())
        if not new_hints:
            return
        self.hint = new_hints[0]
        self.hint_label.setText("Hint — " + " ".join(h.message for h in new_hints))
        self.hint_label.setVisible(True)
        self.example_button.setVisible(self.hint.example is not None)
        notify_info(f"Calibration hint: {self.hint.message}")

    def show_example(self):
        """Open the hint's example cutout with its truth in a new viewer; returns the viewer."""
        import napari

        hint = self.hint
        if hint is None or hint.example is None:
            return None
        if self.example_viewer is not None:
            self.example_viewer.close()
        viewer = napari.Viewer(title=f"galseg hint: {hint.name.replace('_', ' ')} with its truth")
        for data, kwargs, _kind in cutout_layers(hint.example):
            viewer.add_image(data, **kwargs)
        data, kwargs, _ = mask_layer(hint.truth, "truth", self.session.store.taxonomy, opacity=0.5)
        viewer.add_labels(data, **kwargs).editable = False
        self.example_viewer = viewer
        return viewer

    def close_example(self) -> None:
        """Close the example's viewer, if open."""
        if self.example_viewer is not None:
            self.example_viewer.close()
            self.example_viewer = None
