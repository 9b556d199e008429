"""The annotator dock widget: a view of an :class:`~galseg.annotate.AnnotationSession`.

The widget shows the session's cutout (colour composite or bands, stretched
and smoothed in a thread by :class:`galseg.display.Renderer`, as pyramids
when large), its mask in a Labels layer that shares the session's array, and
the assist preview. Buttons and keys open cutouts in the background; the
methods scripts call (:meth:`AnnotatorWidget.next`, ...) wait for the cutout
and its display with the event loop running, so the UI never freezes.

It hands the layer's ``paint`` events, the mouse and the keys to the session,
and redraws what the session's events say changed. Saving, undo, assist and
retraining are the session's.
"""

from __future__ import annotations

import contextlib
from dataclasses import replace
import time
from typing import TYPE_CHECKING

import numpy as np
from qtpy.QtCore import QEvent, QObject, Qt, QTimer
from qtpy.QtGui import QColor, QIcon, QPixmap
from qtpy.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from galseg.annotate import AnnotationSession
from galseg.autosave import saved_ago
from galseg.display import DisplayImages, DisplaySettings, Renderer
from galseg.errors import GalsegError
from galseg.photometry import cursor_readout
from galseg.settings import Settings, save_settings
from galseg.smoothing import SMOOTHINGS
from galseg.store import FLAGS
from galseg.stretch import PRESETS

from ._assist import PREVIEW_LAYER_NAME, AssistPanel, preview_colormap, preview_data
from ._bindings import bind_mask_layer, edits_from_paint
from ._calibration import CalibrationPanel
from ._layers import band_colourmap, mask_layer
from ._main_thread import main_thread_post, wait_in_event_loop
from ._notify import notify_error, notify_info
from ._progress import ProgressBar
from ._review import ReviewPanel

if TYPE_CHECKING:
    import napari

MASK_LAYER_NAME = "mask"
_STATUS_PERIOD_MS = 500  # how often the save status and change detection run


class AnnotatorWidget(QWidget):
    """Dock widget: a napari view of an :class:`~galseg.annotate.AnnotationSession`.

    Parameters
    ----------
    viewer : napari.Viewer
        The viewer to paint in.
    session : AnnotationSession
        The session it shows; it should post its results to Qt's main thread
        (see :func:`napari_galseg._main_thread.main_thread_post`).
    settings : Settings
        Remembered user choices; updated and saved as the user changes them.
    """

    def __init__(self, viewer: napari.Viewer, session: AnnotationSession, settings: Settings):
        super().__init__()
        self.viewer = viewer
        self.session = session
        self.settings = settings
        self.mask_layer = None
        self.preview_layer = None
        self._image_layers: list = []
        self._scoring_bar = ProgressBar("galseg: scoring the queue")
        self._renderer = Renderer(main_thread_post())
        self._reset_view = True  # the next images shown are of a newly opened cutout
        self._build()
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._update_save_label)
        self._timer.start(_STATUS_PERIOD_MS)
        self._close_filter = _CloseFilter(self.close_session)
        self.destroyed.connect(self._forget_viewer_hooks(viewer))
        viewer.mouse_move_callbacks.append(self._on_mouse_move)
        viewer.bind_key("PageDown", lambda _: session.next(background=True), overwrite=True)
        viewer.bind_key("PageUp", lambda _: session.previous(background=True), overwrite=True)
        events = session.events
        events.opening.connect(self._on_opening)
        events.opened.connect(self._on_opened)
        events.mask_changed.connect(self._on_mask_changed)
        events.preview_changed.connect(self._draw_preview)
        events.label_changed.connect(self._on_label_changed)
        events.saved.connect(lambda _revision: self._update_queue_labels())
        events.error.connect(notify_error)
        events.model_changed.connect(self._update_rank_buttons)
        events.scoring_progress.connect(self._scoring_bar.update)
        events.scored.connect(lambda _scores: self._scoring_bar.close())
        self._on_opened()
        self._update_rank_buttons()

    @property
    def queue(self):
        """The session's queue of cutouts."""
        return self.session.queue

    @property
    def opened(self):
        """The open cutout (None if it could not be read)."""
        return self.session.opened

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        taxonomy = self.queue.store.taxonomy
        layout = QVBoxLayout(self)

        who = QFormLayout()
        self.annotator_edit = QLineEdit(self.session.annotator)
        self.annotator_edit.editingFinished.connect(self._on_annotator_edited)
        who.addRow("Annotator", self.annotator_edit)
        self.store_label = QLabel(str(self.queue.store.path))
        self.store_label.setWordWrap(True)
        who.addRow("Store", self.store_label)
        self.save_label = QLabel(saved_ago(None, time.time()))
        who.addRow("", self.save_label)
        layout.addLayout(who)

        keys = [c.value for c in taxonomy.feature_classes if c.value <= 9]
        classes = QGroupBox(f"Class (keys {keys[0]}-{keys[-1]})" if keys else "Class")
        class_layout = QVBoxLayout(classes)
        self.class_buttons = QButtonGroup(self)
        for cls in taxonomy.feature_classes:
            button = QPushButton(f"{cls.value}  {cls.name.replace('_', ' ')}")
            button.setCheckable(True)
            button.setIcon(_swatch(cls.colour))
            button.setToolTip(cls.description)
            self.class_buttons.addButton(button, cls.value)
            class_layout.addWidget(button)
        self.class_buttons.idClicked.connect(self.select_class)
        self.brush_slider = QSlider(Qt.Orientation.Horizontal)
        self.brush_slider.setRange(1, 80)
        self.brush_slider.setValue(10)
        self.brush_slider.valueChanged.connect(self._on_brush_size)
        brush = QFormLayout()
        brush.addRow("Brush size", self.brush_slider)
        class_layout.addLayout(brush)
        layout.addWidget(classes)
        self.assist = AssistPanel(self.session)
        layout.addWidget(self.assist)

        view = QGroupBox("Stretch")
        view_layout = QFormLayout(view)
        self.stretch_combo = QComboBox()
        self.stretch_combo.addItems(PRESETS)
        self.stretch_combo.setCurrentText(self.settings.stretch)
        self.stretch_combo.currentTextChanged.connect(self._on_stretch)
        view_layout.addRow("Preset", self.stretch_combo)
        self.softening_spin = QDoubleSpinBox()
        self.softening_spin.setRange(0.1, 10.0)
        self.softening_spin.setSingleStep(0.1)
        self.softening_spin.setValue(self.settings.softening)
        self.softening_spin.setPrefix("x ")
        self.softening_spin.setToolTip(
            "Softening of the asinh/log stretch, relative to the preset's"
        )
        self.softening_spin.valueChanged.connect(self._on_stretch)
        view_layout.addRow("Softening", self.softening_spin)
        self.smoothing_combo = QComboBox()
        self.smoothing_combo.addItems(SMOOTHINGS)
        self.smoothing_combo.setCurrentText(self.settings.smoothing)
        self.smoothing_combo.setToolTip(
            "Display only: a Gaussian (sigma in pixels) or a block average shows faint "
            "extended light above the per-pixel noise; painting, the read-out and the model "
            "keep the native pixels"
        )
        self.smoothing_combo.currentTextChanged.connect(self._on_stretch)
        view_layout.addRow("Smoothing", self.smoothing_combo)
        self.bands_check = QCheckBox("Show bands separately")
        self.bands_check.setChecked(self.settings.show_bands)
        self.bands_check.toggled.connect(self._on_view_mode)
        view_layout.addRow(self.bands_check)
        self.readout_band = QComboBox()
        self.readout_band.currentTextChanged.connect(lambda _: self._update_readout(None))
        view_layout.addRow("Read-out band", self.readout_band)
        self.readout_label = QLabel("")
        self.readout_label.setWordWrap(True)
        view_layout.addRow(self.readout_label)
        layout.addWidget(view)

        queue = QGroupBox("Queue")
        queue_layout = QVBoxLayout(queue)
        self.name_label = QLabel("")
        self.name_label.setWordWrap(True)
        queue_layout.addWidget(self.name_label)
        nav = QHBoxLayout()
        self.previous_button = QPushButton("◀ Previous")
        self.previous_button.setToolTip("Previous cutout (PageUp)")
        self.previous_button.clicked.connect(lambda: self.session.previous(background=True))
        self.next_button = QPushButton("Next ▶")
        self.next_button.setToolTip("Next cutout (PageDown)")
        self.next_button.clicked.connect(lambda: self.session.next(background=True))
        nav.addWidget(self.previous_button)
        nav.addWidget(self.next_button)
        queue_layout.addLayout(nav)
        self.unannotated_button = QPushButton("Next unannotated")
        self.unannotated_button.clicked.connect(lambda: self.next_unannotated(wait=False))
        queue_layout.addWidget(self.unannotated_button)
        ranked = QHBoxLayout()
        self.informative_button = QPushButton("Next most informative")
        self.informative_button.setToolTip(
            "The cutout not done yet that the model is least sure of (as galseg rank)"
        )
        self.informative_button.clicked.connect(self.next_most_informative)
        self.like_button = QPushButton("More like this")
        self.like_button.setToolTip(
            "The cutout not done yet nearest to this one in the model's embedding space"
        )
        self.like_button.clicked.connect(self.more_like_this)
        ranked.addWidget(self.informative_button)
        ranked.addWidget(self.like_button)
        queue_layout.addLayout(ranked)
        self.progress_label = QLabel("")
        queue_layout.addWidget(self.progress_label)
        self.flag_checks: dict[str, QCheckBox] = {}
        for flag in FLAGS:
            check = QCheckBox(flag.replace("_", " "))
            check.toggled.connect(lambda on, flag=flag: self.set_flag(flag, on))
            self.flag_checks[flag] = check
            queue_layout.addWidget(check)
        layout.addWidget(queue)
        self.review = ReviewPanel(self.viewer, self.session, lambda: self.mask_layer)
        layout.addWidget(self.review)
        self.calibration = None
        if self.session.calibration is not None:
            self.calibration = CalibrationPanel(self.session)
            layout.addWidget(self.calibration)
        layout.addStretch(1)

    def showEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        """Once docked, close the session when the main window closes."""
        self.window().installEventFilter(self._close_filter)  # Qt ignores a repeat
        super().showEvent(event)

    # --------------------------------------------------------------- navigation
    @property
    def current_id(self) -> str | None:
        """Store id of the cutout on screen (None if it could not be opened)."""
        return self.session.current_id

    def next(self) -> None:
        """Save, then show the next cutout of the queue (returns once it is shown)."""
        self.session.next(background=True)
        self.wait()

    def previous(self) -> None:
        """Save, then show the previous cutout of the queue (returns once it is shown)."""
        self.session.previous(background=True)
        self.wait()

    def next_unannotated(self, wait: bool = True) -> None:
        """Save, then jump to the next cutout this annotator has not done.

        The button does not ``wait`` for it to be shown; scripts do.
        """
        if not self.session.next_unannotated(background=True):
            if self.session.queue.next_unannotated() is None:
                notify_info("Every cutout of the queue is done.")
        elif wait:
            self.wait()

    def next_most_informative(self) -> None:
        """Save, then open the cutout not done yet that the model is least sure of.

        The queue is scored first (in the background, with a progress bar) if
        the model in use has not scored it yet.
        """
        self._ranked(self.session.next_most_informative)

    def more_like_this(self) -> None:
        """Save, then open the cutout not done yet most like the one on screen."""
        self._ranked(self.session.more_like_this)

    def _ranked(self, open_next) -> None:
        if not open_next() and self.session.queue.next_unannotated() is None:
            notify_info("Every other cutout of the queue is done.")

    def _update_rank_buttons(self) -> None:
        for button in (self.informative_button, self.like_button):
            button.setEnabled(self.session.can_rank)

    def go(self, index: int) -> None:
        """Save the current mask, then open cutout ``index`` (clamped; returns once shown)."""
        self.session.open(index, background=True)
        self.wait()

    def wait(self, timeout: float = 300.0) -> bool:
        """Run the event loop until the cutout is read and displayed; whether it is.

        The UI stays live meanwhile. Scripts call it after changing the view
        through the controls (the stretch, say); navigation calls it itself.
        """
        return wait_in_event_loop(lambda: self.shown, timeout)

    @property
    def shown(self) -> bool:
        """Whether the cutout is read and its display is up to date with the controls."""
        return not self.session.opening and not self._renderer.pending

    def flush(self) -> bool:
        """Wait for the cutout and its display, then save any unsaved change now.

        Returns once the mask, an accepted completion's included, is on disk.
        """
        self.wait()
        return self.session.flush()

    # ------------------------------------------------------------------ display
    def _on_opening(self) -> None:
        """A cutout is being read: nothing to paint on until it is there."""
        if self.mask_layer is not None:
            self.mask_layer.editable = False
        self._update_queue_labels()

    def _on_opened(self) -> None:
        """Show the session's mask now, and its cutout once rendered in the background.

        The image layers are updated in place, or replaced when the number of
        bands or the need of a pyramid changes (never the selected layer:
        removing it makes napari redraw its controls mid-removal, which
        crashes some OpenGL drivers).
        """
        opened = self.session.opened
        if opened is None:
            self._hide_cutout()
            self._update_queue_labels()
            return
        cutout = opened.cutout
        for layer in self._image_layers:  # until this cutout's images arrive
            layer.visible = False
            if layer.multiscale:  # let the previous pyramid go before the next is rendered
                layer.data = list(layer.data)[-1:]
        self._reset_view = True
        self._render()
        self._show_mask()
        self._draw_preview()
        self.readout_band.blockSignals(True)
        self.readout_band.clear()
        self.readout_band.addItems(cutout.bands)
        self.readout_band.setCurrentText("r" if "r" in cutout.bands else cutout.bands[0])
        self.readout_band.blockSignals(False)
        self.review.refresh()
        flags = self.session.flags()
        for flag, check in self.flag_checks.items():
            check.blockSignals(True)
            check.setChecked(flag in flags)
            check.blockSignals(False)
        self._update_queue_labels()

    def _show_images(self, images: DisplayImages) -> None:
        """Show rendered images in the image layers, below the mask."""
        multiscale, n_bands = images.multiscale, len(images.bands)
        if self._image_layers and (
            self._image_layers[0].multiscale != multiscale or len(self._image_layers) != n_bands + 1
        ):
            if self.mask_layer is not None:
                self.viewer.layers.selection.active = self.mask_layer
            while self._image_layers:
                self.viewer.layers.remove(self._image_layers.pop())
        shown = [images.colour, *images.bands]
        if not self._image_layers:
            for i, levels in enumerate(shown):
                layer = self.viewer.add_image(
                    levels if multiscale else levels[0],
                    multiscale=multiscale,
                    rgb=i == 0,
                    contrast_limits=(0, 255),
                    blending="translucent" if i == 0 else "additive",
                    visible=False,
                )
                self.viewer.layers.move(self.viewer.layers.index(layer), i)
                self._image_layers.append(layer)
            if self.mask_layer is not None:
                self.viewer.layers.selection.active = self.mask_layer
        else:
            for layer, levels in zip(self._image_layers, shown, strict=True):
                layer.data = levels if multiscale else levels[0]
                layer.contrast_limits = (0, 255)
        cutout = self.session.opened.cutout
        self._image_layers[0].name = f"{cutout.name} [colour]"
        for i, (layer, band) in enumerate(zip(self._image_layers[1:], cutout.bands, strict=True)):
            layer.name = f"{cutout.name} [{band}]"
            layer.colormap = band_colourmap(i, n_bands)
        self._on_view_mode(self.bands_check.isChecked())

    def _show_mask(self) -> None:
        """Show the session's mask, the very array it owns: painting changes it in place.

        Layers stay in pixel units, so the brush size is in pixels whatever
        the survey's pixel scale (the read-out gives arcsec).
        """
        mask = self.session.mask
        if self.mask_layer is None:
            taxonomy = self.queue.store.taxonomy
            data, kwargs, _ = mask_layer(mask, MASK_LAYER_NAME, taxonomy, opacity=0.6)
            self.mask_layer = self.viewer.add_labels(data, **kwargs)
            self.mask_layer.brush_size = self.brush_slider.value()
            self.mask_layer.events.paint.connect(self._on_paint)
            self.mask_layer.events.selected_label.connect(self._on_layer_label)
            bind_mask_layer(
                self.mask_layer, self.session, [c.value for c in taxonomy.feature_classes]
            )
            if self.session.model_state != "off":
                self._show_preview_data(np.zeros(mask.shape, np.uint16))
        else:
            self.mask_layer.data = mask  # a new array: napari's own undo history starts afresh
        self.mask_layer.visible = True
        self.mask_layer.editable = True
        self.mask_layer.mode = "paint"
        self.mask_layer.selected_label = self.session.label
        self._on_label_changed(self.session.label)
        self.viewer.layers.selection.active = self.mask_layer

    def _hide_cutout(self) -> None:
        """Nothing to paint on: the cutout could not be opened."""
        for layer in [
            *self._image_layers,
            *self.review.layers.values(),
            self.mask_layer,
            self.preview_layer,
        ]:
            if layer is not None:
                layer.visible = False
        for check in self.flag_checks.values():
            check.blockSignals(True)
            check.setChecked(False)
            check.blockSignals(False)

    def _render(self) -> None:
        """Render the cutout with the current controls in the background; show it when done."""
        opened = self.session.opened
        if opened is None:
            return
        settings = DisplaySettings(
            self.stretch_combo.currentText(),
            self.softening_spin.value(),
            self.smoothing_combo.currentText(),
        )
        cutout = opened.cutout
        self._renderer.request(
            cutout, settings, lambda images: self._on_rendered(cutout, images), notify_error
        )

    def _on_rendered(self, cutout, images: DisplayImages) -> None:
        opened = self.session.opened
        if opened is None or opened.cutout is not cutout:
            return  # another cutout opened meanwhile: its own render follows
        self._show_images(images)
        if self._reset_view:
            self._reset_view = False
            self.viewer.reset_view()

    def remember(self, **changes) -> None:
        """Update the remembered settings; a settings file we cannot write is only reported."""
        self.settings = replace(self.settings, **changes)
        try:
            save_settings(self.settings)
        except GalsegError as exc:
            notify_error(str(exc))

    def _on_stretch(self, *_args) -> None:
        self.remember(
            stretch=self.stretch_combo.currentText(),
            softening=self.softening_spin.value(),
            smoothing=self.smoothing_combo.currentText(),
        )
        self._render()

    def _on_view_mode(self, per_band: bool) -> None:
        if self._image_layers:
            self._image_layers[0].visible = not per_band
            for layer in self._image_layers[1:]:
                layer.visible = per_band
        if per_band != self.settings.show_bands:
            self.remember(show_bands=per_band)

    # ----------------------------------------------------------------- painting
    def select_class(self, value: int) -> None:
        """Paint with class ``value`` (a taxonomy label)."""
        self.session.select(value)

    def _on_label_changed(self, value: int) -> None:
        """The session's class changed: follow it in the buttons and the layer."""
        button = self.class_buttons.button(value)
        if button is not None:
            button.setChecked(True)
        else:  # a label outside the taxonomy: no class button stays lit
            checked = self.class_buttons.checkedButton()
            if checked is not None:
                self.class_buttons.setExclusive(False)
                checked.setChecked(False)
                self.class_buttons.setExclusive(True)
        if self.mask_layer is not None and self.mask_layer.selected_label != value:
            self.mask_layer.selected_label = value

    def _on_layer_label(self, _event=None) -> None:
        """A label picked on the layer (napari's controls, a script) is the session's class."""
        self.session.select(int(self.mask_layer.selected_label))

    def _on_brush_size(self, size: int) -> None:
        if self.mask_layer is not None:
            self.mask_layer.brush_size = size

    def _on_paint(self, event) -> None:
        """A committed stroke, fill or edit of the layer: tell the session which pixels."""
        if self.session.mask is None:  # a cutout is being read
            return
        self.session.edited(edits_from_paint(event.value, self.session.mask))

    def _on_mask_changed(self, _bbox) -> None:
        """The session changed pixels (undo, redo, accept): redraw the layer."""
        if self.mask_layer is not None:
            self.mask_layer.refresh()

    def set_flag(self, flag: str, on: bool) -> None:
        """Set or clear a flag (e.g. ``"no_feature"``) on the current cutout."""
        if self.session.opened is None:
            return
        try:
            self.session.set_flag(flag, on)
        except GalsegError as exc:
            notify_error(str(exc))
        self._update_queue_labels()

    # ------------------------------------------------------------------- assist
    def stroke_finished(self, erased: np.ndarray | None = None):
        """Complete the strokes painted since the last call (mouse release calls it).

        Scripts that paint through the mask layer's API (``layer.paint``)
        call it to get a completion; see
        :meth:`galseg.annotate.AnnotationSession.stroke_finished`.
        """
        return self.session.stroke_finished(erased)

    def accept(self) -> bool:
        """Merge the completion preview into the mask, saved as ``assisted``."""
        return self.session.accept()

    def reject(self) -> None:
        """Drop the completion preview."""
        self.session.reject()

    def undo(self) -> bool:
        """Undo the last stroke, fill or accept (Ctrl+Z)."""
        return self.session.undo()

    def redo(self) -> bool:
        """Redo what was undone (Ctrl+Shift+Z)."""
        return self.session.redo()

    def _draw_preview(self) -> None:
        """Show the session's preview, or hide the preview layer when there is none."""
        preview = self.session.preview
        if preview is None:
            if self.preview_layer is not None:
                self.preview_layer.visible = False
            return
        self._show_preview_data(preview_data(preview, self.session.assist.preview.label))
        self.preview_layer.visible = True

    def _show_preview_data(self, data: np.ndarray) -> None:
        """Put ``data`` in the preview layer, made below the mask the first time.

        With assist on it is made, hidden, as the first cutout opens: making
        a napari layer takes a while, which the first stroke's preview would
        otherwise pause the window for.
        """
        if self.preview_layer is not None:
            self.preview_layer.data = data
            return
        colours = {c.value: c.colour for c in self.queue.store.taxonomy.feature_classes}
        self.preview_layer = self.viewer.add_labels(
            data,
            name=PREVIEW_LAYER_NAME,
            colormap=preview_colormap(colours),
            opacity=1.0,
            visible=False,
        )
        self.preview_layer.editable = False
        layers = self.viewer.layers  # below the mask: the expert's strokes stay on top
        layers.move(layers.index(self.preview_layer), layers.index(self.mask_layer))
        layers.selection.active = self.mask_layer  # keep painting

    # ------------------------------------------------------------------ closing
    def close_session(self) -> None:
        """Save everything and stop background work (the window is closing).

        Runs when the viewer's window closes; calling it again is harmless.
        """
        self.session.close()
        self._renderer.close()
        with contextlib.suppress(RuntimeError):  # Qt may have deleted the timer already
            self._timer.stop()
        if self.calibration is not None:
            self.calibration.close_example()

    def _forget_viewer_hooks(self, viewer: napari.Viewer):
        """A callback for ``destroyed``: unhook from a viewer that outlives the dock."""
        on_mouse_move, session, renderer = self._on_mouse_move, self.session, self._renderer

        def forget(*_args) -> None:
            session.close()
            renderer.close()
            with contextlib.suppress(ValueError):
                viewer.mouse_move_callbacks.remove(on_mouse_move)
            for key in ("PageDown", "PageUp"):
                viewer.bind_key(key, None)

        return forget

    # ------------------------------------------------------------- annotator
    def _on_annotator_edited(self) -> None:
        name = self.annotator_edit.text().strip()
        if name == self.session.annotator:
            return
        try:
            renamed = self.session.rename(name)
        except GalsegError as exc:
            notify_error(str(exc))
            renamed = False
        if renamed:
            self.remember(annotator=name)
        self.annotator_edit.setText(self.session.annotator)

    # ------------------------------------------------------------------- labels
    def _update_save_label(self) -> None:
        text = saved_ago(self.session.last_saved, time.time())
        if self.session.pending:
            text += " (saving…)"
        self.save_label.setText(text)

    def _update_queue_labels(self) -> None:
        item = self.queue.current
        opening = " (opening…)" if self.session.opening else ""
        self.name_label.setText(f"{self.queue.index + 1}. {item.name}{opening}")
        self.progress_label.setText(self.queue.progress_text())
        self.previous_button.setEnabled(self.queue.index > 0)
        self.next_button.setEnabled(self.queue.index < len(self.queue) - 1)

    def _on_mouse_move(self, viewer, event) -> None:
        self._update_readout(viewer.cursor.position)

    def _update_readout(self, position) -> None:
        opened = self.session.opened
        if opened is None or self.mask_layer is None:
            return
        if position is None:
            position = self.viewer.cursor.position
        y, x = self.mask_layer.world_to_data(position)[-2:]
        text = cursor_readout(opened.cutout, self.readout_band.currentText(), y, x)
        self.readout_label.setText(text)
        if text:
            self.viewer.status = text


def _swatch(colour: str) -> QIcon:
    pixmap = QPixmap(14, 14)
    pixmap.fill(QColor(colour))
    return QIcon(pixmap)


class _CloseFilter(QObject):
    """Runs a callback when the watched window is about to close."""

    def __init__(self, callback):
        super().__init__()
        self._callback = callback

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.Close:
            self._callback()
        return False
