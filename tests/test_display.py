"""Display images: the stretch the model sees, in 8 bits, as pyramids, off the UI thread."""

import numpy as np
import pytest

from galseg import display
from galseg.annotate import Inbox
from galseg.display import DisplaySettings, Renderer, pyramid, render
from galseg.io import read_cutout
from galseg.samples import sample_dir
from galseg.smoothing import smooth_cutout
from galseg.stretch import PRESETS, normalize, rgb_planes


@pytest.fixture(scope="module")
def cutout():
    return read_cutout(sample_dir() / "stream_legacy.fits")


@pytest.mark.parametrize("stretch", PRESETS)
def test_bands_are_the_normalised_bands_in_8_bits(cutout, stretch):
    images = render(cutout, DisplaySettings(stretch, softening=0.5, smoothing="gauss 2"))
    expected = normalize(smooth_cutout(cutout, "gauss 2"), stretch, softening=0.5)
    assert len(images.bands) == len(cutout.bands) and not images.multiscale
    for (band,), plane in zip(images.bands, expected, strict=True):
        assert band.dtype == np.uint8 and band.shape == cutout.image_shape
        np.testing.assert_array_equal(band, np.rint(plane * 255).astype(np.uint8))
    colour = images.colour[0]
    assert colour.shape == (*cutout.image_shape, 3) and colour.flags.c_contiguous
    planes = np.stack([band for (band,) in images.bands])
    np.testing.assert_array_equal(colour, np.moveaxis(rgb_planes(planes), 0, -1))


def test_large_cutouts_come_as_pyramids_of_block_means(cutout, monkeypatch):
    monkeypatch.setattr(display, "PYRAMID_SIDE", min(cutout.image_shape))
    images = render(cutout)
    assert images.multiscale
    for image in [images.colour, *images.bands]:
        assert len(image) >= 2
        for finer, coarser in zip(image, image[1:], strict=False):
            assert coarser.shape[:2] == tuple(-(-n // 2) for n in finer.shape[:2])
        block = image[0][:2, :2].astype(float).mean(axis=(0, 1))
        np.testing.assert_allclose(image[1][0, 0], block, atol=0.5)
    finest = sum(image[0].nbytes for image in [images.colour, *images.bands])
    assert finest < images.nbytes < 4 / 3 * finest + 64


def test_limits_from_a_sample_of_a_large_band_stay_within_a_grey_level(cutout, monkeypatch):
    exact = render(cutout)
    monkeypatch.setattr(display, "LIMITS_SAMPLE", cutout.data[0].size // 9)
    sampled = render(cutout)
    for (a,), (b,) in zip(exact.bands, sampled.bands, strict=True):
        assert np.abs(a.astype(int) - b).max() <= 3
        assert np.abs(a.astype(int) - b).mean() < 0.5


def test_a_band_without_finite_pixels_shows_black(cutout):
    data = cutout.data.copy()
    data[0] = np.nan
    images = render(type(cutout).from_array(data, cutout.bands))
    assert not images.bands[0][0].any() and images.bands[1][0].any()


def test_the_renderer_answers_the_latest_request_on_the_callers_thread(cutout):
    inbox, answers, errors = Inbox(), [], []
    renderer = Renderer(inbox.post)
    for stretch in ("linear", "asinh", "lsb"):
        renderer.request(cutout, DisplaySettings(stretch), answers.append, errors.append)
    assert renderer.pending
    assert renderer.wait(60)
    inbox.run_pending()
    assert [images.settings.stretch for images in answers] == ["lsb"] and not errors
    assert not renderer.pending
    renderer.request(cutout, DisplaySettings(smoothing="blur"), answers.append, errors.append)
    renderer.wait(60)
    inbox.run_pending()
    assert len(errors) == 1 and "\n" not in errors[0]
    assert errors[0].startswith(f"{cutout.name}: cannot display it: unknown smoothing")
    renderer.close()
    renderer.request(cutout, DisplaySettings(), answers.append, errors.append)
    assert inbox.run_pending(0.2) == 0 and len(answers) == 1


def test_pyramid_halves_odd_sides_by_padding():
    image = np.arange(15, dtype=np.uint8).reshape(5, 3)
    levels = pyramid(image, min_side=1)
    assert [level.shape for level in levels] == [(5, 3), (3, 2), (2, 1), (1, 1)]
    assert levels[1][2, 1] == image[4, 2]  # the padded corner is the last pixel
