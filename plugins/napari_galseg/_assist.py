"""The assist panel: controls of a session's stroke completion, and how a preview is drawn.

The panel shows the model in use and the last timing, and hands the
expert's choices to the :class:`galseg.annotate.AnnotationSession`: assist
on or off, the threshold, accepting or rejecting, another checkpoint,
retraining. It holds no state of its own; the annotator widget draws the
preview (:func:`preview_data`, :func:`preview_colormap`).
"""

from __future__ import annotations

from typing import Any

from napari.utils.colormaps import DirectLabelColormap
import numpy as np
from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
)
from scipy import ndimage

from galseg.annotate import AnnotationSession, RetrainRun
from galseg.errors import GalsegError

from ._notify import notify_error, notify_info
from ._progress import ProgressBar

PREVIEW_LAYER_NAME = "assist preview"
OUTLINE = 100
"""Preview pixels on the outline of class ``v`` hold ``v + OUTLINE`` (drawn opaque)."""
FILL_ALPHA = 0.35


def preview_colormap(colours: dict[int, str]) -> DirectLabelColormap:
    """Class colours, translucent for the fill and opaque for the outline."""
    from napari.utils.colormaps.standardize_color import transform_color

    mapping: dict[int | None, Any] = {None: (0.0, 0.0, 0.0, 0.0), 0: (0.0, 0.0, 0.0, 0.0)}
    for value, colour in colours.items():
        rgba = transform_color(colour)[0]
        mapping[value] = (*rgba[:3], FILL_ALPHA)
        mapping[value + OUTLINE] = (*rgba[:3], 1.0)
    return DirectLabelColormap(color_dict=mapping)


def preview_data(mask: np.ndarray, label: int) -> np.ndarray:
    """Labels for the preview layer: ``label`` inside, ``label + OUTLINE`` on the outline."""
    edge = mask & ~ndimage.binary_erosion(mask, border_value=0)
    return np.where(edge, label + OUTLINE, np.where(mask, label, 0)).astype(np.uint16)


class AssistPanel(QGroupBox):
    """Assist controls over an :class:`~galseg.annotate.AnnotationSession`.

    Parameters
    ----------
    session : AnnotationSession
        The session whose strokes are completed.
    """

    def __init__(self, session: AnnotationSession) -> None:
        super().__init__("Assist (Enter accepts, Escape rejects)")
        self.session = session
        self._progress_bar = ProgressBar("galseg: retraining on your masks")
        self._build()
        events = session.events
        events.model_changed.connect(self._on_model_changed)
        events.preview_changed.connect(self._on_preview_changed)
        events.busy_changed.connect(lambda _busy: self._on_model_changed())
        events.retrain_progress.connect(self._on_retrain_progress)
        events.retrained.connect(self._on_retrained)
        events.retrain_offered.connect(self._on_retrain_offered)
        self._on_model_changed()

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        session = self.session
        form = QFormLayout(self)
        self.enabled_check = QCheckBox("Complete my strokes")
        self.enabled_check.setChecked(session.assist_enabled)
        self.enabled_check.toggled.connect(session.set_assist)
        form.addRow(self.enabled_check)
        self.model_combo = QComboBox()
        self.model_combo.addItems(list(session.models))
        self.model_combo.setVisible(len(session.models) > 1)
        self.model_combo.textActivated.connect(
            lambda name: session.load_model(session.models[name], name)
        )
        form.addRow(self.model_combo)
        self.model_label = QLabel("no model")
        self.model_label.setWordWrap(True)
        form.addRow("Model", self.model_label)
        self.timing_label = QLabel("")
        form.addRow("", self.timing_label)
        self.threshold_slider = QSlider(Qt.Orientation.Horizontal)
        self.threshold_slider.setRange(5, 95)
        self.threshold_slider.setValue(round(100 * session.threshold))
        self.threshold_slider.setToolTip("Probability above which a pixel joins the preview")
        self.threshold_slider.valueChanged.connect(lambda v: session.set_threshold(v / 100))
        form.addRow("Threshold", self.threshold_slider)
        self.overwrite_check = QCheckBox("Accept over other classes too")
        self.overwrite_check.toggled.connect(lambda on: setattr(session, "overwrite", on))
        form.addRow(self.overwrite_check)
        buttons = QHBoxLayout()
        self.accept_button = QPushButton("Accept ⏎")
        self.accept_button.clicked.connect(session.accept)
        self.reject_button = QPushButton("Reject ⎋")
        self.reject_button.clicked.connect(session.reject)
        buttons.addWidget(self.accept_button)
        buttons.addWidget(self.reject_button)
        form.addRow(buttons)
        self.load_button = QPushButton("Load checkpoint…")
        self.load_button.setToolTip("A galseg checkpoint (.safetensors), e.g. from galseg finetune")
        self.load_button.clicked.connect(self._ask_checkpoint)
        form.addRow(self.load_button)
        retrain = QHBoxLayout()
        self.retrain_button = QPushButton("Retrain on my masks")
        self.retrain_button.setToolTip(
            "Fine-tune the galseg model on this store's masks (galseg finetune), in the background"
        )
        self.retrain_button.clicked.connect(lambda: self.retrain())
        self.use_retrained_button = QPushButton("Use retrained model")
        self.use_retrained_button.setEnabled(False)
        self.use_retrained_button.clicked.connect(
            lambda: session.use_checkpoint(session.retrain_run.checkpoint)
        )
        retrain.addWidget(self.retrain_button)
        retrain.addWidget(self.use_retrained_button)
        form.addRow(retrain)
        self.offer_label = QLabel("")
        self.offer_label.setWordWrap(True)
        self.rerank_button = QPushButton("Retrain and re-rank")
        self.rerank_button.setToolTip(
            "Fine-tune on the store's masks in the background; if the new model scores better "
            "on the held-back cutouts, use it and rank the queue again with it"
        )
        self.rerank_button.clicked.connect(lambda: self.retrain(rerank=True))
        form.addRow(self.offer_label)
        form.addRow(self.rerank_button)
        self.offer_label.setVisible(False)
        self.rerank_button.setVisible(False)
        self.load_button.setEnabled(bool(session.models))
        self.retrain_button.setEnabled(bool(session.models))
        self._on_preview_changed()

    # ------------------------------------------------------------------ state
    @property
    def enabled(self) -> bool:
        """Whether strokes are completed (a model is loaded and assist is on)."""
        return self.session.assist_enabled and self.session.model_state == "ready"

    @property
    def busy(self) -> bool:
        """Whether the model is loading, encoding or completing."""
        return self.session.busy

    @property
    def preview(self) -> np.ndarray | None:
        """The preview mask at the current threshold, or None."""
        return self.session.preview

    @property
    def retrained(self):
        """The checkpoint the last successful retraining wrote, or None."""
        run = self.session.retrain_run
        written = run is not None and run.report is not None and run.report.written
        return run.checkpoint if written else None

    def _on_model_changed(self) -> None:
        session = self.session
        text = {"loading": "loading…", "off": "no model", "failed": "could not load"}.get(
            session.model_state, session.model_name
        )
        if session.model_state == "ready" and session.busy:
            text += " (busy)"
        self.model_label.setText(text)
        self.enabled_check.setEnabled(session.model_state in ("loading", "ready"))

    def _on_preview_changed(self) -> None:
        has_preview = self.session.preview is not None
        self.accept_button.setEnabled(has_preview)
        self.reject_button.setEnabled(has_preview)
        preview = self.session.assist.preview if self.session.assist else None
        if has_preview and self.session.latencies and preview is not None:
            self.timing_label.setText(
                f"last completion {1e3 * preview.seconds:.0f} ms "
                f"(stroke to preview {1e3 * self.session.latencies[-1]:.0f} ms)"
            )

    def _ask_checkpoint(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "galseg checkpoint", "", "galseg checkpoints (*.safetensors)"
        )
        if path:
            self.session.use_checkpoint(path)

    # ---------------------------------------------------------------- retrain
    def retrain(
        self, steps: int = 300, out=None, holdout: float = 0.2, *, rerank: bool = False
    ) -> RetrainRun | None:
        """Start retraining on the store's masks (see :meth:`AnnotationSession.retrain`)."""
        try:
            run = self.session.retrain(steps, out, holdout, rerank=rerank)
        except GalsegError as exc:
            notify_error(f"could not retrain: {exc}")
            return None
        if run is not None:
            self.retrain_button.setEnabled(False)
            self.offer_label.setVisible(False)
            self.rerank_button.setVisible(False)
        return run

    def _on_retrain_offered(self, n_new: int) -> None:
        """Masks of ``n_new`` new cutouts: offer to retrain on them and re-rank the queue."""
        if self.session.retrain_run is not None and not self.session.retrain_run.done.is_set():
            return  # one is under way
        self.offer_label.setText(
            f"You painted {n_new} new masks this session: retrain the model on them and "
            "rank the queue again with it?"
        )
        self.offer_label.setVisible(True)
        self.rerank_button.setVisible(True)
        notify_info(f"{n_new} new masks: 'Retrain and re-rank' in the Assist panel.")

    def _on_retrain_progress(self, done: int, total: int) -> None:
        self._progress_bar.update(done, total)

    def _on_retrained(self, run: RetrainRun) -> None:
        self._progress_bar.close()
        self.retrain_button.setEnabled(True)
        if run.report is None:
            return  # the session reported the error
        report = run.report
        scores = (
            f"retrained on {report.n_train} masks: held-back score ({report.n_held_back} "
            f"cutouts, mean IoU after {report.strokes} strokes) {report.score_before:.3f} -> "
            f"{report.score_after:.3f}."
        )
        if not report.written:  # no better: finetune kept the model in use
            notify_info(f"{scores} Kept {report.start.name}, which scores as well or better.")
            return
        if run.rerank:
            notify_info(f"{scores} Using {report.checkpoint.name}; ranking the queue again.")
            return
        self.use_retrained_button.setEnabled(True)
        notify_info(f"{scores} 'Use retrained model' switches to {report.checkpoint.name}.")
