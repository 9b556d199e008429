"""Mouse and key bindings of the mask layer: functions of ``(session, layer, event)``.

As napari binds its own (``napari/layers/labels/_labels_mouse_bindings.py``),
each is a plain function; the widget binds them with the session as first
argument. They translate napari's events into the session's vocabulary and
decide nothing themselves.
"""

from __future__ import annotations

from functools import partial

import numpy as np
from qtpy.QtCore import QTimer

from galseg.annotate import AnnotationSession, Edit
from galseg.assist import brush_footprint

__all__ = ["bind_mask_layer", "edits_from_paint", "end_stroke_on_release"]


def edits_from_paint(atoms, data: np.ndarray) -> list[Edit]:
    """The session's :class:`~galseg.annotate.Edit` s from a Labels ``paint`` event's value.

    Each history atom is either napari's masked paint atom (a bounding box,
    the changed pixels in it, their old values, the new label) or a
    ``(indices, old_values, new_values)`` tuple.
    """
    edits = []
    for atom in atoms:
        if hasattr(atom, "slice_key"):
            box = atom.slice_key
            shape = tuple(s.stop - s.start for s in box)
            mask = np.ones(shape, bool) if atom.mask is None else atom.mask
            old = atom.old_values[mask] if atom.mask is None else atom.old_values
            index = tuple(axis + s.start for axis, s in zip(np.nonzero(mask), box, strict=True))
            new = np.full(old.shape, atom.new_value, data.dtype)
        else:
            index, old, new = atom
            index = tuple(np.asarray(axis) for axis in index)
            new = np.broadcast_to(np.asarray(new, data.dtype), np.shape(old)).copy()
        edits.append(Edit(index, np.asarray(old, data.dtype), new))
    return edits


def end_stroke_on_release(session: AnnotationSession, layer, event):
    """Mouse drag callback: when a brush, eraser or fill stroke ends, complete it.

    An eraser's footprint is passed along: erasing unlabelled pixels changes
    no data, yet tells the model where the feature is not.
    """
    mode = str(layer.mode)
    if mode not in ("paint", "erase", "fill"):
        return
    points = [layer.world_to_data(event.position)[-2:]]
    size = layer.brush_size
    yield
    while event.type == "mouse_move":
        points.append(layer.world_to_data(event.position)[-2:])
        yield
    erased = brush_footprint(points, size, np.shape(layer.data)[-2:]) if mode == "erase" else None
    QTimer.singleShot(0, partial(session.stroke_finished, erased))  # after napari's release


def accept_or_complete_polygon(session: AnnotationSession, layer) -> None:
    """Enter: accept the preview (napari's own in polygon mode, or without a preview)."""
    if str(layer.mode) == "polygon" or session.preview is None:
        _napari_key_action("complete_polygon", layer)
    else:
        session.accept()


def reject_or_reset_polygon(session: AnnotationSession, layer) -> None:
    """Escape: reject the preview (napari's own in polygon mode, or without a preview)."""
    if str(layer.mode) == "polygon" or session.preview is None:
        _napari_key_action("reset_polygon", layer)
    else:
        session.reject()


def bind_mask_layer(layer, session: AnnotationSession, labels) -> None:
    """Bind the mask layer's mouse and keys to ``session``; keys ``1``-``9`` pick ``labels``."""
    layer.mouse_drag_callbacks.append(partial(end_stroke_on_release, session))
    keys = {
        "Enter": partial(accept_or_complete_polygon, session),
        "Escape": partial(reject_or_reset_polygon, session),
        "Control-Z": lambda _layer: session.undo(),
        "Control-Shift-Z": lambda _layer: session.redo(),
    }
    for key, action in keys.items():
        layer.bind_key(key, action, overwrite=True)
    for value in (v for v in labels if 1 <= v <= 9):
        layer.bind_key(str(value), lambda _layer, v=value: session.select(v), overwrite=True)


def _napari_key_action(name: str, layer) -> None:
    from napari.layers.labels import _labels_key_bindings

    getattr(_labels_key_bindings, name)(layer)
