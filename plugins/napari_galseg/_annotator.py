"""The annotator dock widget: paint masks on a queue of cutouts, never lose a stroke.

The widget is the only stateful Qt piece of galseg. It shows the current
cutout (colour composite or bands, re-stretched on demand) and a Labels layer
in the taxonomy's colours, and hands every change of that layer to a
:class:`galseg.autosave.Autosaver` that writes it to the mask store off the UI
thread. Everything else — which cutout comes next, what is done, how pixels
map to surface brightness — is asked of the galseg core.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
import contextlib
from dataclasses import replace
import time
from typing import TYPE_CHECKING, Any

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

from galseg.autosave import Autosaver, saved_ago
from galseg.errors import GalsegError
from galseg.photometry import cursor_readout
from galseg.queue import AnnotationQueue, OpenedCutout
from galseg.settings import Settings, save_settings
from galseg.store import FLAGS, check_name
from galseg.stretch import PRESETS, normalize, rgb_planes

from ._assist import AssistPanel
from ._layers import band_colourmap, mask_layer
from ._notify import notify_error, notify_info

if TYPE_CHECKING:
    import napari

MASK_LAYER_NAME = "mask"
_STATUS_PERIOD_MS = 500  # how often the save status and change detection run


class AnnotatorWidget(QWidget):
    """Dock widget driving a :class:`galseg.queue.AnnotationQueue` in a napari viewer.

    Parameters
    ----------
    viewer : napari.Viewer
        The viewer to paint in.
    queue : AnnotationQueue
        The cutouts, the store and the annotator.
    settings : Settings
        Remembered user choices; updated and saved as the user changes them.
    models : mapping of str to callable, optional
        Assistants for assist mode by name, each ``load() -> model`` (run in a
        worker; the first is loaded at once); none turns assist mode off (see
        :class:`~napari_galseg._assist.AssistPanel`).
    """

    def __init__(
        self,
        viewer: napari.Viewer,
        queue: AnnotationQueue,
        settings: Settings,
        models: Mapping[str, Callable[[], Any]] | None = None,
    ):
        super().__init__()
        self.viewer = viewer
        self.queue = queue
        self.settings = settings
        self.opened: OpenedCutout | None = None
        self.mask_layer = None
        self._image_layers: list = []
        self._autosaver: Autosaver | None = None
        self._handed_in: np.ndarray | None = None  # last mask given to the autosaver
        self._save_error: Exception | None = None
        self._saved_at: float | None = None  # last save not made by the autosaver
        self._counted_revision: int | None = None
        self._build(models or {})
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._tick)
        self._timer.start(_STATUS_PERIOD_MS)
        self._closed = False
        self._close_filter = _CloseFilter(self.flush)  # the close may yet be cancelled
        self.destroyed.connect(self._forget_viewer_hooks(viewer))
        viewer.mouse_move_callbacks.append(self._on_mouse_move)
        viewer.bind_key("PageDown", lambda _: self.next(), overwrite=True)
        viewer.bind_key("PageUp", lambda _: self.previous(), overwrite=True)
        self.go(queue.index)

    # ------------------------------------------------------------------ layout
    def _build(self, models: Mapping[str, Callable[[], Any]]) -> None:
        taxonomy = self.queue.store.taxonomy
        layout = QVBoxLayout(self)

        who = QFormLayout()
        self.annotator_edit = QLineEdit(self.queue.annotator)
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
        self.assist = AssistPanel(self, models)
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
        self.previous_button.clicked.connect(self.previous)
        self.next_button = QPushButton("Next ▶")
        self.next_button.setToolTip("Next cutout (PageDown)")
        self.next_button.clicked.connect(self.next)
        nav.addWidget(self.previous_button)
        nav.addWidget(self.next_button)
        queue_layout.addLayout(nav)
        self.unannotated_button = QPushButton("Next unannotated")
        self.unannotated_button.clicked.connect(self.next_unannotated)
        queue_layout.addWidget(self.unannotated_button)
        self.progress_label = QLabel("")
        queue_layout.addWidget(self.progress_label)
        self.flag_checks: dict[str, QCheckBox] = {}
        for flag in FLAGS:
            check = QCheckBox(flag.replace("_", " "))
            check.toggled.connect(lambda on, flag=flag: self.set_flag(flag, on))
            self.flag_checks[flag] = check
            queue_layout.addWidget(check)
        layout.addWidget(queue)
        layout.addStretch(1)

    def showEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        """Once docked, save when the main window is asked to close."""
        self.window().installEventFilter(self._close_filter)  # Qt ignores a repeat
        super().showEvent(event)

    # --------------------------------------------------------------- navigation
    @property
    def current_id(self) -> str | None:
        """Store id of the cutout on screen (None if it could not be opened)."""
        return self.opened.cutout_id if self.opened else None

    def next(self) -> None:
        """Save, then show the next cutout of the queue."""
        self.go(self.queue.index + 1)

    def previous(self) -> None:
        """Save, then show the previous cutout of the queue."""
        self.go(self.queue.index - 1)

    def next_unannotated(self) -> None:
        """Save, then jump to the next cutout this annotator has not done."""
        if not self.flush():
            return
        index = self.queue.next_unannotated()
        if index is None:
            notify_info("Every cutout of the queue is done.")
        else:
            self.go(index)

    def go(self, index: int) -> None:
        """Save the current mask, then open cutout ``index`` (clamped to the queue).

        If the current mask cannot be saved, the cutout stays on screen with
        its strokes and the error is shown: nothing painted is dropped.
        """
        if not self.flush():
            return
        self._stop_autosave()
        self.queue.go(index)
        try:
            opened = self.queue.open()
        except GalsegError as exc:
            self._hide_cutout()
            notify_error(str(exc))
        else:
            self._show(opened)
        self._update_queue_labels()

    # ------------------------------------------------------------------ display
    def _show(self, opened: OpenedCutout) -> None:
        """Show a cutout and its mask, reusing the layers of the previous one.

        Layers are updated in place rather than replaced: faster, and removing
        the selected layer makes napari redraw its controls mid-removal, which
        crashes some OpenGL drivers.
        """
        self.opened = opened
        cutout = opened.cutout
        self._ensure_image_layers(len(cutout.bands))
        self._image_layers[0].name = f"{cutout.name} [colour]"
        for i, (layer, band) in enumerate(zip(self._image_layers[1:], cutout.bands, strict=True)):
            layer.name = f"{cutout.name} [{band}]"
            layer.colormap = band_colourmap(i, len(cutout.bands))
        self._render()
        self._on_view_mode(self.bands_check.isChecked())
        self._show_mask(opened.mask.copy())
        self.assist.cutout_opened()  # before reset_view: the preview layer takes the new shape
        self.viewer.reset_view()
        self._handed_in = opened.mask.copy()
        # Every stroke is on disk within max_delay (plus one save) of being painted.
        self._autosaver = Autosaver(
            self._saver_for(opened, self.queue.annotator),
            max_delay=1.5,
            on_error=self._on_save_error,
        )
        latest = self.queue.store.latest(opened.cutout_id, self.queue.annotator)
        self._saved_at = _timestamp(latest.time) if latest else None
        self.readout_band.blockSignals(True)
        self.readout_band.clear()
        self.readout_band.addItems(cutout.bands)
        self.readout_band.setCurrentText("r" if "r" in cutout.bands else cutout.bands[0])
        self.readout_band.blockSignals(False)
        flags = self.queue.flags()
        for flag, check in self.flag_checks.items():
            check.blockSignals(True)
            check.setChecked(flag in flags)
            check.blockSignals(False)

    def _ensure_image_layers(self, n_bands: int) -> None:
        """One RGB composite layer and ``n_bands`` band layers, below the mask."""
        if not self._image_layers:
            self._image_layers.append(
                self.viewer.add_image(np.zeros((1, 1, 3), np.float32), rgb=True, name="colour")
            )
        while len(self._image_layers) > n_bands + 1:  # never the selected layer: the mask is
            self.viewer.layers.remove(self._image_layers.pop())
        while len(self._image_layers) < n_bands + 1:
            layer = self.viewer.add_image(
                np.zeros((1, 1), np.float32), blending="additive", name="band"
            )
            self.viewer.layers.move(self.viewer.layers.index(layer), len(self._image_layers))
            self._image_layers.append(layer)

    def _show_mask(self, mask: np.ndarray) -> None:
        """Show the mask to paint on. Layers stay in pixel units, so the brush size is
        in pixels whatever the survey's pixel scale (the read-out gives arcsec)."""
        if self.mask_layer is None:
            data, kwargs, _ = mask_layer(
                mask, MASK_LAYER_NAME, self.queue.store.taxonomy, opacity=0.6
            )
            self.mask_layer = self.viewer.add_labels(data, **kwargs)
            self.mask_layer.brush_size = self.brush_slider.value()
            self.mask_layer.events.paint.connect(self._on_mask_changed)
            self.mask_layer.mouse_drag_callbacks.append(self.assist.on_drag)
            # On the layer, which napari asks before the viewer (Labels binds both keys for
            # polygons; the panel hands them back in polygon mode).
            self.mask_layer.bind_key("Enter", self.assist.on_enter, overwrite=True)
            self.mask_layer.bind_key("Escape", self.assist.on_escape, overwrite=True)
            for cls in self.queue.store.taxonomy.feature_classes:
                if cls.value <= 9:
                    self.mask_layer.bind_key(
                        str(cls.value), lambda _, v=cls.value: self.select_class(v), overwrite=True
                    )
        else:
            self.mask_layer.data = mask
            self.mask_layer._reset_history()  # undo must not reach into the previous cutout
        self.mask_layer.visible = True
        self.mask_layer.mode = "paint"
        checked = self.class_buttons.checkedId()
        self.select_class(checked if checked > 0 else 1)
        self.viewer.layers.selection.active = self.mask_layer

    def _hide_cutout(self) -> None:
        """Nothing to paint on: the cutout could not be opened."""
        self.opened = None
        self._saved_at = None
        for layer in [*self._image_layers, self.mask_layer]:
            if layer is not None:
                layer.visible = False
        for check in self.flag_checks.values():
            check.blockSignals(True)
            check.setChecked(False)
            check.blockSignals(False)
        self.assist.cutout_opened()

    def _render(self) -> None:
        """Stretch the bands with the current controls and show them."""
        if self.opened is None:
            return
        cutout = self.opened.cutout
        name, softening = self.stretch_combo.currentText(), self.softening_spin.value()
        planes = normalize(cutout, name, softening=softening)
        self._image_layers[0].data = np.moveaxis(rgb_planes(planes), 0, -1)
        for layer, plane in zip(self._image_layers[1:], planes, strict=True):
            layer.data = plane
            layer.contrast_limits = (0.0, 1.0)

    def remember(self, **changes) -> None:
        """Update the remembered settings; a settings file we cannot write is only reported."""
        self.settings = replace(self.settings, **changes)
        try:
            save_settings(self.settings)
        except GalsegError as exc:
            notify_error(str(exc))

    def _on_stretch(self, *_args) -> None:
        self.remember(
            stretch=self.stretch_combo.currentText(), softening=self.softening_spin.value()
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
        button = self.class_buttons.button(value)
        if button is not None:
            button.setChecked(True)
        if self.mask_layer is not None:
            self.mask_layer.selected_label = value

    def _on_brush_size(self, size: int) -> None:
        if self.mask_layer is not None:
            self.mask_layer.brush_size = size

    def set_flag(self, flag: str, on: bool) -> None:
        """Set or clear a flag (e.g. ``"no_feature"``) on the current cutout."""
        if self.opened is None:
            return
        try:
            self.queue.set_flag(flag, on)
        except GalsegError as exc:
            notify_error(str(exc))
        self._update_queue_labels()

    def _on_mask_changed(self, _event=None) -> None:
        """Hand the mask to the autosaver if it differs from what it last got."""
        if self.mask_layer is None or self._autosaver is None:
            return
        data = np.asarray(self.mask_layer.data)
        if self._handed_in is not None and np.array_equal(data, self._handed_in):
            return
        self._handed_in = data.copy()
        self._autosaver.changed(self._handed_in)

    # ------------------------------------------------------------------- assist
    @property
    def preview_layer(self):
        """The layer showing the completion preview (None before the first one)."""
        return self.assist.preview_layer

    def stroke_finished(self, erased: np.ndarray | None = None):
        """Complete the strokes painted since the last call (mouse release calls it).

        Scripts that paint through the mask layer's API (``layer.paint``)
        call it to get a completion; see
        :meth:`~napari_galseg._assist.AssistPanel.stroke_finished`.
        """
        return self.assist.stroke_finished(erased)

    def accept(self) -> bool:
        """Merge the completion preview into the mask, saved as ``assisted``."""
        return self.assist.accept()

    def reject(self) -> None:
        """Drop the completion preview."""
        self.assist.reject()

    def commit_mask(
        self, mask: np.ndarray, provenance: str = "painted", metadata: dict | None = None
    ) -> bool:
        """Show ``mask`` (one undo step) and save it now, on this thread, as one revision.

        Anything painted before is saved first, as painted. If this save
        fails the error is shown and the mask goes to the autosaver (saved as
        painted), so it is not lost.

        Returns
        -------
        bool
            Whether the revision of ``provenance`` was saved.
        """
        layer = self.mask_layer
        if self.opened is None or layer is None or not self.flush():
            return False
        mask = np.array(mask, dtype=np.asarray(layer.data).dtype, copy=True)
        self._handed_in = mask  # the layer's paint event must not hand it to the autosaver
        changed = np.nonzero(mask != np.asarray(layer.data))
        if changed[0].size:
            layer.data_setitem(changed, mask[changed])
        try:
            self.queue.store.save_mask(
                self.opened.cutout_id,
                mask,
                self.queue.annotator,
                provenance,
                content_hash=self.opened.cutout.content_hash,
                metadata=metadata,
            )
        except GalsegError as exc:
            notify_error(
                f"could not save the {provenance} mask; it will be saved as painted: {exc}"
            )
            self._handed_in = None
            self._on_mask_changed()
            return False
        self._saved_at = time.time()
        self._update_queue_labels()
        return True

    def _saver_for(self, opened: OpenedCutout, annotator: str):
        """The save function of one cutout and annotator, fixed now: a save that
        runs later, on the worker thread, can never land on another cutout or name."""
        store, cutout_id, content_hash = (
            self.queue.store,
            opened.cutout_id,
            opened.cutout.content_hash,
        )

        def save(mask: np.ndarray) -> int:
            return store.save_mask(cutout_id, mask, annotator, content_hash=content_hash)

        return save

    def _on_save_error(self, exc: Exception) -> None:
        self._save_error = exc  # shown by the UI thread in _tick

    def flush(self) -> bool:
        """Save any unsaved change now (blocks until it is on disk).

        Returns
        -------
        bool
            False if the mask could not be saved (the error is shown).
        """
        self._on_mask_changed()
        if self._autosaver is None or self._autosaver.flush():
            return True
        exc, self._save_error = self._save_error, None
        notify_error(f"could not save the mask, so it stays on screen: {exc}")
        return False

    def _stop_autosave(self) -> None:
        if self._autosaver is not None:
            self._autosaver.close()
            self._autosaver = None

    def close_session(self) -> None:
        """Save everything and stop background work (the viewer is closing).

        Runs when the viewer's window closes; calling it again is harmless.
        """
        if self._closed:
            return
        self._closed = True
        if not self.flush() and self.opened is not None:
            _keep_unsaved(self.queue.store.path, self.opened.cutout_id, self._handed_in)
        self._stop_autosave()
        self.assist.shutdown()
        with contextlib.suppress(RuntimeError):  # Qt may have deleted the timer already
            self._timer.stop()

    def _tick(self) -> None:
        """Periodic UI-thread work: catch undo/redo edits, refresh the save status."""
        self._on_mask_changed()
        if self._save_error is not None:
            exc, self._save_error = self._save_error, None
            notify_error(f"could not save the mask: {exc}")
        saver = self._autosaver
        last = max(
            (t for t in (saver.last_saved if saver else None, self._saved_at) if t), default=None
        )
        text = saved_ago(last, time.time())
        if saver is not None and saver.pending:
            text += " (saving…)"
        self.save_label.setText(text)
        if saver is not None and saver.last_revision != self._counted_revision:
            self._counted_revision = saver.last_revision  # a first save may finish a cutout
            self._update_queue_labels()

    def _forget_viewer_hooks(self, viewer: napari.Viewer):
        """A callback for ``destroyed``: unhook from a viewer that outlives the dock."""
        on_mouse_move, assist = self._on_mouse_move, self.assist

        def forget(*_args) -> None:
            with contextlib.suppress(ValueError):
                viewer.mouse_move_callbacks.remove(on_mouse_move)
            for key in ("PageDown", "PageUp"):
                viewer.bind_key(key, None)
            with contextlib.suppress(RuntimeError):  # Qt deleted the panel's signals already
                assist.shutdown()
            for layer in viewer.layers:
                with contextlib.suppress(ValueError):
                    layer.mouse_drag_callbacks.remove(assist.on_drag)

        return forget

    # ------------------------------------------------------------- annotator
    def _on_annotator_edited(self) -> None:
        name = self.annotator_edit.text().strip()
        if name == self.queue.annotator:
            return
        try:
            check_name(name, "annotator", "galseg")
        except GalsegError as exc:
            notify_error(str(exc))
            self.annotator_edit.setText(self.queue.annotator)
            return
        if not self.flush():
            self.annotator_edit.setText(self.queue.annotator)
            return
        self.queue.annotator = name
        self.remember(annotator=name)
        self.go(self.queue.index)

    # ------------------------------------------------------------------- labels
    def _update_queue_labels(self) -> None:
        item = self.queue.current
        self.name_label.setText(f"{self.queue.index + 1}. {item.name}")
        self.progress_label.setText(self.queue.progress_text())
        self.previous_button.setEnabled(self.queue.index > 0)
        self.next_button.setEnabled(self.queue.index < len(self.queue) - 1)

    def _on_mouse_move(self, viewer, event) -> None:
        self._update_readout(viewer.cursor.position)

    def _update_readout(self, position) -> None:
        if self.opened is None or self.mask_layer is None:
            return
        if position is None:
            position = self.viewer.cursor.position
        y, x = self.mask_layer.world_to_data(position)[-2:]
        text = cursor_readout(self.opened.cutout, self.readout_band.currentText(), y, x)
        self.readout_label.setText(text)
        if text:
            self.viewer.status = text


def _timestamp(iso_time: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso_time).timestamp()


def _keep_unsaved(store_path, cutout_id: str, mask: np.ndarray | None) -> None:
    """Last resort when the store refuses a save at close: keep the mask as .npy."""
    if mask is None:
        return
    import tempfile

    for folder in (store_path.parent, tempfile.gettempdir()):
        path = f"{folder}/galseg-unsaved-{cutout_id}-{int(time.time())}.npy"
        try:
            np.save(path, mask)
        except OSError:
            continue
        notify_error(f"the mask could not be saved to the store; it was kept in {path}")
        return


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
