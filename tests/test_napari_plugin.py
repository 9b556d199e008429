"""The napari plugin: manifest, reader and sample data in a real viewer (Xvfb)."""

from pathlib import Path

import numpy as np
import pytest

from galseg.io import write_cutout
from galseg.samples import SAMPLES
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
    np.testing.assert_allclose(layers[1].scale, [0.168, 0.168])


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
