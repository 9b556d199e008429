"""Assist mode: each brush stroke completed into the whole feature, as a preview.

The panel turns the expert's strokes into :class:`galseg.assist.Request`\\ s,
runs the model in napari worker threads through a
:class:`galseg.assist.ModelRunner` (the encoder as soon as a cutout opens,
one completion per stroke, superseded ones dropped), and shows each answer in
a preview layer: a translucent fill with an outline in the class colour.
``Enter`` merges the preview into the mask (saved with provenance
``assisted``), ``Escape`` drops it; the threshold slider redraws it from the
stored probabilities without running the model again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
import contextlib
from dataclasses import dataclass
from functools import partial
from pathlib import Path
import time
from typing import TYPE_CHECKING, Any

from napari.qt.threading import create_worker
from napari.utils.colormaps import DirectLabelColormap
import numpy as np
from qtpy.QtCore import Qt, QTimer, Signal
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

from galseg.assist import AssistSession, ModelRunner, Request, brush_footprint, stroke_pixels
from galseg.errors import GalsegError

from ._models import import_model
from ._notify import notify_error, notify_info

if TYPE_CHECKING:
    from ._annotator import AnnotatorWidget

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
    """The assist controls and state of an :class:`AnnotatorWidget`.

    Parameters
    ----------
    host : AnnotatorWidget
        The annotator it completes strokes for.
    models : mapping of str to callable
        The assistants to choose from, by name: ``load() -> model`` (a
        :class:`galseg.model.Assistant`, a
        :class:`galseg.model.SamAssistant` or anything with ``set_image`` and
        ``complete``), run in a worker. The first is loaded at once; none
        leaves assist mode off.
    """

    retrain_progress = Signal(int, int)

    def __init__(self, host: AnnotatorWidget, models: Mapping[str, Callable[[], Any]]) -> None:
        super().__init__("Assist (Enter accepts, Escape rejects)")
        self.host = host
        self.models = dict(models)
        self.retrained: Path | None = None  # the last checkpoint "retrain" wrote
        self.runner: ModelRunner | None = None
        self.model: Any = None
        self._model_name = "no model"
        self.session: AssistSession | None = None
        self.preview_layer = None
        self.latencies: list[float] = []  # stroke release -> preview shown, seconds
        self._base: np.ndarray | None = None  # the mask as of the last stroke
        self._released: dict[int, float] = {}  # request generation -> release time
        self._latest: Request | None = None  # the one request whose answer is wanted
        self._workers: set = set()
        self._progress_bar = None
        self._build()
        self.retrain_progress.connect(self._on_retrain_progress)
        if self.models:
            self.load_model(next(iter(self.models.values())))

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        form = QFormLayout(self)
        self.enabled_check = QCheckBox("Complete my strokes")
        self.enabled_check.setEnabled(False)
        self.enabled_check.toggled.connect(self._on_enabled)
        form.addRow(self.enabled_check)
        self.model_combo = QComboBox()
        self.model_combo.addItems(list(self.models))
        self.model_combo.setVisible(len(self.models) > 1)
        self.model_combo.textActivated.connect(lambda name: self.load_model(self.models[name]))
        form.addRow(self.model_combo)
        self.model_label = QLabel("no model")
        self.model_label.setWordWrap(True)
        form.addRow("Model", self.model_label)
        self.timing_label = QLabel("")
        form.addRow("", self.timing_label)
        self.threshold_slider = QSlider(Qt.Orientation.Horizontal)
        self.threshold_slider.setRange(5, 95)
        self.threshold_slider.setValue(50)
        self.threshold_slider.setToolTip("Probability above which a pixel joins the preview")
        self.threshold_slider.valueChanged.connect(self._redraw)
        form.addRow("Threshold", self.threshold_slider)
        self.overwrite_check = QCheckBox("Accept over other classes too")
        form.addRow(self.overwrite_check)
        buttons = QHBoxLayout()
        self.accept_button = QPushButton("Accept ⏎")
        self.accept_button.clicked.connect(self.accept)
        self.reject_button = QPushButton("Reject ⎋")
        self.reject_button.clicked.connect(self.reject)
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
        self.use_retrained_button.clicked.connect(lambda: self.use_checkpoint(self.retrained))
        retrain.addWidget(self.retrain_button)
        retrain.addWidget(self.use_retrained_button)
        form.addRow(retrain)
        self.load_button.setEnabled(bool(self.models))
        self.retrain_button.setEnabled(bool(self.models))
        self._update_buttons()

    @property
    def threshold(self) -> float:
        """Probability above which a pixel is in the preview."""
        return self.threshold_slider.value() / 100

    @property
    def enabled(self) -> bool:
        """Whether strokes are completed (a model is loaded and the box is ticked)."""
        return self.runner is not None and self.enabled_check.isChecked()

    # ------------------------------------------------------------------- model
    def load_model(self, load: Callable[[], Any]) -> None:
        """Load a model in a worker, then use it (the current cutout is encoded at once)."""
        self.model_label.setText("loading…")
        self._start(
            load,
            progress="galseg: loading the model",
            returned=self._use_model,
            failed=self._on_model_error,
        )

    def use_checkpoint(self, path: str | Path) -> None:
        """Switch to a galseg checkpoint (e.g. one ``galseg finetune`` wrote)."""
        self.load_model(partial(_load_checkpoint, Path(path)))

    def _ask_checkpoint(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "galseg checkpoint", "", "galseg checkpoints (*.safetensors)"
        )
        if path:
            self.use_checkpoint(path)

    def _use_model(self, model: Any) -> None:
        self.runner = ModelRunner(model)
        self.model = model
        path = getattr(model, "checkpoint_path", None)
        name = Path(path).name if path else type(model).__name__
        device = str(getattr(model, "device", "cpu"))
        self._model_name = f"{name} ({'CUDA' if device.startswith('cuda') else 'CPU'})"
        self.model_label.setText(self._model_name)
        self.model_label.setToolTip(repr(model))
        if not self.enabled_check.isEnabled():  # the first model: assist on by default
            self.enabled_check.setEnabled(True)
            self.enabled_check.setChecked(True)
        self.reject()
        self.cutout_opened()

    def _on_model_error(self, message: str) -> None:
        self.model_label.setText(self._model_name)  # the model in use, if any, stays
        notify_error(f"could not load the model: {message}")

    def _on_enabled(self, on: bool) -> None:
        if not on:
            self.reject()

    # ----------------------------------------------------------------- cutouts
    def cutout_opened(self) -> None:
        """A cutout is on screen: start afresh and encode it in the background."""
        opened, layer = self.host.opened, self.host.mask_layer
        self._latest = None
        if opened is None or layer is None:
            self.session, self._base = None, None
            self._show_preview(None)
            return
        self.session = AssistSession(opened.cutout.image_shape)
        self._base = np.array(layer.data, copy=True)
        self._show_preview(None)
        if self.runner is not None:
            self._start(
                self.runner.encode,
                opened.cutout,
                progress="galseg: encoding the cutout",
                failed=self._on_completion_error,
            )

    # ----------------------------------------------------------------- strokes
    def stroke_finished(self, erased: np.ndarray | None = None) -> Request | None:
        """Complete the strokes made since the last call (what mouse release calls).

        The stroke is what changed in the mask layer since the previous call:
        pixels painted with the selected class are positive (a class other
        than the feature's starts a new feature); without any, pixels that
        lost the feature's class are negative. ``erased`` adds pixels an
        eraser passed over (erasing unlabelled pixels changes no data).

        Returns
        -------
        Request or None
            The completion asked for, or None (assist off, nothing to complete).
        """
        layer, session = self.host.mask_layer, self.session
        if layer is None or session is None or self._base is None:
            return None
        now = np.array(layer.data, copy=True)
        positive, negative = stroke_pixels(self._base, now, int(layer.selected_label))
        if not positive.any() and session.label is not None:  # an eraser stroke on the feature
            negative = stroke_pixels(self._base, now, session.label)[1]
        self._base = now
        if erased is not None:
            negative |= erased
        if not self.enabled:
            return None
        request = session.stroke(positive, negative, int(layer.selected_label))
        if request is None:
            return None
        self._released[request.generation] = time.perf_counter()
        self._latest = request
        self._start(
            self.runner.complete,
            self.host.opened.cutout,
            request,
            self._is_current,
            returned=self._on_completion,
            failed=self._on_completion_error,
        )
        return request

    def _is_current(self, request: Request) -> bool:
        """Whether ``request`` is still wanted (called from the model's worker thread too)."""
        return request is self._latest

    def _on_completion(self, result) -> None:
        if result is None or self.session is None:
            return
        request, probability, seconds = result
        if not self._is_current(request) or not self.session.receive(request, probability, seconds):
            return  # a later stroke superseded it
        self._redraw()
        released = self._released.pop(request.generation, None)
        self._released = {g: t for g, t in self._released.items() if g > request.generation}
        if released is not None:
            latency = time.perf_counter() - released
            self.latencies.append(latency)
            self.timing_label.setText(
                f"last completion {1e3 * seconds:.0f} ms (stroke to preview {1e3 * latency:.0f} ms)"
            )

    def _on_completion_error(self, message: str) -> None:
        notify_error(f"the model failed: {message}")

    # ----------------------------------------------------------------- preview
    @property
    def preview(self) -> np.ndarray | None:
        """The preview mask at the current threshold, or None."""
        if self.session is None:
            return None
        return self.session.preview_mask(self.threshold)

    def _redraw(self, *_args) -> None:
        preview = self.preview
        self._show_preview(
            None if preview is None else preview_data(preview, self.session.preview.label)
        )

    def _show_preview(self, data: np.ndarray | None) -> None:
        viewer = self.host.viewer
        if data is None:
            if self.preview_layer is not None:  # emptied in the shape of the cutout on screen
                shape = self.session.shape if self.session else self.preview_layer.data.shape
                self.preview_layer.data = np.zeros(shape, dtype=np.uint16)
                self.preview_layer.visible = False
            self._update_buttons()
            return
        if self.preview_layer is None:
            colours = {c.value: c.colour for c in self.host.queue.store.taxonomy.feature_classes}
            self.preview_layer = viewer.add_labels(
                data, name=PREVIEW_LAYER_NAME, colormap=preview_colormap(colours), opacity=1.0
            )
            self.preview_layer.editable = False
            layers = viewer.layers  # below the mask: the expert's strokes stay on top
            layers.move(layers.index(self.preview_layer), layers.index(self.host.mask_layer))
            layers.selection.active = self.host.mask_layer  # keep painting
        else:
            self.preview_layer.data = data
        self.preview_layer.visible = True
        self._update_buttons()

    def _update_buttons(self) -> None:
        has_preview = self.preview is not None
        self.accept_button.setEnabled(has_preview)
        self.reject_button.setEnabled(has_preview)

    def accept(self) -> bool:
        """Merge the preview into the mask and save it with provenance ``assisted``.

        Only unlabelled pixels take the preview unless "accept over other
        classes" is ticked. One undo step takes the merge back.

        Returns
        -------
        bool
            False if there was no preview, or the mask could not be saved
            (then it stays on screen and the autosaver saves it as painted).
        """
        session, layer = self.session, self.host.mask_layer
        if session is None or session.preview is None or layer is None:
            return False
        label, probability = session.preview.label, session.preview.probability
        merged = session.accept(
            np.asarray(layer.data), self.threshold, overwrite=self.overwrite_check.isChecked()
        )
        self._latest = None
        self._show_preview(None)
        taken = merged == label
        metadata = {
            "model": self._model_name,
            "label": int(label),
            "threshold": self.threshold,
            "mean_probability": float(probability[taken].mean()) if taken.any() else 0.0,
        }
        saved = self.host.commit_mask(merged, provenance="assisted", metadata=metadata)
        self._base = np.array(layer.data, copy=True)
        return saved

    def reject(self) -> None:
        """Drop the preview (the strokes stay in the mask as painted)."""
        self._latest = None
        if self.session is not None:
            self.session.reset()
        self._show_preview(None)

    # ------------------------------------------------------------------- keys
    def on_enter(self, layer) -> None:
        """Enter on the mask layer: accept the preview (napari's in polygon mode)."""
        if str(layer.mode) == "polygon" or self.preview is None:
            _napari_key_action("complete_polygon", layer)
        else:
            self.accept()

    def on_escape(self, layer) -> None:
        """Escape on the mask layer: reject the preview (napari's in polygon mode)."""
        if str(layer.mode) == "polygon" or self.preview is None:
            _napari_key_action("reset_polygon", layer)
        else:
            self.reject()

    # ----------------------------------------------------------------- mouse
    def on_drag(self, layer, event):
        """Mouse drag callback of the mask layer: a stroke starts at press, ends at release.

        It runs before napari's own painting callback (it is registered
        first), so the mask taken at press is the one before the stroke.
        """
        mode = str(layer.mode)
        if mode not in ("paint", "erase", "fill"):
            return
        if self.session is not None:  # what the stroke changes, whatever undo did before it
            self._base = np.array(layer.data, copy=True)
        points = [layer.world_to_data(event.position)[-2:]]
        size = layer.brush_size
        yield
        while event.type == "mouse_move":
            points.append(layer.world_to_data(event.position)[-2:])
            yield
        erased = None
        if mode == "erase":
            erased = brush_footprint(points, size, np.shape(layer.data)[-2:])
        QTimer.singleShot(0, partial(self.stroke_finished, erased))  # after napari's own release

    # ----------------------------------------------------------------- retrain
    def retrain(self, steps: int = 300, out: str | Path | None = None, holdout: float = 0.2):
        """Fine-tune the galseg model on the store's masks in a worker (``galseg finetune``).

        Starts from the galseg checkpoint in use (the shipped one if SAM is
        in use); writes ``out`` (default: ``galseg-models/STORE-finetuned-TIME.safetensors``
        beside the store), holding back the ``holdout`` fraction of cutouts to
        score it (:func:`galseg.model.held_back`). When it is done, the
        held-back score before and after is shown and, if the retrained model
        scores better (else it is not written), "Use retrained model"
        switches to it.

        Returns
        -------
        worker or None
            The napari worker (None if the mask could not be saved first).
        """
        galseg_model = import_model()
        if not self.host.flush():
            return None
        store = self.host.queue.store.path
        start = galseg_model.SHIPPED_CHECKPOINT
        if isinstance(self.model, galseg_model.Assistant):
            start = self.model.checkpoint_path
        if out is None:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            out = store.parent / "galseg-models" / f"{store.stem}-finetuned-{stamp}.safetensors"
        out = Path(out)
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            notify_error(f"could not retrain: {out.parent}: {exc.strerror or exc}")
            return None
        self.retrain_button.setEnabled(False)
        return self._start(
            partial(
                galseg_model.finetune,
                steps=steps,
                holdout=holdout,
                progress=self.retrain_progress.emit,
            ),
            store,
            start,
            out,
            returned=self._on_retrained,
            failed=self._on_retrain_error,
        )

    def _on_retrain_progress(self, done: int, total: int) -> None:
        from napari.utils import progress

        if self._progress_bar is None or self._progress_bar.total != total:
            if self._progress_bar is not None:
                self._progress_bar.close()
            self._progress_bar = progress(total=total, desc="galseg: retraining on your masks")
        self._progress_bar.n = done
        self._progress_bar.refresh()

    def _close_progress(self) -> None:
        if self._progress_bar is not None:
            self._progress_bar.close()
            self._progress_bar = None
        self.retrain_button.setEnabled(True)

    def _on_retrained(self, report) -> None:
        self._close_progress()
        scores = (
            f"retrained on {report.n_train} masks: held-back score ({report.n_held_back} "
            f"cutouts, mean IoU after {report.strokes} strokes) {report.score_before:.3f} -> "
            f"{report.score_after:.3f}."
        )
        if not report.written:  # no better: finetune kept the model in use
            notify_info(f"{scores} Kept {report.start.name}, which scores as well or better.")
            return
        self.retrained = report.checkpoint
        self.use_retrained_button.setEnabled(True)
        notify_info(f"{scores} 'Use retrained model' switches to {report.checkpoint.name}.")

    def _on_retrain_error(self, message: str) -> None:
        self._close_progress()
        notify_error(f"could not retrain: {message}")

    # ----------------------------------------------------------------- workers
    def _start(
        self,
        func: Callable,
        *args: Any,
        progress: str | None = None,
        returned: Callable[[Any], None] | None = None,
        failed: Callable[[str], None],
    ):
        """Run ``func(*args)`` in a napari worker; keep a reference until it finishes.

        ``returned(result)`` gets its result on this thread; an exception
        becomes ``failed(message)``, one line (galseg's errors name the file),
        never a traceback. ``progress`` names napari's activity indicator.
        """
        worker = create_worker(
            _guarded,
            func,
            *args,
            _progress=None if progress is None else {"total": 0, "desc": progress},
        )
        self._workers.add(worker)

        def done(result: Any) -> None:
            if isinstance(result, _Failure):
                failed(result.message)
            elif returned is not None:
                returned(result)

        worker.returned.connect(done)
        worker.finished.connect(lambda w=worker: self._workers.discard(w))
        worker.start()
        return worker

    def shutdown(self) -> None:
        """Stop listening to model workers still running (the viewer is closing).

        A worker cannot be interrupted mid-call; its answer is just ignored.
        Calling it again is harmless.
        """
        for worker in list(self._workers):
            with contextlib.suppress(TypeError, RuntimeError):  # nothing connected
                worker.returned.disconnect()
        with contextlib.suppress(TypeError, RuntimeError):  # shut down already
            self.retrain_progress.disconnect()
        if self._progress_bar is not None:
            self._progress_bar.close()
            self._progress_bar = None
        self.runner = self.model = self.session = None

    @property
    def busy(self) -> bool:
        """Whether a model call is under way (loading, encoding or completing)."""
        return bool(self._workers)


@dataclass(frozen=True)
class _Failure:
    """What a worker returns instead of raising (see :meth:`AssistPanel._start`)."""

    message: str


def _guarded(func: Callable, *args: Any) -> Any:
    """``func(*args)``, or a :class:`_Failure` with the error in one line."""
    try:
        return func(*args)
    except GalsegError as exc:
        return _Failure(str(exc))
    except Exception as exc:  # a worker must not raise: napari would show a traceback
        return _Failure(f"{type(exc).__name__}: {exc}")


def _napari_key_action(name: str, layer) -> None:
    """Run napari's own Labels key action ``name`` (what the key does without assist)."""
    from napari.layers.labels import _labels_key_bindings

    getattr(_labels_key_bindings, name)(layer)


def _load_checkpoint(path: Path):
    return import_model().load_assistant(path)
