"""Tests of the independent benchmark family (benchmarks/independent_cases.py)."""

import doctest
import importlib.util
from pathlib import Path
import subprocess
import sys

from astropy.wcs.utils import proj_plane_pixel_scales
import numpy as np
import pytest
from scipy.ndimage import binary_dilation, gaussian_filter

from galseg import Cutout

PATH = Path(__file__).parents[1] / "benchmarks" / "independent_cases.py"
N = 2
SIZE = 128


def load():
    spec = importlib.util.spec_from_file_location("independent_cases", PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


family = load()


@pytest.fixture(scope="module")
def cases():
    return family.independent_cases(N, seed=7, size=SIZE)


def test_n_cases_per_kind_in_order_with_consistent_shapes(cases):
    assert [c.kind for c in cases] == [k for k in family.FAMILY_KINDS for _ in range(N)]
    for case in cases:
        cutout = case.cutout
        assert isinstance(cutout, Cutout)
        assert cutout.shape == (3, SIZE, SIZE) and cutout.data.dtype == np.float32
        assert cutout.bands == ("g", "r", "z") and cutout.survey == "legacy"
        assert cutout.pixel_scale == pytest.approx(0.262)
        assert cutout.zero_points == {"g": 22.5, "r": 22.5, "z": 22.5}
        assert cutout.wcs.wcs.ctype[0] == "RA---TAN" and cutout.wcs.celestial.naxis == 2
        assert proj_plane_pixel_scales(cutout.wcs) * 3600 == pytest.approx([0.262, 0.262])
        assert np.isfinite(cutout.data).all()
        for mask in (case.target, case.other):
            assert mask.shape == (SIZE, SIZE) and mask.dtype == bool
        assert case.name


def test_targets_are_big_enough_and_disjoint_from_the_other_features(cases):
    for case in cases:
        assert case.target.sum() >= family.MIN_TARGET_PIXELS
        assert not (case.target & case.other).any()


def test_deterministic_in_the_seed_and_different_between_seeds(cases):
    again = family.independent_cases(N, seed=7, size=SIZE)
    other = family.independent_cases(1, seed=8, size=SIZE)
    for a, b in zip(cases, again, strict=True):
        assert a.name == b.name and a.cutout.content_hash == b.cutout.content_hash
        np.testing.assert_array_equal(a.target, b.target)
        np.testing.assert_array_equal(a.other, b.other)
    assert other[0].cutout.content_hash != cases[0].cutout.content_hash


def test_a_smaller_n_is_a_prefix_of_a_larger_one(cases):
    first = family.independent_cases(1, seed=7, size=SIZE)
    assert [c.cutout.content_hash for c in first] == [c.cutout.content_hash for c in cases[::N]]


def test_the_target_stands_out_of_the_sky_in_the_image(cases):
    sky = family.flux(family.NOISE_SB["r"])
    white = gaussian_filter(np.random.default_rng(0).standard_normal((SIZE, SIZE)), 1 / 0.262)
    for case in cases:
        r = case.cutout.band("r").astype(float)
        smoothed = gaussian_filter(r - np.median(r), 1 / 0.262)
        assert smoothed[case.target].mean() >= 3 * white.std() * sky, case.name


@pytest.mark.parametrize("kind", family.FAMILY_KINDS)
def test_the_truth_is_the_features_visible_light(kind):
    """Restated from the rule: each labelled pixel's own light is visible and not
    outshone, and a feature is brighter inside its truth than just outside it."""
    scene = family._draw_scene(np.random.default_rng([1, 2]), kind, SIZE)
    assert kind in scene.kinds
    for i, (feature, own) in enumerate(zip(scene.kinds, scene.light, strict=True)):
        truth = scene.labels == i + 1
        if not truth.any():
            continue
        assert (gaussian_filter(own, 1 / 0.262)[truth] >= 3 * scene.sigma).all()
        if feature == "bar":
            assert (own[truth] >= 0.5 * scene.disc[truth]).all()
        else:
            assert (own[truth] >= 0.1 * scene.galaxies[truth]).all()
            assert (own[truth] >= family.flux(28.25)).all()
        near = binary_dilation(truth, iterations=3) & ~truth & (scene.labels == 0)
        if near.any():
            assert own[truth].mean() > own[near].mean()


def test_the_observed_truth_judges_the_same_light_with_the_sky_noise(cases):
    """Where the noise lifts faint light over the limit or hides it, the two differ;
    a bar, bright over its whole mask, is the same under either."""
    agreement = {}
    for case in cases:
        union = (case.observed | case.target).sum()
        agreement.setdefault(case.kind, []).append((case.observed & case.target).sum() / union)
    assert np.mean(agreement["bar"]) > 0.97
    tidal = [v for kind in ("tidal_stream", "shell", "tidal_tail") for v in agreement[kind]]
    assert 0.2 < np.mean(tidal) < 0.97


def test_featureless_cutouts_have_sky_and_hosts_but_no_feature():
    cutouts = family.featureless_cutouts(2, seed=7, size=SIZE)
    assert [c.shape for c in cutouts] == [(3, SIZE, SIZE)] * 2
    assert cutouts[0].content_hash != cutouts[1].content_hash
    scenes = [
        family._draw_scene(np.random.default_rng([7, len(family.FAMILY_KINDS), i]), None, SIZE)
        for i in range(2)
    ]
    assert [s.cutout.content_hash for s in scenes] == [c.content_hash for c in cutouts]
    assert all(not s.labels.any() and not s.kinds for s in scenes)


def test_bad_size_is_refused():
    with pytest.raises(ValueError, match="size"):
        family.independent_cases(1, size=32)


def test_imports_no_galseg_simulator_or_model():
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('ic', {str(PATH)!r})\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "module.independent_cases(1, size=96)\n"
        "assert 'galseg.simulate' not in sys.modules, 'simulate'\n"
        "assert 'galseg.model' not in sys.modules, 'model'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_docstring_examples_run():
    result = doctest.testmod(family)
    assert result.attempted > 0 and result.failed == 0
