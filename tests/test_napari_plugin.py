"""The napari plugin: manifest, reader and sample data in a real viewer (Xvfb)."""

from pathlib import Path
import subprocess
import sys

import numpy as np
import pytest

from galseg.io import write_cutout
from galseg.samples import SAMPLES, sample_dir
from galseg.simulate import simulate_cutout
from galseg.taxonomy import DEFAULT_TAXONOMY

napari = pytest.importorskip("napari")
from napari_galseg import get_reader  # noqa: E402

MANIFEST = Path(__file__).parents[1] / "plugins" / "napari_galseg" / "napari.yaml"


def test_manifest_is_valid_and_registered():
    from npe2 import PluginManager, PluginManifest

    manifest = PluginManifest.from_file(MANIFEST)
    assert manifest.name == "napari-galseg"
    PluginManager.instance().discover()
    assert "napari-galseg" in PluginManager.instance()._manifests


@pytest.mark.parametrize("name", ["a.png", "b.zarr", "c.txt"])
def test_reader_declines_files_it_does_not_own(name):
    assert get_reader(name) is None
    assert get_reader(["x.fits", name]) is None


@pytest.mark.gui
def test_viewer_opens_a_fits_cutout_with_the_plugin(make_napari_viewer, tmp_path):
    cutout, _ = simulate_cutout(3, survey="hsc", size=80)
    path = write_cutout(cutout, tmp_path / "galaxy.fits.fz")[0]
    viewer = make_napari_viewer()
    layers = viewer.open(path, plugin="napari-galseg")
    assert [layer.name for layer in layers] == [
        "galaxy [lsb colour]",
        "galaxy [g]",
        "galaxy [r]",
        "galaxy [i]",
    ]
    composite = layers[0].data
    assert composite.shape == (80, 80, 3) and 0 <= composite.min() and composite.max() <= 1
    assert layers[0].visible and not any(layer.visible for layer in layers[1:])
    np.testing.assert_allclose(layers[1].scale, [1.0, 1.0])  # pixel units, as in the annotator


@pytest.mark.gui
def test_sample_data_shows_the_first_sample_and_its_truth(make_napari_viewer):
    viewer = make_napari_viewer(show=True)
    viewer.open_sample("napari-galseg", "cutouts")
    visible = [layer for layer in viewer.layers if layer.visible]
    first = SAMPLES[0].name
    assert {layer.name for layer in visible} == {f"{first} [lsb colour]", f"{first} [truth]"}
    truth = viewer.layers[f"{first} [truth]"]
    assert truth.data.max() > 0
    stream = DEFAULT_TAXONOMY["tidal_stream"]
    np.testing.assert_allclose(truth.colormap.map(stream.value), stream.rgba, atol=1e-6)
    screenshot = viewer.screenshot(canvas_only=True, flash=False)
    assert screenshot[..., :3].std() > 5  # a rendered galaxy, not a black canvas


def _errors_notified(monkeypatch) -> list[str]:
    """Collect the messages the reader shows in napari's error notifications."""
    import napari_galseg._reader as reader

    shown: list[str] = []
    real = reader._report
    monkeypatch.setattr(reader, "_report", lambda exc: (shown.append(str(exc)), real(exc)))
    return shown


@pytest.mark.gui
def test_folder_with_a_broken_file_opens_the_rest_and_reports_it(
    make_napari_viewer, tmp_path, monkeypatch
):
    shown = _errors_notified(monkeypatch)
    for seed in (1, 2):
        cutout, _ = simulate_cutout(seed, size=48)
        write_cutout(cutout, tmp_path / f"galaxy{seed}.fits.gz")
    (tmp_path / "broken.fits").write_text("not a FITS file at all")
    viewer = make_napari_viewer()
    layers = viewer.open(tmp_path, plugin="napari-galseg")
    names = [layer.name for layer in layers]
    assert "galaxy1 [lsb colour]" in names and "galaxy2 [lsb colour]" in names
    assert len(shown) == 1 and "broken.fits" in shown[0] and "not a FITS file" in shown[0]
    assert [layer.name for layer in layers if layer.visible] == ["galaxy1 [lsb colour]"]


@pytest.mark.gui
def test_a_broken_file_alone_gives_a_notification_not_a_crash(
    make_napari_viewer, tmp_path, monkeypatch
):
    shown = _errors_notified(monkeypatch)
    bad = tmp_path / "truncated.fits"
    bad.write_bytes(b"SIMPLE  =                    T" + b" " * 50)
    viewer = make_napari_viewer()
    assert viewer.open(bad, plugin="napari-galseg") == []
    assert len(shown) == 1 and "truncated.fits" in shown[0]


@pytest.mark.gui
def test_a_mask_store_opens_with_its_masks(make_napari_viewer):
    viewer = make_napari_viewer()
    layers = viewer.open(sample_dir() / "truth.zarr", plugin="napari-galseg")
    truth_layers = [layer for layer in layers if layer.name.endswith("[truth]")]
    assert len(truth_layers) == len(SAMPLES)
    assert sum(layer.visible for layer in truth_layers) == 1
    assert any(layer.data.max() > 0 for layer in truth_layers)


@pytest.mark.gui
def test_reader_shows_bands_if_the_user_last_chose_bands(make_napari_viewer, tmp_path, monkeypatch):
    from galseg.settings import Settings, save_settings

    monkeypatch.setenv("GALSEG_CONFIG_DIR", str(tmp_path / "config"))
    save_settings(Settings(show_bands=True))
    cutout, _ = simulate_cutout(2, size=48)
    path = write_cutout(cutout, tmp_path / "galaxy.fits")[0]
    layers = make_napari_viewer().open(path, plugin="napari-galseg")
    assert [layer.visible for layer in layers] == [False, True, True, True]


def test_reader_leaves_foreign_zarr_and_gz_files_to_other_plugins(tmp_path):
    import zarr

    zarr.open_group(tmp_path / "ome.zarr", mode="w")  # a Zarr v3 group, not a galseg store
    (tmp_path / "scan.nii.gz").write_bytes(b"\x1f\x8b")
    assert get_reader(str(tmp_path / "ome.zarr")) is None
    assert get_reader(str(tmp_path / "scan.nii.gz")) is None
    assert get_reader(str(sample_dir() / "truth.zarr")) is not None


@pytest.mark.gui
def test_plugins_menu_entry_docks_the_annotator(make_napari_viewer, tmp_path, monkeypatch):
    from galseg.settings import Settings, save_settings

    monkeypatch.setenv("GALSEG_CONFIG_DIR", str(tmp_path / "config"))
    save_settings(Settings(annotator="ada"))  # as remembered from an earlier run
    viewer = make_napari_viewer()
    _, opener = viewer.window.add_plugin_dock_widget("napari-galseg", "galseg annotator")
    opener.open(sample_dir(), tmp_path / "masks.zarr")
    widget = opener.annotator_widget
    assert widget is not None and len(widget.queue) == len(SAMPLES)
    assert widget.queue.annotator == "ada"
    widget.close_session()


def test_npe2_validate_passes():
    result = subprocess.run(
        [sys.executable, "-m", "npe2", "validate", "napari-galseg"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_plugin_pins_no_qt_binding_and_offers_one_as_an_extra():
    import tomllib

    project = tomllib.loads((MANIFEST.parents[1] / "pyproject.toml").read_text())["project"]
    bindings = ("pyqt", "pyside")
    assert not any(b in dep.lower() for dep in project["dependencies"] for b in bindings)
    assert any(
        b in dep.lower() for dep in project["optional-dependencies"]["all"] for b in bindings
    )


def test_the_plugin_holds_no_save_or_assist_logic_of_its_own():
    """Saving, undo, the assist loop, models and retraining are the session's (galseg.annotate)."""
    session_only = (
        "save_mask",
        "Autosaver",
        "AssistSession",
        "ModelRunner",
        "merge_preview",
        "finetune(",
        "load_assistant",
        "np.save",
        "create_worker",
        "thread_worker",
        "threading",
        "ThreadPoolExecutor",
        "_reset_history",
    )
    for source in (MANIFEST.parent).glob("*.py"):
        text = source.read_text()
        found = [name for name in session_only if name in text]
        assert not found, f"{source.name} does {found}: that belongs to galseg.annotate"
