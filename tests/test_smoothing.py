"""Display smoothing: faint extended light shows above the noise; the native pixels stay."""

import numpy as np
import pytest

from galseg.settings import Settings, load_settings, save_settings
from galseg.simulate import simulate_cutout
from galseg.smoothing import SMOOTHINGS, smooth, smooth_cutout


@pytest.mark.parametrize("kind", SMOOTHINGS[1:])
def test_smoothing_lowers_the_noise_and_keeps_the_shape_and_nans(kind):
    rng = np.random.default_rng(0)
    data = rng.normal(size=(2, 65, 63)).astype(np.float32)
    data[1, 10, 10] = np.nan
    out = smooth(data, kind)
    assert out.shape == data.shape and out.dtype == np.float32
    assert np.isnan(out[1, 10, 10]) and np.isfinite(out[0]).all()
    assert np.nanstd(out) < 0.6 * np.nanstd(data)


def test_block_averages_are_shown_at_native_size():
    data = np.arange(16, dtype=np.float32).reshape(1, 4, 4)
    out = smooth(data, "2x2")
    assert out[0, 0, 0] == out[0, 1, 1] == data[0, :2, :2].mean()


def test_the_cutout_itself_is_untouched_and_unknown_kinds_are_refused():
    cutout, _ = simulate_cutout(0, size=32)
    before = cutout.data.copy()
    shown = smooth_cutout(cutout, "gauss 2")
    np.testing.assert_array_equal(cutout.data, before)
    assert shown is not cutout and smooth_cutout(cutout, "none") is cutout
    with pytest.raises(ValueError, match="unknown smoothing"):
        smooth(cutout.data, "gauss 9")


def test_the_smoothing_is_remembered(tmp_path, monkeypatch):
    monkeypatch.setenv("GALSEG_CONFIG_DIR", str(tmp_path))
    save_settings(Settings(smoothing="4x4"))
    assert load_settings().smoothing == "4x4"
