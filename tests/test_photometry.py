"""Tests of the cursor read-out: surface brightness and sky position."""

import math
from pathlib import Path
import re

from astropy import units as u
from astropy.coordinates import SkyCoord
import numpy as np
import pytest

from galseg import Cutout, CutoutError
from galseg.io import read_cutout, write_cutout
from galseg.photometry import cursor_readout, surface_brightness
from galseg.simulate import simulate_cutout

SAMPLES = Path(__file__).parent.parent / "sample_data"
READOUT = re.compile(
    r"^RA (?P<ra>\d\d:\d\d:\d\d\.\d\d) Dec (?P<dec>[+-]\d\d:\d\d:\d\d\.\d) \| "
    r"(?P<band>\w+) = (?P<value>\S+)( \((?P<mu>\d+\.\d\d) mag/arcsec²\))?$"
)


@pytest.mark.parametrize("mu", [20.0, 26.41, 29.5])
@pytest.mark.parametrize(("zero_point", "scale"), [(22.5, 0.262), (27.0, 0.168), (30.0, 0.1)])
def test_surface_brightness_inverts_the_flux_of_a_pixel(mu, zero_point, scale):
    value = 10 ** (-0.4 * (mu - zero_point)) * scale**2
    assert surface_brightness(value, zero_point, scale) == pytest.approx(mu, abs=1e-9)


def test_surface_brightness_by_hand():
    # 1 count in a 0.5" pixel is 4 counts per arcsec²: 2.5 log10(4) = 1.505 mag brighter than zp
    assert surface_brightness(1.0, 25.0, 0.5) == pytest.approx(25.0 - 1.50515, abs=1e-5)


@pytest.mark.parametrize("value", [0.0, -0.01, math.nan, math.inf, -math.inf])
def test_no_surface_brightness_without_positive_finite_flux(value):
    assert math.isnan(surface_brightness(value, 22.5, 0.262))


@pytest.mark.parametrize("scale", [0.0, -0.262, math.nan])
def test_a_bad_pixel_scale_is_refused(scale):
    with pytest.raises(ValueError, match="pixel scale"):
        surface_brightness(1.0, 22.5, scale)


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> tuple[Cutout, float]:
    """A simulated Legacy Surveys cutout, with pixel (y 20, x 30) of r at 26.41 mag/arcsec²,
    written to FITS and read back."""
    cutout, _ = simulate_cutout(11, survey="legacy", size=48)
    mu = 26.41
    data = cutout.data.copy()
    r = cutout.bands.index("r")
    data[r, 20, 30] = 10 ** (-0.4 * (mu - cutout.zero_points["r"])) * cutout.pixel_scale**2
    data[r, 21, 30] = -0.004
    planted = Cutout(
        data, cutout.bands, cutout.wcs, cutout.pixel_scale, survey=cutout.survey,
        zero_points=cutout.zero_points,
    )  # fmt: skip
    path = write_cutout(planted, tmp_path_factory.mktemp("photometry") / "planted.fits")[0]
    return read_cutout(path), mu


def test_readout_of_a_planted_pixel(planted):
    cutout, mu = planted
    text = cursor_readout(cutout, "r", 20.2, 29.7)
    match = READOUT.match(text)
    assert match, text
    assert match["band"] == "r" and match["mu"] == f"{mu:.2f}"
    assert float(match["value"]) == pytest.approx(float(cutout.band("r")[20, 30]), rel=1e-3)


def test_readout_position_agrees_with_the_wcs(planted):
    cutout, _ = planted
    y, x = 20.2, 29.7
    match = READOUT.match(cursor_readout(cutout, "r", y, x))
    shown = SkyCoord(match["ra"], match["dec"], unit=(u.hourangle, u.deg))
    truth = cutout.wcs.pixel_to_world(x, y)
    assert shown.separation(truth).arcsec < 0.1  # 0.01 s of RA and 0.1" of Dec
    assert shown.separation(cutout.wcs.pixel_to_world(y, x)).arcsec > 1  # x and y not swapped


def test_the_cursor_picks_the_nearest_pixel(planted):
    cutout, mu = planted
    assert f"({mu:.2f} mag" in cursor_readout(cutout, "r", 20.49, 30.49)
    assert f"({mu:.2f} mag" in cursor_readout(cutout, "r", 19.5, 29.5)
    assert f"({mu:.2f} mag" not in cursor_readout(cutout, "r", 20.51, 30.0)
    assert f"({mu:.2f} mag" not in cursor_readout(cutout, "g", 20.0, 30.0)


def test_a_negative_pixel_shows_its_value_only(planted):
    cutout, _ = planted
    match = READOUT.match(cursor_readout(cutout, "r", 21, 30))
    assert match["value"] == "-0.004" and match["mu"] is None


@pytest.mark.parametrize(("y", "x"), [(-0.51, 5), (5, -0.51), (47.5, 5), (5, 47.5), (-100, -100)])
def test_outside_the_image_is_empty(planted, y, x):
    assert cursor_readout(planted[0], "r", y, x) == ""


def test_inside_the_edges(planted):
    assert cursor_readout(planted[0], "r", -0.5, 47.49) != ""


def test_without_wcs_or_zero_point(planted):
    cutout, mu = planted
    bare = Cutout(cutout.data, cutout.bands, pixel_scale=cutout.pixel_scale)
    value = float(bare.band("r")[20, 30])
    assert cursor_readout(bare, "r", 20, 30) == f"r = {value:.4g}"
    no_wcs = Cutout(cutout.data, cutout.bands, pixel_scale=0.262, zero_points=cutout.zero_points)
    assert cursor_readout(no_wcs, "r", 20, 30) == f"r = {value:.4g} ({mu:.2f} mag/arcsec²)"
    no_scale = Cutout(cutout.data, cutout.bands, wcs=cutout.wcs, zero_points=cutout.zero_points)
    assert "mag" not in cursor_readout(no_scale, "r", 20, 30)


def test_an_unknown_band_raises(planted):
    with pytest.raises(CutoutError, match="no band 'VIS'"):
        cursor_readout(planted[0], "VIS", 1, 1)


def test_readout_on_a_bundled_sample():
    cutout = read_cutout(SAMPLES / "bar_tail_euclid.fits")
    ny, nx = cutout.image_shape
    y, x = ny // 2, nx // 2
    match = READOUT.match(cursor_readout(cutout, "VIS", y, x))
    assert match, cursor_readout(cutout, "VIS", y, x)
    value = float(cutout.band("VIS")[y, x])
    expected = cutout.zero_points["VIS"] - 2.5 * np.log10(value / cutout.pixel_scale**2)
    assert match["mu"] == f"{expected:.2f}"
    centre = SkyCoord(*cutout.sky_coord_centre(), unit=u.deg)
    shown = SkyCoord(match["ra"], match["dec"], unit=(u.hourangle, u.deg))
    assert shown.separation(centre).arcsec < 0.1 + 0.5 * cutout.pixel_scale * math.sqrt(2)
