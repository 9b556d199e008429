"""The napari annotator, driven as an expert would, in a real viewer under Xvfb."""

from pathlib import Path
import re
import shutil

import numpy as np
import pytest

from galseg import GalsegError, MaskStore
from galseg.io import write_cutout
from galseg.samples import SAMPLES, sample_dir
from galseg.simulate import simulate_cutout
from galseg.taxonomy import MATLAS_TAXONOMY

napari = pytest.importorskip("napari")
from napari_galseg import launch  # noqa: E402

pytestmark = pytest.mark.gui

AUTOSAVE_S = 2.0


@pytest.fixture(autouse=True)
def private_settings(tmp_path, monkeypatch):
    """Keep the remembered annotator name and view choices out of the user's config."""
    monkeypatch.setenv("GALSEG_CONFIG_DIR", str(tmp_path / "config"))


@pytest.fixture
def annotator(make_napari_viewer, tmp_path):
    viewer = make_napari_viewer(show=True)
    widget = launch([sample_dir()], tmp_path / "masks.zarr", "ada", viewer=viewer, assist=False)
    yield widget
    widget.close_session()


def paint_stroke(layer, centre, label, radius=4):
    """Paint with the layer's own brush, as a mouse stroke would."""
    layer.selected_label = label
    layer.brush_size = 2 * radius
    layer.paint(centre, label)


def wait_for_revision(qtbot, store, cutout_id, annotator="ada"):
    qtbot.waitUntil(
        lambda: store.latest(cutout_id, annotator) is not None, timeout=AUTOSAVE_S * 1000
    )
    return store.latest(cutout_id, annotator)


def test_launch_opens_every_sample_layout(annotator):
    queue = annotator.queue
    assert len(queue) == len(SAMPLES)
    for index in range(len(queue)):
        annotator.go(index)
        cutout = annotator.opened.cutout
        assert annotator.current_id == cutout.content_hash[:16]
        assert annotator.mask_layer.data.shape == cutout.image_shape
        assert not annotator.mask_layer.data.any()
        names = [layer.name for layer in annotator.viewer.layers]
        assert names[-1] == "mask" and len(names) == 2 + len(cutout.bands)
        assert annotator.current_id in queue.store


def test_strokes_reach_the_store_within_the_autosave_delay(annotator, qtbot):
    store, layer = annotator.queue.store, annotator.mask_layer
    paint_stroke(layer, (100, 120), label=1)
    revision = wait_for_revision(qtbot, store, annotator.current_id)
    assert revision.annotator == "ada" and revision.provenance == "painted"
    np.testing.assert_array_equal(store.load_mask(annotator.current_id, "ada"), layer.data)
    assert (layer.data == 1).sum() > 20
    qtbot.waitUntil(
        lambda: re.match(r"saved (just now|\d+ s ago)", annotator.save_label.text()), timeout=2000
    )


def test_next_saves_at_once_and_previous_restores(annotator):
    store = annotator.queue.store
    first = annotator.current_id
    paint_stroke(annotator.mask_layer, (60, 60), label=2)
    painted = annotator.mask_layer.data.copy()
    annotator.next()  # no waiting: navigation saves before it moves on
    np.testing.assert_array_equal(store.load_mask(first, "ada"), painted)
    assert annotator.current_id != first
    assert not annotator.mask_layer.data.any()
    annotator.previous()
    assert annotator.current_id == first
    np.testing.assert_array_equal(annotator.mask_layer.data, painted)
    assert annotator.progress_label.text() == f"1 / {len(SAMPLES)} done"


def test_undo_and_redo_are_saved_too(annotator, qtbot):
    store, layer = annotator.queue.store, annotator.mask_layer
    paint_stroke(layer, (50, 50), label=1)
    annotator.flush()
    after_one = layer.data.copy()
    paint_stroke(layer, (150, 150), label=4)
    annotator.flush()
    annotator.undo()  # history survives saves
    np.testing.assert_array_equal(layer.data, after_one)
    qtbot.waitUntil(
        lambda: np.array_equal(store.load_mask(annotator.current_id, "ada"), after_one),
        timeout=AUTOSAVE_S * 1000,
    )
    annotator.redo()
    qtbot.waitUntil(
        lambda: (store.load_mask(annotator.current_id, "ada") == 4).any(),
        timeout=AUTOSAVE_S * 1000,
    )


def test_flags_and_next_unannotated(annotator):
    store = annotator.queue.store
    first = annotator.current_id
    annotator.flag_checks["no_feature"].setChecked(True)
    assert store.flags(first) == {"no_feature": ["ada"]}
    assert annotator.progress_label.text() == f"1 / {len(SAMPLES)} done"
    annotator.next_unannotated()
    assert annotator.queue.index == 1
    annotator.flag_checks["unsure"].setChecked(True)
    annotator.flag_checks["unsure"].setChecked(False)
    assert "unsure" not in store.flags(annotator.current_id)


def test_reopening_restores_the_latest_mask_of_this_annotator(make_napari_viewer, tmp_path):
    store_path = tmp_path / "masks.zarr"
    viewer = make_napari_viewer()
    widget = launch([sample_dir()], store_path, "ada", viewer=viewer, assist=False)
    paint_stroke(widget.mask_layer, (90, 90), label=3)
    painted = widget.mask_layer.data.copy()
    widget.close_session()
    viewer.close()

    again = launch([sample_dir()], store_path, "ada", viewer=make_napari_viewer(), assist=False)
    np.testing.assert_array_equal(again.mask_layer.data, painted)
    again.close_session()
    other = launch([sample_dir()], store_path, "bob", viewer=make_napari_viewer(), assist=False)
    assert not other.mask_layer.data.any()  # bob starts from his own (empty) mask
    other.close_session()


def test_class_keys_and_stretch_controls(annotator):
    layer = annotator.mask_layer
    annotator.viewer.layers.selection.active = layer
    for value in (4, 2):  # keys 1-5 pick a class while painting
        annotator.viewer.window._qt_viewer._key_map_handler.press_key(str(value))
        assert layer.selected_label == value
        assert annotator.class_buttons.checkedId() == value
    before = annotator._image_layers[0].data.copy()
    annotator.stretch_combo.setCurrentText("linear")
    annotator.wait()  # rendered in the background
    assert not np.array_equal(annotator._image_layers[0].data, before)
    annotator.bands_check.setChecked(True)
    assert not annotator._image_layers[0].visible
    assert all(layer.visible for layer in annotator._image_layers[1:])


def test_cursor_readout_gives_sky_position_and_surface_brightness(annotator):
    cutout = annotator.opened.cutout
    y, x = 100, 80
    world = annotator.mask_layer.data_to_world((y, x))
    annotator._update_readout(world)
    text = annotator.readout_label.text()
    assert "mag/arcsec" in text and "RA" in text
    assert annotator.viewer.status == text  # the status bar shows it too
    ra = cutout.wcs.pixel_to_world(x, y).ra.to_string(unit="hour", sep=":", precision=1)
    assert ra[:8] in text


def test_a_broken_file_in_the_queue_is_reported_and_skipped(make_napari_viewer, tmp_path):
    from napari_galseg import _launch

    folder = tmp_path / "cutouts"
    folder.mkdir()
    (folder / "a_broken.fits").write_bytes(b"SIMPLE  =                    T" + b" " * 50)
    cutout, _ = simulate_cutout(4, size=64)
    write_cutout(cutout, folder / "b_good.fits")
    reported = []
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setattr(_launch, "notify_error", reported.append)
    widget = launch(
        [folder], tmp_path / "masks.zarr", "ada", viewer=make_napari_viewer(), assist=False
    )
    monkeypatch.undo()
    assert widget.current_id == cutout.content_hash[:16]  # the first readable one opens
    assert len(reported) == 1 and "a_broken.fits" in reported[0]
    widget.previous()  # the broken one: nothing to paint on, and the viewer stays up
    assert widget.current_id is None and not widget.mask_layer.visible
    widget.close_session()


def test_the_class_buttons_follow_the_layer(annotator):
    annotator.mask_layer.selected_label = 4
    assert annotator.class_buttons.checkedId() == 4 and annotator.session.label == 4
    annotator.class_buttons.button(2).click()
    assert annotator.mask_layer.selected_label == 2


def class_buttons(widget):
    """(label value, text, tooltip) of each class button, in order."""
    return [
        (widget.class_buttons.id(button), button.text(), button.toolTip())
        for button in widget.class_buttons.buttons()
    ]


def swatch_rgb(widget):
    """The RGB (0-255) of each class button's colour swatch, in order."""
    return np.array(
        [
            button.icon().pixmap(14, 14).toImage().pixelColor(7, 7).getRgb()[:3]
            for button in widget.class_buttons.buttons()
        ]
    )


def test_the_annotator_paints_in_the_matlas_classes(make_napari_viewer, qtbot, tmp_path):
    store_path = tmp_path / "matlas.zarr"
    viewer = make_napari_viewer(show=True)
    widget = launch(
        [sample_dir()], store_path, "ada", viewer=viewer, assist=False, taxonomy=MATLAS_TAXONOMY
    )
    classes = MATLAS_TAXONOMY.feature_classes
    expected = [(c.value, f"{c.value}  {c.name.replace('_', ' ')}", c.description) for c in classes]
    assert class_buttons(widget) == expected
    assert [text for _, text, _ in class_buttons(widget)][-2:] == [
        "8  ghost reflection",
        "9  contaminant",
    ]
    # each swatch is its class's colour, within a 16-bit display's rounding (8 of 255)
    colours = np.array([c.rgba[:3] for c in classes]) * 255
    assert np.abs(swatch_rgb(widget) - colours).max() <= 8
    assert widget.class_buttons.buttons()[0].parent().title() == "Class (keys 1-9)"
    layer = widget.mask_layer
    for cls in classes:  # the mask is drawn in their colours
        np.testing.assert_allclose(layer.colormap.map(cls.value), cls.rgba, atol=1e-6)
    viewer.layers.selection.active = layer
    viewer.window._qt_viewer._key_map_handler.press_key("8")
    assert layer.selected_label == 8 and widget.class_buttons.checkedId() == 8
    paint_stroke(layer, (60, 60), 8)
    store = MaskStore.open(store_path, mode="r")
    revision = wait_for_revision(qtbot, store, widget.current_id)
    assert store.taxonomy == MATLAS_TAXONOMY
    assert np.unique(store.load_mask(revision.cutout_id)).tolist() == [0, 8]  # ghost reflection
    widget.close_session()

    # the store carries its classes: opened again without naming them, it shows them
    again = launch([sample_dir()], store_path, "bob", viewer=make_napari_viewer(), assist=False)
    assert class_buttons(again) == expected
    assert np.abs(swatch_rgb(again) - colours).max() <= 8
    again.close_session()
    # and a store of other classes is refused before a window opens
    other = MaskStore.open(tmp_path / "galseg.zarr")
    for store in (other.path, other):  # by path or already open
        with pytest.raises(GalsegError, match="galseg.zarr: the store was made with Taxonomy"):
            launch([sample_dir()], store, "ada", taxonomy=MATLAS_TAXONOMY)


def test_paint_events_give_the_stroke_without_copying_the_mask(annotator):
    layer = annotator.mask_layer
    assert layer.data is annotator.session.mask  # one array, painted in place
    paint_stroke(layer, (40, 40), label=2)
    assert annotator.session.history.can_undo
    assert annotator.undo() and not (layer.data == 2).any()


def test_lsb_screenshot_shows_the_stream_above_the_sky(annotator):
    """Render the stream sample with the LSB preset: the stream outshines the sky beside it.

    The stream region is where the stream's own noiseless surface brightness
    is brighter than 27 mag/arcsec² (about 0.4 sigma of the per-pixel noise);
    the sky region is a band 3-8 pixels away from it with no label at all.
    """
    from scipy import ndimage

    spec = next(spec for spec in SAMPLES if spec.name == "stream_legacy")
    names = [item.name for item in annotator.queue.items]
    annotator.go(names.index(spec.name))
    assert annotator.stretch_combo.currentText() == "lsb"
    annotator.mask_layer.visible = False
    sim = spec.simulate()
    stream = (sim.surface_brightness("tidal_stream") < 27.0) & (sim.truth == 1)
    sky = ndimage.binary_dilation(stream, iterations=8) & ~ndimage.binary_dilation(
        stream, iterations=3
    )
    sky &= sim.truth == 0
    assert stream.sum() > 100 and sky.sum() > 100
    figure = annotator.viewer.export_figure(flash=False)  # the layers' extent, as rendered
    assert figure.shape[:2] == stream.shape
    grey = figure[..., :3].astype(float).mean(axis=-1)
    on, off = grey[stream], grey[sky]
    standard_error = np.sqrt(on.var() / on.size + off.var() / off.size)
    assert on.mean() - off.mean() > 5 * standard_error  # brighter, well beyond the noise


def test_samples_copy_can_be_annotated_without_touching_the_originals(make_napari_viewer, tmp_path):
    copy = tmp_path / "samples"
    shutil.copytree(sample_dir(), copy)
    before = {p.name: p.read_bytes() for p in copy.glob("*.fit*")}
    widget = launch(
        [copy], tmp_path / "masks.zarr", "ada", viewer=make_napari_viewer(), assist=False
    )
    paint_stroke(widget.mask_layer, (30, 30), label=5)
    widget.close_session()
    assert {p.name: p.read_bytes() for p in copy.glob("*.fit*")} == before


def test_a_viewer_killed_while_painting_loses_at_most_two_seconds(tmp_path):
    """SIGKILL the annotator mid-painting: the store opens and holds every older stroke."""
    import os
    import signal
    import subprocess
    import sys
    import threading
    import time

    here = Path(__file__).parent
    sys.path.insert(0, str(here))
    from _painting_viewer import dot_position

    folder = tmp_path / "cutouts"
    folder.mkdir()
    cutout, _ = simulate_cutout(8, size=160)
    write_cutout(cutout, folder / "galaxy.fits")
    store_path = tmp_path / "masks.zarr"
    env = {**os.environ, "GALSEG_CONFIG_DIR": str(tmp_path / "config")}
    child = subprocess.Popen(
        [sys.executable, str(here / "_painting_viewer.py"), str(folder), str(store_path)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    strokes: dict[int, float] = {}

    def read() -> None:
        for line in child.stdout:
            if line.startswith("STROKE"):
                _, k, when = line.split()
                strokes[int(k)] = float(when)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    deadline = time.time() + 60
    while len(strokes) < 45 and time.time() < deadline:  # ~4.5 s of painting
        time.sleep(0.05)
    killed_at = time.time()
    child.send_signal(signal.SIGKILL)
    child.wait()
    reader.join(timeout=5)
    assert len(strokes) >= 45, "the child annotator did not paint"

    store = MaskStore.open(store_path, mode="r")
    (cutout_id,) = store.ids()
    mask = store.load_mask(cutout_id, "ada")
    saved = {k for k in strokes if mask[dot_position(k)] == 1}
    lost = [when for k, when in strokes.items() if k not in saved]
    assert saved == set(range(len(saved))), "saved strokes are a prefix: nothing in between lost"
    oldest_lost = min(lost) if lost else killed_at
    print(f"lost the last {killed_at - oldest_lost:.2f} s of strokes")
    assert killed_at - oldest_lost <= 2.0, f"lost {killed_at - oldest_lost:.2f} s of strokes"


def test_a_failed_save_keeps_the_cutout_and_its_strokes(annotator, monkeypatch):
    from galseg import StoreError

    store = annotator.queue.store
    first = annotator.current_id
    real_save = MaskStore.save_mask

    def full_disk(self, *args, **kwargs):
        raise StoreError(f"{self.path}: cannot write (No space left on device)")

    monkeypatch.setattr(MaskStore, "save_mask", full_disk)
    paint_stroke(annotator.mask_layer, (70, 70), label=1)
    painted = annotator.mask_layer.data.copy()
    annotator.next()
    assert annotator.current_id == first  # refused to move on
    np.testing.assert_array_equal(annotator.mask_layer.data, painted)

    monkeypatch.setattr(MaskStore, "save_mask", real_save)
    annotator.next()
    assert annotator.current_id != first
    np.testing.assert_array_equal(store.load_mask(first, "ada"), painted)


def test_renaming_the_annotator_saves_new_strokes_under_the_new_name(annotator):
    store = annotator.queue.store
    paint_stroke(annotator.mask_layer, (40, 40), label=1)
    annotator.annotator_edit.setText("bob")
    annotator.annotator_edit.editingFinished.emit()
    assert store.latest(annotator.current_id, "ada") is not None  # ada's strokes saved as ada's
    assert not annotator.mask_layer.data.any()  # bob starts from his own mask
    paint_stroke(annotator.mask_layer, (80, 80), label=2)
    annotator.flush()
    assert store.latest(annotator.current_id, "bob").annotator == "bob"
    assert (store.load_mask(annotator.current_id, "ada") == 1).any()
    assert not (store.load_mask(annotator.current_id, "ada") == 2).any()


def test_closing_the_window_saves_the_last_strokes(make_napari_viewer, qtbot, tmp_path):
    """The close request of the main window saves at once (before any autosave).

    The close event is handed to the widget's filter on the main window, as Qt
    does first on a real close; closing the window for real here would pull
    the viewer from under napari's test fixture.
    """
    from qtpy.QtGui import QCloseEvent

    viewer = make_napari_viewer(show=True)
    widget = launch([sample_dir()], tmp_path / "masks.zarr", "ada", viewer=viewer, assist=False)
    qtbot.waitUntil(widget.isVisible)
    paint_stroke(widget.mask_layer, (64, 64), label=4)
    painted = widget.mask_layer.data.copy()
    assert widget._close_filter.eventFilter(widget.window(), QCloseEvent()) is False
    store = MaskStore.open(tmp_path / "masks.zarr", mode="r")
    np.testing.assert_array_equal(store.load_mask(widget.current_id, "ada"), painted)
    widget.close_session()


def test_stretch_choices_are_remembered_for_the_next_session(
    annotator, make_napari_viewer, tmp_path
):
    annotator.stretch_combo.setCurrentText("asinh")
    annotator.softening_spin.setValue(2.5)
    annotator.bands_check.setChecked(True)
    again = launch(
        [sample_dir()], tmp_path / "other.zarr", "ada", viewer=make_napari_viewer(), assist=False
    )
    assert again.stretch_combo.currentText() == "asinh"
    assert again.softening_spin.value() == pytest.approx(2.5)
    assert again.bands_check.isChecked()
    again.close_session()


def test_next_most_informative_and_more_like_this_follow_the_models_scores(
    make_napari_viewer, tmp_path, qtbot
):
    from galseg.rank import similarity_order
    from napari_galseg._models import import_model  # torch after OpenGL: see there

    viewer = make_napari_viewer(show=True)
    widget = launch([sample_dir()], tmp_path / "masks.zarr", "ada", viewer=viewer)
    try:
        # enabled once the model can score the queue (it may be ready already)
        assert widget.informative_button.isEnabled() == widget.session.can_rank
        qtbot.waitUntil(lambda: widget.informative_button.isEnabled(), timeout=120_000)
        assistant = import_model().load_assistant(device="cpu")
        results = assistant.segment_many([item.read() for item in widget.queue.items], embed=True)
        doubt = [r.uncertainty for r in results]
        shown = []
        widget.session.events.scoring_progress.connect(
            lambda done, total: shown.append(widget._scoring_bar.shown)
        )
        paint_stroke(widget.mask_layer, (100, 100), 1)  # the first cutout is done
        widget.informative_button.click()
        expected = max(range(1, len(doubt)), key=lambda i: doubt[i])
        qtbot.waitUntil(lambda: widget.queue.index == expected, timeout=120_000)
        assert shown and all(shown) and not widget._scoring_bar.shown
        assert np.isclose(widget.session.scores.uncertainty[expected], doubt[expected], atol=1e-4)

        widget.like_button.click()  # scored already: at once
        left = [i for i in range(len(doubt)) if i not in (0, expected)]
        vectors = np.stack([results[i].embedding for i in left])
        nearest = left[similarity_order(vectors, results[expected].embedding)[0][0]]
        assert widget.queue.index == nearest
        assert widget.mask_layer.data.shape == widget.opened.cutout.image_shape
    finally:
        widget.close_session()


def test_calibration_cutouts_never_show_their_truth(make_napari_viewer, tmp_path):
    from astropy.io import fits

    from galseg.annotate import Calibration

    viewer = make_napari_viewer(show=True)
    widget = launch(
        [sample_dir()], tmp_path / "masks.zarr", "ada", viewer=viewer, assist=False, calibration=3
    )
    try:
        calibration = widget.session.calibration
        truth = MaskStore.open(calibration.truth_path, mode="r")
        assert isinstance(calibration, Calibration) and widget.calibration is not None
        assert len(widget.queue) == len(SAMPLES) + 3
        seen = set()
        for index in range(len(widget.queue)):
            widget.go(index)
            cutout_id = widget.current_id
            if cutout_id not in calibration.ids:
                continue
            seen.add(cutout_id)
            answer = truth.load_mask(cutout_id)
            assert answer.any() and not re.search("sim|calib|truth", widget.opened.cutout.name)
            for layer in widget.viewer.layers:
                data = np.asarray(layer.data)
                assert data.shape[:2] != answer.shape or not np.array_equal(data, answer)
                if layer.__class__.__name__ == "Labels" and layer.visible:
                    assert not data.any()  # nothing painted yet: no label shows
        assert seen == calibration.ids
        for path in calibration.files:  # the files hold the bands only
            with fits.open(path) as hdus:
                assert all(hdu.data is None or hdu.data.dtype.kind == "f" for hdu in hdus)
        assert widget.calibration.hint is None and not widget.calibration.example_button.isVisible()
    finally:
        widget.close_session()


def test_review_layers_are_hidden_read_only_and_one_can_be_copied(make_napari_viewer, tmp_path):
    store = MaskStore.open(tmp_path / "masks.zarr")
    viewer = make_napari_viewer(show=True)
    widget = launch([sample_dir()], store, "ada", viewer=viewer, assist=False)
    try:
        truth = MaskStore.open(sample_dir() / "truth.zarr", mode="r")
        answer = truth.load_mask(widget.current_id, "truth")
        store.save_mask(widget.current_id, answer, "bea")
        store.save_mask(widget.current_id, np.zeros_like(answer), "cy")
        widget.next()
        widget.previous()
        names = [layer.name for layer in viewer.layers]
        assert names[-1] == "mask" and {"review: bea", "review: cy", "review: consensus"} <= set(
            names
        )
        for name in ("bea", "cy", "consensus"):
            layer = widget.review.layers[name]
            assert not layer.visible and not layer.editable
        assert np.array_equal(widget.review.layers["bea"].data, answer)
        widget.review.choice.setCurrentText("bea")
        widget.review.copy_button.click()
        assert np.array_equal(widget.mask_layer.data, answer)
        latest = MaskStore.open(store.path, mode="r").latest(widget.current_id, "ada")
        assert latest.metadata["copied_from"] == "bea"
        assert viewer.layers.selection.active is widget.mask_layer
    finally:
        widget.close_session()


def test_a_calibration_hint_shows_with_an_example_in_a_viewer_of_its_own(
    make_napari_viewer, tmp_path
):
    """A colleague painted the calibration cutouts as the truth; ada dabs one spot of
    each feature: leaving one, she sees a hint, and its example opens with its truth
    in another viewer, never in hers."""
    from galseg.annotate import Calibration
    from galseg.io import read_cutout

    store = MaskStore.open(tmp_path / "masks.zarr")
    calibration = Calibration.prepare(store.path, 2)
    truth = MaskStore.open(calibration.truth_path, mode="r")
    for path in calibration.files:
        cutout_id = store.add_cutout(read_cutout(path))
        store.save_mask(cutout_id, truth.load_mask(cutout_id), "bea")
    viewer = make_napari_viewer(show=True)
    widget = launch([sample_dir()], store, "ada", viewer=viewer, assist=False, calibration=2)
    panel = widget.calibration
    try:
        for index in range(len(widget.queue)):
            widget.go(index)
            if widget.current_id in calibration.ids:
                break
        answer = truth.load_mask(widget.current_id)
        for value in np.unique(answer[answer > 0]):
            rows, cols = np.nonzero(answer == value)
            paint_stroke(
                widget.mask_layer, (rows[len(rows) // 2], cols[len(cols) // 2]), int(value), 2
            )
        assert panel.hint is None and panel.hint_label.isHidden()
        widget.next()  # leaving it measures her
        hint = panel.hint
        assert hint is not None and hint.name in panel.hint_label.text()
        assert not panel.hint_label.isHidden() and not panel.example_button.isHidden()
        assert "IoU" in panel.skill_label.text()

        panel.example_button.click()
        example = panel.example_viewer
        assert example is not None and example is not viewer
        shown = example.layers["truth"]
        assert np.array_equal(shown.data, hint.truth) and not shown.editable
        assert hint.example.content_hash[:16] not in {*calibration.ids, *store.ids()}
        for layer in viewer.layers:  # her own viewer still shows no truth
            assert layer.name != "truth"
    finally:
        widget.close_session()
    assert panel.example_viewer is None
