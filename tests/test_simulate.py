"""Tests of galseg.simulate: presets, determinism, noise, colours, WCS and the truth rule."""

from __future__ import annotations

from astropy.stats import mad_std
from astropy.wcs.utils import proj_plane_pixel_scales
import numpy as np
import pytest

from galseg import DEFAULT_TAXONOMY, Cutout
from galseg.simulate import (
    FEATURE_KINDS,
    SURVEYS,
    Band,
    Survey,
    simulate_cutout,
    simulate_galaxy,
    surface_brightness_limit,
    truth_limit,
    truth_mask,
    visible,
    visible_limit_flux,
)

TIDAL = ("tidal_stream", "shell", "tidal_tail")
VALUE = {c.name: c.value for c in DEFAULT_TAXONOMY}
LEGACY = SURVEYS["legacy"]
#: Rounding allowed (in mag) when a float32 component, converted to surface
#: brightness, is compared with a threshold.
ROUNDING = 1e-4


def pixel_value(sb: float, zero_point: float, pixel_scale: float) -> float:
    """Pixel value of a surface brightness, written out independently of the code."""
    return 10 ** (-0.4 * (sb - zero_point)) * pixel_scale**2


def visible_peak(sim, kind: str) -> float:
    """Brightest surface brightness of a feature where the host does not outshine it.

    The documented rule: the feature is at least a tenth of the bulge + disc + bar light.
    """
    host = sum(sim.components[c] for c in ("bulge", "disc", "bar") if c in sim.components)
    return sim.surface_brightness(kind)[sim.components[kind] >= 0.1 * host].min()


# Presets, WCS ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "bands", "scale", "zero_point"),
    [
        ("legacy", ("g", "r", "z"), 0.262, 22.5),
        ("hsc", ("g", "r", "i"), 0.168, 27.0),
        ("euclid", ("VIS",), 0.1, 30.0),
        ("rubin", ("u", "g", "r", "i", "z", "y"), 0.2, 31.4),
    ],
)
def test_cutout_follows_its_preset(name, bands, scale, zero_point):
    cutout, truth = simulate_cutout(1, survey=name, size=96)
    assert isinstance(cutout, Cutout)
    assert cutout.shape == (len(bands), 96, 96)
    assert cutout.data.dtype == np.float32
    assert cutout.bands == bands
    assert cutout.pixel_scale == scale
    assert cutout.zero_points == dict.fromkeys(bands, zero_point)
    assert (cutout.survey, cutout.source) == (name, None)
    assert truth.shape == (96, 96)
    assert truth.dtype == np.uint8
    DEFAULT_TAXONOMY.validate_mask(truth)


@pytest.mark.parametrize("name", SURVEYS)
def test_wcs_is_tan_north_up_east_left_with_the_pixel_scale(name):
    cutout, _ = simulate_cutout(2, survey=name, size=64)
    wcs = cutout.wcs
    assert list(wcs.wcs.ctype) == ["RA---TAN", "DEC--TAN"]
    scales = proj_plane_pixel_scales(wcs) * 3600.0
    np.testing.assert_allclose(scales, SURVEYS[name].pixel_scale, rtol=1e-9)
    np.testing.assert_allclose(cutout.sky_coord_centre(), wcs.wcs.crval, atol=1e-9)
    (ra, dec), (ra_x, dec_x), (ra_y, dec_y) = wcs.all_pix2world([[31, 31], [32, 31], [31, 32]], 0)
    assert dec_y > dec  # north is up
    assert (ra_x - ra + 180.0) % 360.0 - 180.0 < 0  # east is left


def test_sky_position_is_seeded():
    crval = [tuple(simulate_cutout(s, size=32)[0].wcs.wcs.crval) for s in (3, 3, 4)]
    assert crval[0] == crval[1] != crval[2]


def test_presets_reproduce_their_published_depths():
    r = LEGACY.band("r")
    assert surface_brightness_limit(r.noise_sb, LEGACY.pixel_scale) == pytest.approx(29.0, abs=0.01)
    vis = SURVEYS["euclid"].band("VIS")
    depth = surface_brightness_limit(vis.noise_sb, 0.1, box=10.0, nsigma=1.0)
    assert depth == pytest.approx(29.8, abs=0.01)
    # 3σ in 5″ boxes is 2.5 log10(2) brighter than 3σ in 10″ boxes.
    assert truth_limit(LEGACY) == pytest.approx(29.0 - 2.5 * np.log10(2.0), abs=0.01)


@pytest.mark.parametrize("name", SURVEYS)
def test_sky_noise_matches_the_preset(name):
    survey = SURVEYS[name]
    sim = simulate_galaxy(5, survey=name, size=256, features=(), contaminants=False)
    for band, plane in zip(survey.bands, sim.cutout.data, strict=True):
        corners = [plane[:48, :48], plane[:48, -48:], plane[-48:, :48], plane[-48:, -48:]]
        measured = mad_std(np.concatenate([c.ravel() for c in corners]))
        expected = pixel_value(band.noise_sb, band.zero_point, survey.pixel_scale)
        assert measured == pytest.approx(expected, rel=0.05), band.name


def test_sky_residuals_change_the_sky_and_nothing_that_decides_the_truth():
    plain = simulate_galaxy(11, size=128, features=("shell",))
    residual = simulate_galaxy(11, size=128, features=("shell",), sky_residuals=True)
    assert np.array_equal(plain.truth, residual.truth)
    assert np.array_equal(plain.noiseless, residual.noiseless)
    assert not np.array_equal(plain.cutout.data, residual.cutout.data)
    again = simulate_galaxy(11, size=128, features=("shell",), sky_residuals=True)
    assert np.array_equal(residual.cutout.data, again.cutout.data)


@pytest.mark.parametrize("name", ["legacy", "euclid"])
def test_sky_residuals_keep_the_pixel_noise_and_add_large_scale_structure(name):
    """Per-pixel σ stays the preset's; averaged over 8x8 boxes the sky varies more than
    white noise allows (σ/8), as resampled noise, gradients and cirrus make it."""
    survey = SURVEYS[name]
    band = survey.reference
    expected = pixel_value(band.noise_sb, band.zero_point, survey.pixel_scale)
    excess = []
    for seed in range(6):
        sim = simulate_galaxy(seed, survey=name, size=256, features=(), sky_residuals=True)
        b = sim.cutout.bands.index(band.name)
        sky = sim.cutout.data[b] - sim.noiseless[b]
        fine = sky - np.kron(sky.reshape(32, 8, 32, 8).mean(axis=(1, 3)), np.ones((8, 8)))
        assert mad_std(fine) == pytest.approx(expected, rel=0.1)
        excess.append(sky.reshape(32, 8, 32, 8).mean(axis=(1, 3)).std() / (expected / 8))
    assert np.median(excess) > 1.5


def test_truth_limit_is_what_5_arcsec_boxes_detect_at_3_sigma():
    side = round(5.0 / LEGACY.pixel_scale)  # 19 px = 4.98″
    means = []
    for seed in (6, 7):
        sim = simulate_galaxy(seed, size=256, features=(), contaminants=False)
        noise = (sim.cutout.band("r") - sim.noiseless[1]).astype(float)
        n = 256 // side
        boxes = noise[: n * side, : n * side].reshape(n, side, n, side)
        means.append(boxes.mean(axis=(1, 3)).ravel())
    three_sigma = 3.0 * np.std(np.concatenate(means))
    measured_sb = 22.5 - 2.5 * np.log10(three_sigma / LEGACY.pixel_scale**2)
    assert measured_sb == pytest.approx(truth_limit(LEGACY), abs=0.15)


def test_a_custom_survey_preset_is_accepted():
    band = Band("y", zero_point=25.0, psf_fwhm=0.9, moffat_beta=3.0, noise_sb=26.0, colour_slope=0)
    survey = Survey("mine", pixel_scale=0.2, bands=(band,), reference_band="y")
    cutout, _ = simulate_cutout(8, survey=survey, size=48)
    assert (cutout.survey, cutout.bands, cutout.zero_points) == ("mine", ("y",), {"y": 25.0})


# Determinism -------------------------------------------------------------------


def test_same_seed_gives_bit_identical_output():
    a, b = simulate_galaxy(11), simulate_galaxy(11)
    assert a.cutout.content_hash == b.cutout.content_hash
    np.testing.assert_array_equal(a.truth, b.truth)
    np.testing.assert_array_equal(a.noiseless, b.noiseless)
    np.testing.assert_equal(dict(a.labels), dict(b.labels))


def test_different_seeds_give_different_galaxies():
    a, b = simulate_galaxy(11), simulate_galaxy(12)
    assert a.cutout.content_hash != b.cutout.content_hash
    assert not np.array_equal(a.components["disc"], b.components["disc"])


def test_forcing_a_feature_leaves_the_rest_of_the_scene_unchanged():
    plain = simulate_galaxy(13, features=())
    stream = simulate_galaxy(13, features=("tidal_stream",), feature_sb=26.5)
    for name in ("bulge", "disc", "contaminant"):
        np.testing.assert_array_equal(plain.components[name], stream.components[name])
    np.testing.assert_array_equal(plain.cutout.wcs.wcs.crval, stream.cutout.wcs.wcs.crval)
    added = stream.noiseless[1].astype(float) - plain.noiseless[1]
    np.testing.assert_allclose(added, stream.components["tidal_stream"], atol=1e-6)
    noise = [s.cutout.data - s.noiseless for s in (plain, stream)]
    np.testing.assert_allclose(noise[0], noise[1], atol=1e-6)


# Features and the truth rule ------------------------------------------------------


@pytest.mark.parametrize("name", SURVEYS)
@pytest.mark.parametrize("kind", FEATURE_KINDS)
def test_a_bright_forced_feature_has_truth_of_its_class(kind, name):
    limit = truth_limit(SURVEYS[name])
    sim = simulate_galaxy(21, name, features=(kind,), feature_sb=limit - 2.0, contaminants=False)
    assert (sim.truth == VALUE[kind]).sum() > 30
    assert set(np.unique(sim.truth)) == {0, VALUE[kind]}
    assert sim.labels[kind] is True
    assert [sim.labels[k] for k in FEATURE_KINDS if k != kind] == [False] * 3


@pytest.mark.parametrize("kind", TIDAL)
def test_a_feature_far_below_the_limit_has_no_truth(kind):
    sim = simulate_galaxy(22, features=(kind,), feature_sb=31.0)
    assert not (sim.truth == VALUE[kind]).any()
    assert sim.labels[kind] is False
    assert sim.labels[f"{kind}_peak_sb"] == 31.0
    assert visible_peak(sim, kind) == pytest.approx(31.0, abs=ROUNDING)


@pytest.mark.parametrize("kind", TIDAL)
def test_truth_pixels_are_those_brighter_than_the_limit_and_not_outshone(kind):
    sim = simulate_galaxy(23, features=TIDAL, feature_sb={kind: 26.5})
    limit = truth_limit(LEGACY)
    labelled = sim.deep_truth == VALUE[kind]
    sb = sim.surface_brightness(kind)
    assert labelled.any()
    assert (sb[labelled] < limit + ROUNDING).all()
    host = sum(sim.components[c] for c in ("bulge", "disc"))
    bright = (sb < limit - ROUNDING) & (sim.components[kind] > 0.11 * host)
    later = {VALUE[k] for k in ("tidal_tail", "tidal_stream", "shell", "bar", "contaminant")}
    later = {v for v in later if v > VALUE[kind] or kind == "tidal_tail" and v != VALUE[kind]}
    covered = np.isin(sim.deep_truth, list(later))
    assert (labelled | covered)[bright].all()
    # the visible truth is the deep truth where the class's own light shows
    seen = visible(sim.components[kind], LEGACY)
    np.testing.assert_array_equal((sim.truth == VALUE[kind])[~covered], (labelled & seen)[~covered])


@pytest.mark.parametrize("name", SURVEYS)
def test_truth_is_present_exactly_when_the_drawn_peak_beats_the_limit(name):
    limit = truth_limit(SURVEYS[name])
    outcomes = set()
    for kind in TIDAL:
        for seed in range(6):
            sim = simulate_galaxy(seed, name, 128, features=(kind,), contaminants=False)
            brighter = sim.labels[f"{kind}_peak_sb"] < limit
            assert (sim.deep_truth == VALUE[kind]).any() == brighter, (kind, seed)
            assert sim.labels[kind] == (sim.truth == VALUE[kind]).any()
            assert brighter or not sim.labels[kind]
            outcomes.add(brighter)
    assert outcomes == {True, False}


def test_a_brighter_stream_has_more_truth_pixels():
    masks = [
        simulate_galaxy(31, features=("tidal_stream",), feature_sb=sb).truth == 1
        for sb in (27.0, 26.0, 25.0)
    ]
    counts = [m.sum() for m in masks]
    assert 0 < counts[0] < counts[1] < counts[2]
    assert not (masks[0] & ~masks[1]).any()
    assert not (masks[1] & ~masks[2]).any()


def test_truth_rule_on_given_components():
    limit = truth_limit(LEGACY)
    bright, faint = pixel_value(limit - 1.0, 22.5, 0.262), pixel_value(limit + 0.5, 22.5, 0.262)
    noise = pixel_value(LEGACY.reference.noise_sb, 22.5, 0.262)
    components = {
        "bulge": np.array([0, 0, 0, 0, 0, 0, 0, 0, 30 * bright]),
        "disc": np.array([0, 0, 30 * bright, 0, 0, bright, 3 * bright, 0, bright]),
        "tidal_stream": np.array([bright, faint, bright, bright, 0, 0, 0, bright, 0]),
        "shell": np.array([0, 0, 0, bright, bright, 0, 0, 0, 0]),
        "tidal_tail": np.array([0, 0, 0, 0, 0, 0, 0, bright, 0]),
        "bar": np.array([0, 0, 0, 0, 0, bright, bright, 0, bright]),
        "contaminant": np.array([0, 0, 0, 0, 2 * noise, 0, 0, 0, 0]),
    }
    # bright stream; too faint; outshone by the disc; shell over stream;
    # contaminant over shell; bar ≥ half the disc; bar < half; stream over
    # tail; bar ≥ half the disc under a far brighter bulge
    expected = [1, 0, 0, 2, 5, 4, 0, 1, 4]
    np.testing.assert_array_equal(truth_mask(components, LEGACY, rule="deep"), expected)


def test_a_bar_mask_runs_across_the_centre_under_the_bulge():
    sim = simulate_galaxy(61, features=("bar",))
    bar = sim.truth == VALUE["bar"]
    y, x = np.unravel_index(np.argmax(sim.components["bulge"]), bar.shape)
    assert bar[y - 1 : y + 2, x - 1 : x + 2].all()
    assert (sim.components["bulge"] > sim.components["bar"])[bar].any()


def test_visible_light_is_what_1_arcsec_smoothing_shows_at_3_sigma():
    sigma = LEGACY.noise_sigma("r")
    limit = visible_limit_flux(LEGACY)
    # a sheet wider than the kernel is visible exactly above the limit
    for factor, seen in ((1.05, True), (0.95, False)):
        sheet = np.full((60, 60), factor * limit)
        assert visible(sheet, LEGACY)[25:35, 25:35].all() == seen
    # a line one pixel wide, at the sky's 1σ per pixel, is spread out by the kernel
    line = np.zeros((60, 60))
    line[30] = sigma
    assert not visible(line, LEGACY).any()
    assert truth_mask(
        {"bulge": 0 * line, "disc": 0 * line, "tidal_stream": line}, LEGACY, rule="deep"
    ).any()
    assert not truth_mask({"bulge": 0 * line, "disc": 0 * line, "tidal_stream": line}, LEGACY).any()


def test_visible_truth_is_the_seen_part_of_the_deep_truth():
    limit = truth_limit(LEGACY)
    shares = []
    for peak in (limit - 2.5, limit - 0.3):
        sim = simulate_galaxy(3, size=256, features=("tidal_stream",), feature_sb=peak)
        deep = sim.deep_truth == VALUE["tidal_stream"]
        seen = sim.truth == VALUE["tidal_stream"]
        assert deep.any() and not (seen & ~deep).any()
        shares.append(seen.sum() / deep.sum())
    assert shares[0] > 0.8 and shares[1] < 0.2


def test_observed_truth_judges_each_feature_with_the_cutouts_own_noise():
    limit = truth_limit(LEGACY)
    value = VALUE["shell"]
    agreement = []
    for peak in (limit - 2.5, limit - 1.5):
        sim = simulate_galaxy(7, size=256, features=("shell",), feature_sb=peak)
        observed, truth = sim.observed_truth() == value, sim.truth == value
        deep = sim.deep_truth == value
        assert not (observed & ~deep).any()  # the noise only decides what is visible
        agreement.append((observed & truth).sum() / (observed | truth).sum())
        # written out: the feature's light plus the noise in the reference band, smoothed
        r = sim.cutout.bands.index("r")
        noise = sim.cutout.data[r] - sim.noiseless[r]
        assert np.array_equal(observed, deep & visible(sim.components["shell"] + noise, LEGACY))
    # a bright shell's visible part hardly depends on the noise; a faint one's edge does
    assert agreement[0] > 0.9 > agreement[1] > 0.5


def test_contaminants_are_labelled_where_brighter_than_the_pixel_noise():
    sim = simulate_galaxy(41, features=())
    labelled = sim.truth == VALUE["contaminant"]
    sb = sim.surface_brightness("contaminant")
    noise_sb = LEGACY.reference.noise_sb
    assert labelled.any()
    assert (sb[labelled] < noise_sb + ROUNDING).all()
    assert labelled[sb < noise_sb - ROUNDING].all()
    assert sim.labels["n_stars"] + sim.labels["n_companions"] > 0


def test_peak_surface_brightness_is_as_requested():
    sbs = {"tidal_stream": 26.3, "shell": 27.1, "tidal_tail": 28.6}
    sim = simulate_galaxy(42, features=TIDAL, feature_sb=sbs)
    for kind, sb in sbs.items():
        assert visible_peak(sim, kind) == pytest.approx(sb, abs=ROUNDING)
        assert sim.labels[f"{kind}_peak_sb"] == sb


def test_colours_differ_between_bands_and_components():
    sim = simulate_galaxy(51, features=(), contaminants=False)
    g, r = (sim.noiseless[LEGACY.band_names.index(b)].astype(float) for b in ("g", "r"))
    bright = r > 30 * pixel_value(LEGACY.band("r").noise_sb, 22.5, 0.262)
    colour = -2.5 * np.log10(g[bright] / r[bright])
    bulge, disc = sim.components["bulge"][bright], sim.components["disc"][bright]
    bulge_share = bulge / (bulge + disc)
    assert bulge_share.max() - bulge_share.min() > 0.5
    # The bulge is redder than the disc: g - r grows with the bulge's share.
    assert np.corrcoef(bulge_share, colour)[0, 1] > 0.9
    assert colour[bulge_share.argmax()] > colour[bulge_share.argmin()] + 0.05
    assert 0.2 < colour.min() < colour.max() < 1.0


def test_labels_are_flat_and_agree_with_the_truth():
    sim = simulate_galaxy(61, features=("shell", "bar"), feature_sb=26.5)
    assert all(type(v) in (bool, int, float) for v in sim.labels.values())
    for kind in FEATURE_KINDS:
        assert sim.labels[kind] == bool((sim.truth == VALUE[kind]).any())
    assert sim.labels["tidal_feature"] is True
    assert np.isnan(sim.labels["tidal_stream_peak_sb"])
    assert 2 <= sim.labels["n_shells"] <= 6
    assert 0 < sim.labels["bar_strength"] < 1
    assert 0 <= sim.labels["disc_inclination"] <= 60
    assert 0 < sim.labels["bulge_to_total"] < 1
    assert sim.labels["truth_limit_sb"] == truth_limit(LEGACY)


def test_random_draws_include_every_feature_and_honest_negatives():
    limit = truth_limit(LEGACY)
    drawn, visible, featureless = dict.fromkeys(TIDAL, 0), dict.fromkeys(TIDAL, 0), 0
    bars = 0
    for seed in range(60):
        labels = simulate_galaxy(seed, size=64, contaminants=False).labels
        featureless += not any(labels[k] for k in FEATURE_KINDS)
        bars += labels["bar_strength"] > 0
        for kind in TIDAL:
            peak = labels[f"{kind}_peak_sb"]
            drawn[kind] += not np.isnan(peak)
            visible[kind] += labels[kind]
            assert not labels[kind] or peak < limit
    assert featureless > 0 and bars > 0
    assert all(drawn[k] > visible[k] > 0 for k in TIDAL)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"survey": "sdss"}, "unknown survey preset 'sdss'"),
        ({"features": ("stream",)}, "unknown features"),
        ({"feature_sb": {"bar": 25.0}}, "feature_sb: unknown kinds"),
        ({"size": 16}, "at least 32"),
    ],
)
def test_bad_arguments_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        simulate_galaxy(0, **kwargs)
