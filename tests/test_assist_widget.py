"""Assist mode in the real annotator under Xvfb: stroke, preview, accept, refine, reject.

The shipped model completes strokes on the bundled samples, whose truth is in
``sample_data/truth.zarr``; strokes are painted through the mask layer's own
API and finished with ``stroke_finished()``, as the mouse-release handler does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import os
from pathlib import Path
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from galseg import MaskStore
from galseg.model import SHIPPED_CHECKPOINT, card_path, iou, next_stroke, scribble
from galseg.samples import sample_dir

napari = pytest.importorskip("napari")
from napari_galseg import launch  # noqa: E402
from napari_galseg._assist import OUTLINE  # noqa: E402

pytestmark = pytest.mark.gui

MODEL_S = 60  # loading the model and encoding a cutout on a busy 2-core machine
STREAM = 1


@pytest.fixture(autouse=True)
def private_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("GALSEG_CONFIG_DIR", str(tmp_path / "config"))


@pytest.fixture
def annotator(make_napari_viewer, tmp_path, qtbot):
    widget = launch(
        [sample_dir()], tmp_path / "masks.zarr", "ada", viewer=make_napari_viewer(show=True)
    )
    qtbot.waitUntil(
        lambda: widget.assist.enabled and not widget.assist.busy, timeout=MODEL_S * 1000
    )
    yield widget
    widget.close_session()


def _open(widget, name: str, qtbot) -> np.ndarray:
    """Show sample ``name``; return its truth mask."""
    index = next(i for i, item in enumerate(widget.queue.items) if item.name == name)
    widget.go(index)
    qtbot.waitUntil(lambda: not widget.assist.busy, timeout=MODEL_S * 1000)
    truth = MaskStore.open(sample_dir() / "truth.zarr", mode="r")
    return truth.load_mask(widget.current_id, "truth")


def _paint(layer, stroke: np.ndarray, label: int) -> None:
    """Paint the pixels of ``stroke`` with the layer's brush (size 3), as a mouse drag would."""
    layer.selected_label = label
    layer.brush_size = 3
    for y, x in np.argwhere(stroke)[::2]:
        layer.paint((y, x), label)


def _stroke_and_wait(widget, stroke, label, qtbot):
    _paint(widget.mask_layer, stroke, label)
    request = widget.stroke_finished()
    assert request is not None
    qtbot.waitUntil(lambda: not widget.session.assist.pending, timeout=MODEL_S * 1000)
    return request


def test_a_stroke_is_completed_accepted_and_saved_as_assisted(annotator, qtbot):
    layers = annotator.viewer.layers  # the preview layer is ready, hidden, below the mask
    assert annotator.preview_layer is not None and not annotator.preview_layer.visible
    assert layers.index(annotator.preview_layer) < layers.index(annotator.mask_layer)
    assert layers.selection.active is annotator.mask_layer
    truth = _open(annotator, "stream_legacy", qtbot) == STREAM
    stroke = scribble(truth, np.random.default_rng(0), length=(0.4, 0.4))
    _stroke_and_wait(annotator, stroke, STREAM, qtbot)

    preview, painted = annotator.assist.preview, annotator.mask_layer.data == STREAM
    # One stroke along a third of this long looping stream: the preview covers about
    # twice as much of it as the stroke (IoU 0.38 vs 0.21, measured here).
    assert iou(preview, truth) > 1.5 * iou(painted, truth) + 0.03
    assert annotator.preview_layer.visible
    shown = annotator.preview_layer.data
    assert set(np.unique(shown)) <= {0, STREAM, STREAM + OUTLINE}
    np.testing.assert_array_equal(shown > 0, preview)
    assert (annotator.mask_layer.data == STREAM).sum() == painted.sum()  # a preview only

    store = annotator.queue.store
    annotator.flush()
    revisions = len(store.history(annotator.current_id))
    assert annotator.accept()  # saved at once, off the UI thread
    assert annotator.flush()
    assert len(store.history(annotator.current_id)) == revisions + 1  # one revision, assisted
    mask = annotator.mask_layer.data
    np.testing.assert_array_equal(mask == STREAM, preview | painted)
    latest = store.latest(annotator.current_id, "ada")
    assert latest.provenance == "assisted"
    np.testing.assert_array_equal(store.load_mask(annotator.current_id, "ada"), mask)
    assert not annotator.preview_layer.visible
    annotator.undo()  # one undo takes the merge back
    np.testing.assert_array_equal(annotator.mask_layer.data == STREAM, painted)


def test_a_second_stroke_refines_the_preview(annotator, qtbot):
    truth = _open(annotator, "stream_legacy", qtbot) == STREAM
    rng = np.random.default_rng(1)
    first = _stroke_and_wait(annotator, scribble(truth, rng, length=(0.2, 0.2)), STREAM, qtbot)
    before = annotator.assist.preview
    correction, positive = next_stroke(truth, before, rng)
    if positive:
        second = _stroke_and_wait(annotator, correction, STREAM, qtbot)
    else:  # an eraser stroke where the preview spills: a negative prompt
        second = annotator.stroke_finished(erased=correction)
        qtbot.waitUntil(lambda: not annotator.session.assist.pending, timeout=MODEL_S * 1000)
    assert second.generation > first.generation and second.previous is not None
    assert (second.negative if not positive else second.positive).sum() > 0
    after = annotator.assist.preview
    assert iou(after, truth) >= iou(before, truth) - 0.02
    assert (after & correction).mean() != (before & correction).mean()  # it took the stroke in


def test_reject_and_the_threshold_never_touch_the_mask(annotator, qtbot):
    truth = _open(annotator, "tail_legacy", qtbot) == 3
    _stroke_and_wait(annotator, scribble(truth, np.random.default_rng(2)), 3, qtbot)
    mask = annotator.mask_layer.data.copy()
    calls = len(annotator.session.latencies)
    sizes = []
    for value in (20, 50, 80):
        annotator.assist.threshold_slider.setValue(value)
        sizes.append(int(annotator.assist.preview.sum()))
    assert sizes[0] >= sizes[1] >= sizes[2] and sizes[0] > sizes[2]
    assert len(annotator.session.latencies) == calls  # no model run for the threshold
    annotator.reject()
    assert annotator.assist.preview is None and not annotator.preview_layer.visible
    np.testing.assert_array_equal(annotator.mask_layer.data, mask)
    assert not annotator.accept()  # nothing left to accept


def test_a_stroke_made_during_a_completion_supersedes_it(annotator, qtbot):
    truth = _open(annotator, "stream_legacy", qtbot) == STREAM
    rng = np.random.default_rng(3)
    _paint(annotator.mask_layer, scribble(truth, rng), STREAM)
    first = annotator.stroke_finished()
    _paint(annotator.mask_layer, scribble(truth, rng), STREAM)
    second = annotator.stroke_finished()
    qtbot.waitUntil(lambda: not annotator.session.assist.pending, timeout=MODEL_S * 1000)
    qtbot.wait(200)  # let any late answer to the first stroke arrive
    assert second.generation > first.generation
    assert annotator.session.assist.preview.generation == second.generation
    assert len(annotator.session.latencies) == 1  # the first answer never reached the screen


def test_navigation_drops_the_preview_and_encodes_the_next_cutout(annotator, qtbot):
    truth = _open(annotator, "stream_legacy", qtbot) == STREAM
    _stroke_and_wait(annotator, scribble(truth, np.random.default_rng(4)), STREAM, qtbot)
    model = annotator.session.model  # in a process of its own
    assert model.current_image == annotator.opened.cutout.content_hash
    annotator.next()
    assert annotator.assist.preview is None and not annotator.preview_layer.visible
    assert annotator.preview_layer.data.shape == annotator.opened.cutout.image_shape
    qtbot.waitUntil(lambda: not annotator.assist.busy, timeout=MODEL_S * 1000)
    assert model.current_image == annotator.opened.cutout.content_hash  # encoded as it opened


def test_switching_the_model(annotator, qtbot, tmp_path):
    copy = tmp_path / "my-model.safetensors"
    shutil.copy(SHIPPED_CHECKPOINT, copy)
    shutil.copy(card_path(SHIPPED_CHECKPOINT), card_path(copy))
    annotator.session.use_checkpoint(copy)
    qtbot.waitUntil(
        lambda: "my-model" in annotator.assist.model_label.text(), timeout=MODEL_S * 1000
    )
    assert "CPU" in annotator.assist.model_label.text()
    truth = _open(annotator, "stream_legacy", qtbot) == STREAM
    _stroke_and_wait(annotator, scribble(truth, np.random.default_rng(5)), STREAM, qtbot)
    assert annotator.assist.preview.any()
    assert "ms" in annotator.assist.timing_label.text()


def test_without_assist_strokes_stay_strokes(make_napari_viewer, tmp_path, qtbot):
    widget = launch(
        [sample_dir()], tmp_path / "masks.zarr", "ada", viewer=make_napari_viewer(), assist=False
    )
    assert not widget.assist.enabled and not widget.assist.enabled_check.isEnabled()
    _paint(widget.mask_layer, np.eye(64, dtype=bool), STREAM)
    assert widget.stroke_finished() is None and widget.preview_layer is None
    widget.close_session()


def test_sam_is_a_second_assistant_in_the_same_flow(
    make_napari_viewer, tmp_path, qtbot, random_sam_checkpoint
):
    widget = launch(
        [sample_dir()],
        tmp_path / "masks.zarr",
        "ada",
        viewer=make_napari_viewer(show=True),
        sam_checkpoint=random_sam_checkpoint,
    )
    panel = widget.assist
    combo = [panel.model_combo.itemText(i) for i in range(panel.model_combo.count())]
    assert combo == ["galseg", "Segment Anything"] and panel.model_combo.isVisibleTo(panel)
    qtbot.waitUntil(lambda: panel.enabled and not panel.busy, timeout=MODEL_S * 1000)
    panel.model_combo.textActivated.emit("Segment Anything")  # as choosing it does
    qtbot.waitUntil(lambda: "sam_vit_b_random" in panel.model_label.text(), timeout=30_000)
    qtbot.waitUntil(lambda: not panel.busy, timeout=4 * MODEL_S * 1000)  # ViT-B encodes
    truth = _open(widget, "stream_legacy", qtbot) == STREAM
    _stroke_and_wait(widget, scribble(truth, np.random.default_rng(6)), STREAM, qtbot)
    assert panel.preview is not None and panel.preview.shape == truth.shape
    if panel.preview.any():  # random weights: the mask may be empty, and that is fine
        assert widget.accept() and widget.flush()
        assert widget.queue.store.latest(widget.current_id, "ada").provenance == "assisted"
    widget.close_session()


def test_the_sam_choice_is_hidden_without_a_checkpoint(annotator):
    assert not annotator.assist.model_combo.isVisibleTo(annotator.assist)


def test_retrain_on_my_masks_then_switch(annotator, qtbot):
    from napari.utils.notifications import notification_manager

    store = annotator.queue.store
    annotator.assist.retrain(steps=4)  # one cutout, no mask: nothing to retrain on
    qtbot.waitUntil(lambda: annotator.assist.retrain_button.isEnabled(), timeout=MODEL_S * 1000)
    message = notification_manager.records[-1].message
    assert message.startswith("could not retrain: ") and "two or more" in message
    assert annotator.assist.retrained is None

    truth = MaskStore.open(sample_dir() / "truth.zarr", mode="r")
    for cutout_id in truth.ids():  # as if the expert had painted every sample
        store.add_cutout(truth.cutout(cutout_id))
        store.save_mask(cutout_id, truth.load_mask(cutout_id, "truth"), "ada")
    out = store.path.parent / "tuned.safetensors"
    assert annotator.assist.retrain(steps=4, out=out, holdout=0.3) is not None
    qtbot.waitUntil(lambda: annotator.assist.retrain_button.isEnabled(), timeout=4 * MODEL_S * 1000)
    message = notification_manager.records[-1].message
    before, after = (float(x) for x in re.search(r"(\d\.\d+) -> (\d\.\d+)", message).groups())
    if after <= before:  # offered only when better: the model in use stays
        assert "Kept" in message and annotator.assist.retrained is None and not out.exists()
        assert not annotator.assist.use_retrained_button.isEnabled()
        return
    assert annotator.assist.retrained == out and out.exists()
    assert annotator.assist.use_retrained_button.isEnabled()
    annotator.assist.use_retrained_button.click()
    qtbot.waitUntil(
        lambda: "tuned.safetensors" in annotator.assist.model_label.text(), timeout=30_000
    )
    assert annotator.session.model.checkpoint_path == out


def test_after_n_new_masks_the_panel_offers_to_retrain_and_rerank(
    make_napari_viewer, tmp_path, qtbot
):
    from galseg.settings import Settings, save_settings

    save_settings(Settings(retrain_every=2))
    widget = launch(
        [sample_dir()], tmp_path / "masks.zarr", "ada", viewer=make_napari_viewer(show=True)
    )
    assist = widget.assist
    try:
        qtbot.waitUntil(lambda: assist.enabled and not assist.busy, timeout=MODEL_S * 1000)
        assist.enabled_check.setChecked(False)  # plain strokes: masks, not previews
        stroke = np.zeros(widget.mask_layer.data.shape, dtype=bool)
        stroke[100, 90:110] = True
        for index in range(2):
            assert assist.rerank_button.isHidden() and assist.offer_label.isHidden()
            widget.go(index)
            _paint(widget.mask_layer, stroke, STREAM)
        widget.next()  # saves at once
        qtbot.waitUntil(lambda: not assist.rerank_button.isHidden(), timeout=10_000)
        assert "2 new masks" in assist.offer_label.text() and not assist.offer_label.isHidden()

        out = tmp_path / "tuned.safetensors"
        assert assist.retrain(steps=4, out=out, holdout=0.3, rerank=True) is not None
        assert assist.rerank_button.isHidden() and assist.offer_label.isHidden()
        qtbot.waitUntil(lambda: assist.retrain_button.isEnabled(), timeout=4 * MODEL_S * 1000)
        report = widget.session.retrain_run.report
        assert report is not None
        if not report.written:  # no better on the held-back cutout: the model in use stays
            assert not out.exists() and widget.session.model.checkpoint_path != out
            return
        qtbot.waitUntil(
            lambda: widget.session.scores is not None and widget.session.scores.complete,
            timeout=4 * MODEL_S * 1000,
        )  # the new model is in use and has ranked the queue again
        assert widget.session.model.checkpoint_path == out
        assert "tuned.safetensors" in assist.model_label.text()
    finally:
        widget.close_session()


@dataclass
class _Mouse:
    """The fields of a vispy mouse event that napari's Labels callbacks read."""

    type: str
    position: tuple[float, float]
    is_dragging: bool = False
    button: int = 1
    modifiers: list = field(default_factory=list)
    pos: np.ndarray = field(default_factory=lambda: np.zeros(2))
    view_direction: list | None = None
    up_direction: list | None = None
    dims_displayed: list = field(default_factory=lambda: [0, 1])
    delta: tuple | None = None
    native: object = None
    handled: bool = False


def _drag(layer, points) -> None:
    """A mouse drag through ``points`` (press, moves, release), wrapped as napari's canvas does."""
    from napari.utils._proxies import ReadOnlyWrapper
    from napari.utils.interactions import (
        mouse_move_callbacks,
        mouse_press_callbacks,
        mouse_release_callbacks,
    )

    def event(kind, point, dragging=False):
        return ReadOnlyWrapper(_Mouse(kind, point, dragging), exceptions=("handled",))

    mouse_press_callbacks(layer, event("mouse_press", points[0]))
    for point in points[1:]:
        mouse_move_callbacks(layer, event("mouse_move", point, dragging=True))
    mouse_release_callbacks(layer, event("mouse_release", points[-1]))


def test_mouse_strokes_complete_and_the_eraser_is_a_negative_prompt(annotator, qtbot):
    truth = _open(annotator, "stream_legacy", qtbot) == STREAM
    layer, panel = annotator.mask_layer, annotator.assist
    skeleton = np.argwhere(scribble(truth, np.random.default_rng(7), brush=0))
    layer.mode, layer.selected_label, layer.brush_size = "paint", STREAM, 5
    _drag(layer, [tuple(p) for p in skeleton[::4]])
    qtbot.waitUntil(lambda: panel.preview is not None, timeout=MODEL_S * 1000)
    first = panel.preview.copy()
    assert (layer.data == STREAM).sum() > 0 and iou(first, truth) > 0

    inside = np.argwhere(first)  # erase across the preview, where nothing is painted
    centre = inside[len(inside) // 2]
    layer.mode = "erase"
    before = layer.data.copy()
    _drag(layer, [tuple(centre - (0, 6)), tuple(centre + (0, 6))])
    qtbot.waitUntil(
        lambda: not annotator.session.assist.pending and annotator.session.assist.negative.any(),
        timeout=MODEL_S * 1000,
    )
    erased = annotator.session.assist.negative
    assert erased[tuple(centre)] and erased.sum() >= 5 * 12
    np.testing.assert_array_equal(layer.data[~erased], before[~erased])
    assert (panel.preview & erased).sum() < (first & erased).sum()  # it listened


def _press(viewer, key: str) -> None:
    """Press and release a key as the canvas does (napari's key map handler)."""
    handler = viewer.window._qt_viewer._key_map_handler
    handler.press_key(key)
    handler.release_key(key)


def test_enter_accepts_and_escape_rejects(annotator, qtbot):
    truth = _open(annotator, "tail_legacy", qtbot) == 3
    rng = np.random.default_rng(8)
    _stroke_and_wait(annotator, scribble(truth, rng), 3, qtbot)
    _press(annotator.viewer, "Escape")
    assert annotator.assist.preview is None
    _stroke_and_wait(annotator, scribble(truth, rng), 3, qtbot)
    preview = annotator.assist.preview.copy()
    _press(annotator.viewer, "Enter")
    assert annotator.assist.preview is None and (annotator.mask_layer.data[preview] == 3).all()
    assert annotator.flush()
    assert annotator.queue.store.latest(annotator.current_id, "ada").provenance == "assisted"


def test_a_stroke_of_another_class_over_a_feature_starts_that_feature(annotator, qtbot):
    truth = _open(annotator, "bar_stream_legacy", qtbot)
    _stroke_and_wait(annotator, scribble(truth == STREAM, np.random.default_rng(9)), STREAM, qtbot)
    bar = scribble(truth == 4, np.random.default_rng(9))
    request = _stroke_and_wait(annotator, bar, 4, qtbot)
    assert request.label == 4 and request.positive.any() and not request.negative.any()
    assert annotator.session.assist.preview.label == 4


def test_the_model_loads_in_a_fresh_process_after_the_window(tmp_path):
    """The README's first command: torch is first imported after napari drew (no crash)."""
    script = Path(__file__).parent / "_assist_in_fresh_viewer.py"
    env = {**os.environ, "GALSEG_CONFIG_DIR": str(tmp_path / "config")}
    result = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "masks.zarr")],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "READY galseg-assist.safetensors (CPU" in result.stdout


def test_undo_between_strokes_is_not_taken_for_erasing(annotator, qtbot):
    truth = _open(annotator, "tail_legacy", qtbot) == 3
    layer, rng = annotator.mask_layer, np.random.default_rng(10)
    _stroke_and_wait(annotator, scribble(truth, rng), 3, qtbot)
    assert annotator.accept()
    annotator.undo()  # the merge taken back: those pixels are not an eraser stroke
    skeleton = np.argwhere(scribble(truth, rng, brush=0))
    layer.mode, layer.selected_label, layer.brush_size = "paint", 3, 5
    _drag(layer, [tuple(p) for p in skeleton[::4]])
    qtbot.waitUntil(lambda: annotator.assist.preview is not None, timeout=MODEL_S * 1000)
    assert not annotator.session.assist.negative.any()


@pytest.mark.parametrize("delay", [0.5, 5.0])
def test_closing_while_the_model_loads_or_encodes_ends_cleanly_after_the_last_save(tmp_path, delay):
    """The model's thread is joined and nothing signals into deleted widgets: exit code 0."""
    store = tmp_path / "masks.zarr"
    result = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).parent / "_close_while_busy.py"),
            str(store),
            str(delay),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "GALSEG_CONFIG_DIR": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "CLOSED" in result.stdout and "deleted" not in result.stderr
    masks = MaskStore.open(store, mode="r")
    (cutout_id,) = [i for i in masks.ids() if masks.latest(i, "smoke") is not None]
    assert (masks.load_mask(cutout_id, "smoke") == 1).sum() == 40  # the last save is there
