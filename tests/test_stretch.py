"""Tests of galseg.stretch: stretches, presets, sky noise and colour composites."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
import numpy as np
import pytest

from galseg import Cutout, CutoutError
from galseg.stretch import (
    INTERVALS,
    KINDS,
    PRESETS,
    SkyNoise,
    Stretch,
    lupton_rgb,
    normalize,
    preset,
    rgb_composite,
    sky_noise,
)

FAST = settings(max_examples=50, deadline=None)

SHAPES = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=12)

#: Images with any float32 values, NaN and infinities included.
ANY_IMAGES = hnp.arrays(np.float32, SHAPES, elements=st.floats(width=32))

#: float64 images with finite values of a moderate range.
FINITE_IMAGES = hnp.arrays(np.float64, SHAPES, elements=st.floats(-1e6, 1e6, allow_nan=False))


@st.composite
def stretches(draw) -> Stretch:
    """Any valid Stretch: every kind and interval, softening, limits, fill."""
    kind = draw(st.sampled_from(KINDS))
    interval = draw(st.sampled_from(INTERVALS))
    limits = {}
    if interval == "manual":
        low, high = sorted(draw(st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=2)))
        limits = {
            "vmin": draw(st.sampled_from([low, None])),
            "vmax": draw(st.sampled_from([high, None])),
        }
    return Stretch(
        kind=kind,
        interval=interval,
        a=draw(st.floats(1e-3, 1e4)) if kind in ("asinh", "log") else None,
        percentile=draw(st.floats(0, 100, exclude_min=True)),
        fill=draw(st.floats(0, 1)),
        **limits,
    )


# --- Stretch: properties over every kind and interval -----------------------


@FAST
@given(stretch=stretches(), image=ANY_IMAGES)
def test_stretch_output_is_finite_float32_in_unit_range(stretch, image):
    out = stretch(image)
    assert out.dtype == np.float32
    assert out.shape == image.shape
    assert np.isfinite(out).all()
    assert ((out >= 0) & (out <= 1)).all()


@FAST
@given(stretch=stretches(), image=ANY_IMAGES)
def test_stretch_maps_non_finite_pixels_to_fill(stretch, image):
    out = stretch(image)
    bad = ~np.isfinite(image)
    np.testing.assert_array_equal(out[bad], np.float32(stretch.fill))


@FAST
@given(stretch=stretches(), image=ANY_IMAGES)
def test_stretch_is_monotone_within_an_image(stretch, image):
    finite = np.isfinite(image)
    values, out = image[finite], stretch(image)[finite]
    order = np.argsort(values, kind="stable")
    assert (np.diff(out[order]) >= 0).all()


@FAST
@given(stretch=stretches(), image=FINITE_IMAGES)
def test_inverse_recovers_the_normalised_value(stretch, image):
    vmin, vmax = stretch.limits(image)
    if vmax > vmin:
        with np.errstate(over="ignore"):  # a tiny interval sends far values to inf
            normalised = np.clip((image - vmin) / (vmax - vmin), 0, 1)
    else:
        normalised = (image > vmin).astype(float)
    recovered = stretch.transform.inverse(stretch(image).astype(np.float64))
    np.testing.assert_allclose(recovered, normalised, rtol=0, atol=2e-5)


@pytest.mark.parametrize("interval", INTERVALS)
@pytest.mark.parametrize("kind", KINDS)
def test_constant_image_is_all_zero(kind, interval):
    limits = {"vmin": 7.5, "vmax": 7.5} if interval == "manual" else {}
    image = np.full((5, 6), 7.5, dtype=np.float32)
    image[0, 0] = np.nan
    out = Stretch(kind, interval, fill=0.25, **limits)(image)
    assert out[0, 0] == np.float32(0.25)
    np.testing.assert_array_equal(out.ravel()[1:], 0)


def test_degenerate_interval_is_a_step_at_the_limit():
    out = Stretch("asinh", "manual", vmin=2.0, vmax=2.0)(np.array([1.0, 2.0, 2.5, 30.0]))
    np.testing.assert_array_equal(out, [0, 0, 1, 1])


def test_all_nan_image_is_all_fill():
    out = Stretch("log", "zscale", fill=0.5)(np.full((3, 4), np.nan))
    np.testing.assert_array_equal(out, 0.5)


def test_limits_follow_the_interval():
    image = np.arange(101.0)
    assert Stretch("linear", "minmax").limits(image) == (0.0, 100.0)
    assert Stretch("linear", "percentile", percentile=90).limits(image) == pytest.approx((5, 95))
    assert Stretch("linear", "manual", vmin=10.0).limits(image) == (10.0, 100.0)


def test_limits_of_an_image_without_finite_pixels_is_an_error():
    with pytest.raises(CutoutError, match="no finite pixel"):
        Stretch().limits([np.nan, np.inf])


def test_softening_defaults_to_astropy_values():
    assert Stretch("asinh").a == 0.1
    assert Stretch("log").a == 1000.0
    assert Stretch("sqrt").a is None


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"kind": "gamma"}, "unknown stretch 'gamma'; stretches are linear, sqrt, log, asinh"),
        ({"interval": "iqr"}, "unknown interval 'iqr'; intervals are minmax, percentile"),
        ({"percentile": 0.0}, r"percentile must be in \(0, 100\]"),
        ({"percentile": 100.5}, r"percentile must be in \(0, 100\]"),
        ({"percentile": float("nan")}, r"percentile must be in \(0, 100\]"),
        ({"kind": "asinh", "a": 0.0}, "softening a must be a finite number > 0"),
        ({"kind": "log", "a": -2.0}, "softening a must be a finite number > 0"),
        ({"kind": "asinh", "a": float("inf")}, "softening a must be a finite number > 0"),
        ({"kind": "sqrt", "a": 0.5}, "the sqrt stretch takes no softening"),
        ({"interval": "percentile", "vmin": 0.0}, "vmin and vmax need interval='manual'"),
        ({"interval": "manual", "vmin": 2.0, "vmax": 1.0}, "vmin .* is greater than vmax"),
        ({"interval": "manual", "vmax": float("nan")}, "vmin and vmax must be finite"),
        ({"fill": 1.5}, r"fill must be in \[0, 1\]"),
    ],
)
def test_bad_stretch_parameters_are_rejected(params, message):
    with pytest.raises(ValueError, match=message):
        Stretch(**params)


# --- sky noise ---------------------------------------------------------------


def test_sky_noise_recovers_gaussian_noise():
    rng = np.random.default_rng(11)
    image = rng.normal(40.0, 2.5, size=(256, 256))
    level, sigma = sky_noise(image)
    assert level == pytest.approx(40.0, abs=0.05 * 2.5)
    assert sigma == pytest.approx(2.5, rel=0.03)


def test_sky_noise_is_robust_to_bright_outliers_and_nan():
    rng = np.random.default_rng(12)
    image = rng.normal(0.0, 1.0, size=(256, 256))
    hit = rng.random(image.shape) < 0.10
    image[hit] += rng.uniform(5.0, 500.0, size=hit.sum())
    image[:, :8] = np.nan
    assert np.nanstd(image) > 10  # a plain standard deviation is useless here
    level, sigma = sky_noise(image)
    assert abs(level) < 0.1
    assert sigma == pytest.approx(1.0, rel=0.03)


def test_sky_noise_of_a_constant_image_is_zero():
    assert sky_noise(np.full((10, 10), 3.0)) == SkyNoise(3.0, 0.0)


def test_sky_noise_without_finite_pixels_is_an_error():
    with pytest.raises(CutoutError, match="sky noise: the image has no finite pixel"):
        sky_noise(np.full((4, 4), np.nan))


# --- presets -----------------------------------------------------------------


def _lsb_scene(seed: int = 0):
    """Gaussian sky, a flat band at +1 sigma, and a bright de Vaucouleurs galaxy.

    Returns the image and the masks of the band, of blank sky and of the
    galaxy's core (within its effective radius).
    """
    n, sky, sigma, r_e = 200, 0.3, 0.02, 8.0
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:n, :n]
    r = np.hypot(x - n / 2, y - n / 2)
    galaxy = 10 * sigma * np.exp(-7.669 * ((r / r_e) ** 0.25 - 1))
    image = sky + rng.normal(0.0, sigma, size=(n, n)) + galaxy
    band = (y >= 15) & (y < 35)
    image[band] += sigma
    blank = (y >= 50) & (y < 70) & (np.abs(x - n / 2) > 60)
    return image.astype(np.float32), band, blank, r < r_e


def _contrast(stretch: Stretch, image, band, blank) -> float:
    out = stretch(image)
    return float(out[band].mean() - out[blank].mean())


def test_lsb_preset_shows_one_sigma_structure():
    image, band, blank, _ = _lsb_scene()
    lsb = preset("lsb", image)
    lsb_contrast = _contrast(lsb, image, band, blank)
    assert lsb_contrast >= 0.08
    assert _contrast(Stretch("linear", "minmax"), image, band, blank) < lsb_contrast / 10
    assert _contrast(preset("asinh"), image, band, blank) < lsb_contrast


def test_lsb_preset_does_not_saturate_the_core():
    image, _, _, core = _lsb_scene()
    saturated = preset("lsb", image)(image)[core] >= 0.999
    assert saturated.mean() < 0.5
    assert saturated.mean() < (preset("asinh")(image)[core] >= 0.999).mean()


def test_lsb_preset_follows_its_documented_rule():
    image, *_ = _lsb_scene(seed=1)
    sky = sky_noise(image)
    lsb = preset("lsb", image)
    assert (lsb.kind, lsb.interval) == ("asinh", "manual")
    assert lsb.vmin == pytest.approx(sky.level - sky.sigma)
    assert lsb.vmax == pytest.approx(np.percentile(image, 99.9))
    assert lsb.a == pytest.approx(sky.sigma / (lsb.vmax - lsb.vmin))


def test_lsb_preset_ignores_the_units_and_the_sky_level():
    image, *_ = _lsb_scene(seed=2)
    rescaled = 250.0 * image.astype(np.float64) - 40.0
    np.testing.assert_allclose(
        preset("lsb", rescaled)(rescaled), preset("lsb", image)(image), atol=1e-3
    )


def test_lsb_preset_of_a_constant_image_is_all_zero():
    np.testing.assert_array_equal(preset("lsb", np.ones((8, 8)))(np.ones((8, 8))), 0)


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_stretches_to_the_unit_range(name):
    image, *_ = _lsb_scene(seed=3)
    image[:3] = np.nan
    out = preset(name, image)(image)
    assert out.dtype == np.float32 and np.isfinite(out).all()
    assert out.min() == 0 and 0 < out.max() <= 1


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(
        ValueError, match="unknown stretch preset 'hdr'; presets are lsb, asinh, log"
    ):
        preset("hdr")


def test_lsb_preset_needs_the_image():
    with pytest.raises(ValueError, match="'lsb' preset is computed from the image"):
        preset("lsb")


# --- normalize ---------------------------------------------------------------


def test_normalize_gives_each_band_its_own_limits():
    rng = np.random.default_rng(4)
    cube = rng.normal(size=(3, 20, 30)) * np.array([1e-3, 1.0, 1e4])[:, None, None]
    out = normalize(cube, Stretch("linear", "minmax"))
    assert out.dtype == np.float32 and out.shape == cube.shape
    np.testing.assert_array_equal(out.min(axis=(1, 2)), 0)
    np.testing.assert_array_equal(out.max(axis=(1, 2)), 1)


def test_normalize_with_a_preset_name_stretches_band_by_band():
    image, *_ = _lsb_scene(seed=5)
    cube = np.stack([image, 3 * image + 1])
    cube[1, :4] = np.nan
    cutout = Cutout.from_array(cube, bands=["g", "r"])
    out = normalize(cutout, "lsb")
    for i, plane in enumerate(cutout.data):
        np.testing.assert_array_equal(out[i], preset("lsb", plane)(plane))


def test_normalize_needs_a_cube():
    with pytest.raises(ValueError, match=r"shape \(band, y, x\), got shape \(4, 4\)"):
        normalize(np.zeros((4, 4)), "asinh")


# --- colour composites -------------------------------------------------------


def _grz_cutout() -> Cutout:
    """Noise in g, r, z with a source at (5, 5) bright in z only."""
    rng = np.random.default_rng(6)
    data = rng.normal(0.0, 0.01, size=(3, 24, 24))
    data[2, 4:7, 4:7] += 5.0
    data[0, 20, 20] = np.nan
    return Cutout.from_array(data, bands=["g", "r", "z"])


def _assert_rgb(rgb, shape):
    assert rgb.dtype == np.float32
    assert rgb.shape == (*shape, 3)
    assert np.isfinite(rgb).all() and rgb.min() >= 0 and rgb.max() <= 1


def test_lupton_rgb_defaults_to_the_reddest_band_as_red():
    cutout = _grz_cutout()
    rgb = lupton_rgb(cutout)
    _assert_rgb(rgb, cutout.image_shape)
    red, green, blue = rgb[5, 5]
    assert red > 0.5 and red > 5 * max(green, blue)
    np.testing.assert_array_equal(rgb, lupton_rgb(cutout, bands=["z", "r", "g"]))


def test_lupton_rgb_swapping_bands_swaps_channels():
    cutout = _grz_cutout()
    rgb = lupton_rgb(cutout, bands=["z", "r", "g"])
    bgr = lupton_rgb(cutout, bands=["g", "r", "z"])
    np.testing.assert_array_equal(bgr, rgb[..., ::-1])
    assert not np.array_equal(rgb, bgr)


def test_lupton_rgb_takes_an_array_with_band_indices():
    cutout = _grz_cutout()
    np.testing.assert_array_equal(
        lupton_rgb(np.asarray(cutout.data), bands=[2, 1, 0], stretch=0.5, minimum=0.0),
        lupton_rgb(cutout, bands=["z", "r", "g"], stretch=0.5, minimum=[0.0, 0.0, 0.0]),
    )


def test_lupton_rgb_of_one_band_is_grey():
    image, *_ = _lsb_scene(seed=7)
    rgb = lupton_rgb(Cutout.from_array(image, bands=["VIS"]))
    _assert_rgb(rgb, image.shape)
    np.testing.assert_array_equal(rgb[..., 0], rgb[..., 1])
    np.testing.assert_array_equal(rgb[..., 0], rgb[..., 2])
    assert rgb.max() > 0.5


def test_lupton_rgb_of_two_bands_has_their_mean_as_green():
    rng = np.random.default_rng(8)
    cube = rng.uniform(0.0, 1.0, size=(2, 16, 16))
    rgb = lupton_rgb(cube, stretch=1.0, minimum=0.0)
    _assert_rgb(rgb, (16, 16))
    np.testing.assert_allclose(rgb[..., 1], (rgb[..., 0] + rgb[..., 2]) / 2, atol=1.5 / 255)
    assert not np.allclose(rgb[..., 0], rgb[..., 2], atol=0.05)


def test_lupton_rgb_of_many_bands_spans_them():
    cube = np.zeros((5, 8, 8))
    cube[4, 0, 0] = cube[2, 0, 1] = cube[0, 0, 2] = 1.0
    rgb = lupton_rgb(cube, stretch=1.0, minimum=0.0)
    assert np.argmax(rgb[0, 0]) == 0 and np.argmax(rgb[0, 1]) == 1 and np.argmax(rgb[0, 2]) == 2


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"stretch": 0.0}, ValueError, "stretch must be a finite number > 0"),
        ({"Q": -1.0}, ValueError, "Q must be a finite number > 0"),
        ({"minimum": [0.0, 1.0]}, ValueError, "minimum must be one or three finite numbers"),
        ({"bands": ["g", "r", "z", "g"]}, ValueError, "give 1, 2 or 3 bands"),
        ({"bands": []}, ValueError, "give 1, 2 or 3 bands"),
        ({"bands": ["i"]}, CutoutError, "no band 'i'"),
    ],
)
def test_lupton_rgb_rejects_bad_parameters(kwargs, error, message):
    with pytest.raises(error, match=message):
        lupton_rgb(_grz_cutout(), **kwargs)


def test_band_names_need_a_cutout():
    with pytest.raises(ValueError, match="bands of an array are chosen by index"):
        rgb_composite(np.zeros((3, 4, 4)), bands=["z", "r", "g"])


def test_rgb_composite_stretches_each_channel_with_the_preset():
    cutout = _grz_cutout()
    rgb = rgb_composite(cutout)
    _assert_rgb(rgb, cutout.image_shape)
    for channel, band in enumerate(["z", "r", "g"]):
        plane = cutout.band(band)
        np.testing.assert_array_equal(rgb[..., channel], preset("lsb", plane)(plane))


def test_rgb_composite_takes_a_stretch():
    cutout = _grz_cutout()
    rgb = rgb_composite(cutout, bands=["r"], stretch=Stretch("sqrt", "minmax"))
    expected = Stretch("sqrt", "minmax")(cutout.band("r"))
    for channel in range(3):
        np.testing.assert_array_equal(rgb[..., channel], expected)


def test_lupton_rgb_shows_the_sky_as_black_by_default():
    cutout = _grz_cutout()
    offset = Cutout.from_array(np.asarray(cutout.data) + 100.0, bands=cutout.bands)
    np.testing.assert_allclose(lupton_rgb(offset), lupton_rgb(cutout), atol=3 / 255)
    assert np.median(lupton_rgb(offset)) < 0.1


@pytest.mark.parametrize("name", ["lsb", "asinh", "log"])
def test_softening_scales_the_presets_softening(name):
    image = np.random.default_rng(4).normal(10.0, 1.0, size=(64, 64))
    base = preset(name, image)
    softer = preset(name, image, softening=3.0)
    default_a = base.transform.a
    assert softer.transform.a == pytest.approx(3.0 * default_a)
    assert (softer.vmin, softer.vmax, softer.kind) == (base.vmin, base.vmax, base.kind)


def test_softening_leaves_linear_presets_alone_and_must_be_positive():
    assert preset("zscale", softening=5.0) == preset("zscale")
    with pytest.raises(ValueError, match="softening must be a positive number"):
        preset("asinh", softening=0.0)


def test_normalize_and_composite_pass_the_softening_on():
    cube = np.random.default_rng(5).normal(0.0, 1.0, size=(3, 32, 32)) + 0.5
    expected = np.stack([preset("asinh", softening=0.2)(plane) for plane in cube])
    np.testing.assert_array_equal(normalize(cube, "asinh", softening=0.2), expected)
    np.testing.assert_array_equal(
        rgb_composite(cube, stretch="asinh", softening=0.2), np.moveaxis(expected[::-1], 0, -1)
    )


def test_sky_noise_of_a_large_image_uses_a_sample_and_stays_accurate():
    from galseg.stretch import SKY_SAMPLE

    rng = np.random.default_rng(9)
    image = rng.normal(5.0, 2.0, size=(1024, 1024))
    image[400:600, 400:600] += 50.0  # a galaxy
    assert image.size > 10 * SKY_SAMPLE
    level, sigma = sky_noise(image)
    assert level == pytest.approx(5.0, abs=0.03) and sigma == pytest.approx(2.0, rel=0.02)
