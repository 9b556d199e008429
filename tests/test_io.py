"""Tests of galseg.io: reading and writing cutouts as FITS files, on real files."""

from __future__ import annotations

import bz2
import gzip
from pathlib import Path
import tempfile
import time
import warnings

import astropy
from astropy.io import fits
from astropy.wcs import WCS
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
import numpy as np
import pytest

from galseg import Cutout, CutoutError, GalsegError
from galseg.io import LAYOUTS, read_cutout, write_cutout

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"  # <repo>/../shared/data
TWOMASS = [SHARED_DATA / "2mass" / f"2MASS_{band}.fits.gz" for band in "jhk"]
ASTROPY_FITS = Path(astropy.__path__[0]) / "io" / "fits"
NGC1316 = ASTROPY_FITS / "tests" / "data" / "comp.fits"
M13_DIR = ASTROPY_FITS / "hdu" / "compressed" / "tests" / "data"
SUFFIXES = (".fits", ".fit", ".fits.gz", ".fz", ".fits.fz")


# ------------------------------------------------------------------- helpers
def make_wcs(ny: int, nx: int, scale_arcsec: float = 0.262) -> WCS:
    """A rotated TAN WCS centred on NGC 1316."""
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [50.6738, -37.2082]
    wcs.wcs.crpix = [(nx + 1) / 2, (ny + 1) / 2]
    angle = np.deg2rad(30.0)
    scale = scale_arcsec / 3600
    wcs.wcs.cd = scale * np.array([[-np.cos(angle), np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return wcs


def make_cutout(bands=("g", "r", "z"), shape=(24, 32), seed=0) -> Cutout:
    """Noisy float32 pixels with a NaN hole, a WCS, zero points and a survey."""
    rng = np.random.default_rng(seed)
    data = rng.normal(0.0, 1.0, size=(len(bands), *shape)).astype(np.float32)
    data[0, 3, 4] = np.nan
    data[-1, -1, -1] = 1e-42  # a subnormal float32 must survive too
    return Cutout.from_array(
        data,
        bands=bands,
        wcs=make_wcs(*shape),
        survey="legacy",
        zero_points={band: 22.5 - 0.1 * i for i, band in enumerate(bands)},
    )


def assert_same_wcs(a: WCS, b: WCS, shape: tuple[int, int]) -> None:
    ha, hb = a.to_header(), b.to_header()
    assert set(ha) == set(hb)
    for key in ha:
        if isinstance(ha[key], str):
            assert ha[key] == hb[key], key
        else:
            assert ha[key] == pytest.approx(hb[key], rel=1e-12, abs=1e-15), key
    ny, nx = shape
    pixels = np.array([[0, 0], [nx - 1, 0], [0, ny - 1], [nx / 2, ny / 3]], dtype=float)
    np.testing.assert_allclose(
        a.all_pix2world(pixels, 0), b.all_pix2world(pixels, 0), rtol=0, atol=1e-10
    )


def assert_bit_identical(a: np.ndarray, b: np.ndarray) -> None:
    assert a.dtype == b.dtype == np.dtype("=f4")
    np.testing.assert_array_equal(a.view(np.uint32), b.view(np.uint32))


def write_hdus(path: Path, *hdus: fits.PrimaryHDU | fits.ImageHDU | fits.BinTableHDU) -> Path:
    """Write HDUs with astropy alone (an empty primary is added before extensions)."""
    if not isinstance(hdus[0], fits.PrimaryHDU):
        hdus = (fits.PrimaryHDU(), *hdus)
    fits.HDUList(list(hdus)).writeto(path)
    return path


def image_hdu(header: dict | None = None, shape=(8, 10), value=1.0) -> fits.ImageHDU:
    hdu = fits.ImageHDU(np.full(shape, value, dtype=np.float32))
    hdu.header.update(header or {})
    return hdu


def read_silently(source, **kwargs) -> Cutout:
    """:func:`read_cutout`, asserting that it emits no warning."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cutout = read_cutout(source, **kwargs)
    assert [str(w.message) for w in caught] == []
    return cutout


def assert_names_file(error: BaseException, path: Path, *words: str) -> None:
    """``error``'s message starts with ``path`` and then says each of ``words``."""
    assert isinstance(error, GalsegError)
    message = str(error)
    assert message.startswith(f"{path}: "), message
    for word in words:
        assert word in message[len(str(path)) :], message


def assert_cutout_error(path: Path, *words: str, source=None, **kwargs) -> None:
    """Reading ``source`` (default: ``path``) fails with a message about ``path``."""
    with pytest.raises(CutoutError) as info:
        read_cutout(path if source is None else source, **kwargs)
    assert_names_file(info.value, path, *words)


# ------------------------------------------------------------- round trips
@pytest.mark.parametrize("suffix", SUFFIXES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_round_trip_is_lossless(tmp_path, layout, suffix):
    cutout = make_cutout()
    written = write_cutout(cutout, tmp_path / f"ngc1316{suffix}", layout=layout)

    if layout == "per-band":
        assert [p.name for p in written] == [f"ngc1316_{b}{suffix}" for b in cutout.bands]
    else:
        assert written == [tmp_path / f"ngc1316{suffix}"]
    assert sorted(tmp_path.iterdir()) == sorted(written)  # no partial files left over

    back = read_silently(written if layout == "per-band" else written[0])
    assert back.bands == cutout.bands
    assert_bit_identical(back.data, cutout.data)
    assert back.content_hash == cutout.content_hash
    assert back.zero_points == cutout.zero_points
    assert back.survey == cutout.survey
    assert back.pixel_scale == pytest.approx(cutout.pixel_scale, rel=1e-9)
    assert_same_wcs(back.wcs, cutout.wcs, cutout.image_shape)
    assert back.source == ", ".join(map(str, written))


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_suffix_chooses_the_compression(tmp_path, suffix):
    path = write_cutout(make_cutout(), tmp_path / f"c{suffix}")[0]
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == suffix.endswith(".gz")
    with fits.open(path, disable_image_compression=True) as hdul:
        tables = [hdu for hdu in hdul[1:] if isinstance(hdu, fits.BinTableHDU)]
        if suffix.endswith(".fz"):
            assert len(tables) == 3
            assert {t.header["ZCMPTYPE"] for t in tables} == {"GZIP_2"}
            assert not any("ZQUANTIZ" in t.header for t in tables)  # not quantized
            # tiles of many whole rows (here all 24), not astropy's slow one-row tiles
            assert {(t.header["ZTILE1"], t.header["ZTILE2"]) for t in tables} == {(32, 24)}
        else:
            assert tables == []


def test_content_hash_is_the_same_for_every_layout(tmp_path):
    cutout = make_cutout(seed=3)
    hashes = set()
    for layout in LAYOUTS:
        for suffix in SUFFIXES:
            written = write_cutout(cutout, tmp_path / f"{layout}{suffix}", layout=layout)
            hashes.add(read_cutout(written).content_hash)
    assert hashes == {cutout.content_hash}


@settings(max_examples=15, deadline=None)
@given(
    hnp.arrays(
        np.float32,
        hnp.array_shapes(min_dims=3, max_dims=3, min_side=1, max_side=9),
        elements=st.floats(width=32, allow_nan=True, allow_infinity=True, allow_subnormal=True),
    ).filter(lambda a: np.isfinite(a).any(axis=(1, 2)).all())  # no all-NaN band
)
def test_any_float32_pixels_round_trip_bit_identically(data):
    cutout = Cutout.from_array(data, bands=[f"b{i}" for i in range(len(data))])
    with tempfile.TemporaryDirectory() as folder:
        for layout, suffix in [("mef", ".fz"), ("cube", ".fits.gz"), ("per-band", ".fits")]:
            written = write_cutout(cutout, Path(folder) / f"c{suffix}", layout=layout)
            assert_bit_identical(read_cutout(written).data, cutout.data)


def test_write_refuses_to_overwrite_unless_asked(tmp_path):
    path = write_cutout(make_cutout(seed=1), tmp_path / "c.fits")[0]
    with pytest.raises(CutoutError) as info:
        write_cutout(make_cutout(seed=2), path)
    assert_names_file(info.value, path, "file exists", "overwrite=True")
    assert read_cutout(path).content_hash == make_cutout(seed=1).content_hash

    write_cutout(make_cutout(seed=2), path, overwrite=True)
    assert read_cutout(path).content_hash == make_cutout(seed=2).content_hash


def test_write_into_a_missing_folder_says_so(tmp_path):
    path = tmp_path / "nowhere" / "c.fits"
    with pytest.raises(CutoutError) as info:
        write_cutout(make_cutout(), path)
    assert_names_file(info.value, path, "no folder")
    assert not (tmp_path / "nowhere").exists()


def test_per_band_write_checks_every_file_before_writing_any(tmp_path):
    taken = tmp_path / "c_r.fits"
    taken.write_bytes(b"keep me")
    with pytest.raises(CutoutError) as info:
        write_cutout(make_cutout(), tmp_path / "c.fits", layout="per-band")
    assert_names_file(info.value, taken, "file exists")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c_r.fits"]
    assert taken.read_bytes() == b"keep me"


@pytest.mark.parametrize(
    ("name", "layout", "words"),
    [("c.png", "mef", "unknown file type"), ("c.fits", "tiles", "unknown layout")],
)
def test_write_rejects_unknown_suffix_and_layout(tmp_path, name, layout, words):
    with pytest.raises(CutoutError) as info:
        write_cutout(make_cutout(), tmp_path / name, layout=layout)
    assert_names_file(info.value, tmp_path / name, words)
    assert list(tmp_path.iterdir()) == []


def test_mef_keywords(tmp_path):
    cutout = make_cutout(bands=("g", "HSC-r"))
    path = write_cutout(cutout, tmp_path / "c.fits")[0]
    with fits.open(path) as hdul:
        primary = hdul[0].header
        assert hdul[0].data is None
        assert (primary["SURVEY"], primary["NBANDS"]) == ("legacy", 2)
        assert primary["ORIGIN"].startswith("galseg ")
        for hdu, band in zip(hdul[1:], cutout.bands, strict=True):
            assert hdu.header["EXTNAME"] == hdu.header["BAND"] == band
            assert hdu.header["MAGZERO"] == cutout.zero_points[band]
            assert hdu.header["PIXSCALE"] == pytest.approx(cutout.pixel_scale)
            assert WCS(hdu.header).wcs.ctype[0] == "RA---TAN"


def test_cube_keywords(tmp_path):
    cutout = make_cutout(bands=("g", "r", "i"))
    path = write_cutout(cutout, tmp_path / "c.fits", layout="cube")[0]
    header = fits.getheader(path)
    assert header["NAXIS"] == 3
    assert [header[f"BAND{i}"] for i in (1, 2, 3)] == ["g", "r", "i"]
    assert header["BANDS"] == "g,r,i"
    assert [header[f"MAGZP{i}"] for i in (1, 2, 3)] == [cutout.zero_points[b] for b in "gri"]


def test_cutout_without_wcs_keeps_its_pixel_scale(tmp_path):
    cutout = Cutout.from_array(np.ones((1, 5, 6)), bands=["r"], pixel_scale=0.168)
    back = read_cutout(write_cutout(cutout, tmp_path / "c.fits")[0])
    assert back.wcs is None
    assert back.pixel_scale == 0.168
    assert back.zero_points == {}
    assert back.survey is None


# ------------------------------------------------------------ pixel values
def test_big_endian_pixels_become_native_float32(tmp_path):
    values = np.arange(20, dtype=">f8").reshape(4, 5) / 7
    path = write_hdus(tmp_path / "be.fits", fits.PrimaryHDU(values))
    assert fits.getdata(path).dtype.byteorder == ">"  # FITS stores big-endian
    cutout = read_silently(path)
    assert cutout.data.dtype == np.dtype("=f4") and cutout.data.dtype.isnative
    np.testing.assert_array_equal(cutout.data[0], values.astype(np.float32))


def test_bscale_bzero_integers_are_scaled(tmp_path):
    raw = np.array([[0, 1, -5], [300, -32768, 32767]], dtype=np.int16)
    hdu = fits.PrimaryHDU(raw)
    hdu.header.update(BSCALE=0.25, BZERO=100.0, BLANK=-32768)
    path = write_hdus(tmp_path / "scaled.fits", hdu)
    with fits.open(path, do_not_scale_image_data=True) as hdul:
        np.testing.assert_array_equal(hdul[0].data, raw)  # the file holds the raw integers

    cutout = read_silently(path)
    expected = raw.astype(np.float64) * 0.25 + 100.0
    expected[raw == -32768] = np.nan  # BLANK
    np.testing.assert_array_equal(cutout.data[0], expected.astype(np.float32))
    np.testing.assert_array_equal(cutout.valid[0], raw != -32768)


def test_unsigned_integers_read_exactly(tmp_path):
    raw = np.array([[0, 1, 40000, 65535]], dtype=np.uint16)
    path = write_hdus(tmp_path / "u16.fits", fits.PrimaryHDU(raw))  # stored as BZERO=32768
    assert fits.getheader(path)["BZERO"] == 32768
    np.testing.assert_array_equal(read_cutout(path).data[0], raw.astype(np.float32))


def test_nan_and_inf_become_nan_and_invalid(tmp_path):
    pixels = np.arange(12, dtype=np.float32).reshape(3, 4)
    pixels[0, 1], pixels[1, 2], pixels[2, 3] = np.nan, np.inf, -np.inf
    path = write_hdus(tmp_path / "holes.fits", image_hdu({"BAND": "g"}), fits.ImageHDU(pixels))
    cutout = read_cutout(path, bands=["b1"])
    bad = ~np.isfinite(pixels)
    assert np.isnan(cutout.data[0][bad]).all()
    np.testing.assert_array_equal(cutout.valid[0], ~bad)
    np.testing.assert_array_equal(cutout.data[0][~bad], pixels[~bad])


# ------------------------------------------------------------------- bands
@pytest.fixture
def mef(tmp_path) -> Path:
    """A MEF file with bands g, r, z of values 1, 2, 3."""
    return write_hdus(
        tmp_path / "mef.fits",
        *(image_hdu({"BAND": band}, value=i + 1) for i, band in enumerate("grz")),
    )


def test_bands_selects_and_reorders(mef):
    cutout = read_cutout(mef, bands=["z", "g"])
    assert cutout.bands == ("z", "g")
    assert cutout.data[:, 0, 0].tolist() == [3.0, 1.0]
    assert read_cutout(mef, bands="r").bands == ("r",)
    assert read_cutout([mef]).bands == ("g", "r", "z")  # one path in a list is that path


def test_missing_band_lists_the_bands_available(mef):
    assert_cutout_error(mef, "no band 'i'", "available are g, r, z", bands=["g", "i"])
    assert_cutout_error(mef, "no band asked for", "available are g, r, z", bands=[])


def test_band_name_priority_band_filter_extname_index(tmp_path):
    path = write_hdus(
        tmp_path / "names.fits",
        image_hdu({"BAND": "g", "FILTER": "F475W", "EXTNAME": "IMG1"}),
        image_hdu({"FILTER": "F606W", "EXTNAME": "IMG2"}),
        image_hdu({"EXTNAME": "z"}),
        image_hdu(),
    )
    assert read_cutout(path).bands == ("g", "F606W", "z", "b3")


def test_single_image_bands(tmp_path):
    plain = write_hdus(tmp_path / "plain.fits", fits.PrimaryHDU(np.ones((4, 4), np.float32)))
    assert read_cutout(plain).bands == ("b0",)
    hdu = fits.PrimaryHDU(np.ones((4, 4), np.float32))
    hdu.header["FILTER"] = "r"
    assert read_cutout(write_hdus(tmp_path / "filter.fits", hdu)).bands == ("r",)
    # astropy keeps the default extension name of a compressed image out of its header
    comp_hdu = fits.CompImageHDU(np.ones((4, 4), np.float32))
    compressed = write_hdus(tmp_path / "comp.fits", comp_hdu)
    assert read_cutout(compressed).bands == ("b0",)


def test_duplicate_band_names_in_one_file(tmp_path):
    path = write_hdus(tmp_path / "dup.fits", image_hdu({"BAND": "g"}), image_hdu({"BAND": "g"}))
    assert_cutout_error(path, "duplicate band name 'g'")


def cube(path: Path, header: dict, planes: int = 3) -> Path:
    data = np.arange(planes * 20, dtype=np.float32).reshape(planes, 4, 5)
    hdu = fits.PrimaryHDU(data)
    hdu.header.update(header)
    return write_hdus(path, hdu)


def test_cube_band_names(tmp_path):
    header = {"BAND1": "u", "BAND2": "g", "BAND3": "r", "BANDS": "x,y,z"}
    numbered = cube(tmp_path / "n.fits", header)
    assert read_cutout(numbered).bands == ("u", "g", "r")  # BAND<i> before BANDS
    listed = cube(tmp_path / "l.fits", {"BAND1": "u", "BANDS": "g, r ,i"})
    assert read_cutout(listed).bands == ("g", "r", "i")
    bare = cube(tmp_path / "b.fits", {})
    cutout = read_cutout(bare, bands=["b2", "b0"])
    assert cutout.bands == ("b2", "b0")
    np.testing.assert_array_equal(cutout.data, fits.getdata(bare)[[2, 0]])


def test_cube_band_count_mismatch(tmp_path):
    assert_cutout_error(cube(tmp_path / "c.fits", {"BANDS": "g,r"}), "BANDS", "3 planes")


def test_cube_zero_points(tmp_path):
    path = cube(tmp_path / "c.fits", {"BANDS": "g,r,z", "MAGZP2": 25.0, "MAGZERO": 22.5})
    assert read_cutout(path).zero_points == {"g": 22.5, "r": 25.0, "z": 22.5}


def test_zero_point_keywords(tmp_path):
    keys = ["MAGZERO", "MAGZP", "ZEROPT", "PHOTZP", "ZP"]
    hdus = [image_hdu({"BAND": f"b{i}", key: 20.0 + i}) for i, key in enumerate(keys)]
    hdus.append(image_hdu({"BAND": "none", "MAGZP": "n/a"}))
    cutout = read_cutout(write_hdus(tmp_path / "zp.fits", *hdus))
    assert cutout.zero_points == {f"b{i}": 20.0 + i for i in range(len(keys))}


def test_zero_point_and_survey_from_primary_header(tmp_path):
    primary = fits.PrimaryHDU()
    primary.header.update(MAGZERO=30.0, TELESCOP="Subaru")
    bands = image_hdu({"BAND": "g", "ZP": 27.0}), image_hdu({"BAND": "r"})
    path = write_hdus(tmp_path / "p.fits", primary, *bands)
    cutout = read_cutout(path)
    assert cutout.zero_points == {"g": 27.0, "r": 30.0}
    assert cutout.survey == "Subaru"


# --------------------------------------------------------- lists of files
def single(path: Path, header: dict | None = None, shape=(6, 7), value=1.0) -> Path:
    hdu = fits.PrimaryHDU(np.full(shape, value, dtype=np.float32))
    hdu.header.update(header or {})
    return write_hdus(path, hdu)


def test_file_list_band_names(tmp_path):
    paths = [
        single(tmp_path / "ngc1316_g.fits", value=1.0),
        single(tmp_path / "legacysurvey-0001m002-image-r.fits.gz", value=2.0),
        single(tmp_path / "whatever.fits", {"FILTER": "i"}, value=3.0),
        single(tmp_path / "ngc1316_x.fits", {"BAND": "z", "FILTER": "y"}, value=4.0),
    ]
    cutout = read_cutout(paths)
    assert cutout.bands == ("g", "r", "i", "z")
    assert cutout.data[:, 0, 0].tolist() == [1.0, 2.0, 3.0, 4.0]
    assert cutout.source == ", ".join(map(str, paths))
    assert read_cutout(paths, bands=["i", "g"]).data[:, 0, 0].tolist() == [3.0, 1.0]


def test_file_list_duplicate_band(tmp_path):
    first = single(tmp_path / "a_g.fits")
    second = single(tmp_path / "b.fits", {"BAND": "g"})
    assert_cutout_error(second, "duplicate band name 'g'", str(first), source=[first, second])


def test_file_list_needs_one_image_per_file(tmp_path, mef):
    other = single(tmp_path / "x_i.fits", shape=(8, 10))
    assert_cutout_error(mef, "8x10, 8x10, 8x10", "one 2-D image", source=[other, mef])


def wcs_at(ra: float, dec: float, shape=(24, 32), shift_pixels: float = 0.0) -> fits.Header:
    """The header of a TAN WCS centred at (ra, dec), its grid moved by ``shift_pixels`` in x."""
    wcs = make_wcs(*shape)
    wcs.wcs.crval = [ra, dec]
    wcs.wcs.crpix = [wcs.wcs.crpix[0] + shift_pixels, wcs.wcs.crpix[1]]
    return wcs.to_header()


def test_files_of_different_galaxies_are_not_merged(tmp_path):
    g = single(tmp_path / "g.fits", {**wcs_at(41.5, -0.2), "BAND": "g"}, shape=(24, 32))
    r = single(tmp_path / "r.fits", {**wcs_at(211.6, 12.3), "BAND": "r"}, shape=(24, 32))
    with pytest.raises(CutoutError) as info:
        read_cutout([g, r])
    assert_names_file(info.value, r, str(g), "RA 211.6", "RA 41.5", "within 1 pixel")


@pytest.mark.parametrize(("shift", "agree"), [(0.4, True), (2.5, False)])
def test_bands_must_agree_on_their_wcs_within_a_pixel(tmp_path, shift, agree):
    header = {**wcs_at(50.67, -37.2), "BAND": "g"}
    g = single(tmp_path / "ngc1316_g.fits", header, shape=(24, 32))
    moved = {**wcs_at(50.67, -37.2, shift_pixels=shift), "BAND": "r"}
    r = single(tmp_path / "ngc1316_r.fits", moved, shape=(24, 32))
    if agree:
        assert read_silently([g, r]).bands == ("g", "r")
    else:
        assert_cutout_error(r, f"{shift:.1f} pixels", str(g), source=[g, r])
    # Extensions of one file are held to the same rule, and named by the file alone
    mef = write_hdus(
        tmp_path / "ngc1316.fits",
        image_hdu({**header, "EXTNAME": "g"}, shape=(24, 32)),
        image_hdu({**moved, "EXTNAME": "r"}, shape=(24, 32)),
    )
    if agree:
        assert read_silently(mef).bands == ("g", "r")
    else:
        assert_cutout_error(mef, "band 'r'", "from band 'g' (centre")


def test_real_2mass_files_one_per_band():
    if not all(path.exists() for path in TWOMASS):
        pytest.skip(f"the real 2MASS files are not in {SHARED_DATA / '2mass'}")
    cutout = read_silently(TWOMASS)
    headers = [fits.getheader(path) for path in TWOMASS]

    # The headers carry BAND (J, H, K), which wins over the file names (j, h, k).
    assert cutout.bands == tuple(h["BAND"].strip() for h in headers)
    assert [b.lower() for b in cutout.bands] == ["j", "h", "k"]
    assert cutout.shape == (3, headers[0]["NAXIS2"], headers[0]["NAXIS1"])
    for plane, path in zip(cutout.data, TWOMASS, strict=True):
        np.testing.assert_array_equal(plane, fits.getdata(path).astype(np.float32))
    assert cutout.valid.all()

    assert cutout.wcs is not None and cutout.wcs.has_celestial
    assert cutout.pixel_scale == pytest.approx(abs(headers[0]["CDELT1"]) * 3600, rel=1e-6)
    k = headers[2]
    reference_pixel = [[k["CRPIX1"] - 1, k["CRPIX2"] - 1]]  # FITS counts pixels from 1
    assert cutout.wcs.all_pix2world(reference_pixel, 0)[0] == pytest.approx(
        (k["CRVAL1"], k["CRVAL2"])
    )
    assert cutout.zero_points == {h["BAND"].strip(): h["MAGZP"] for h in headers}


def test_real_2mass_band_from_file_name_when_header_has_none(tmp_path):
    if not TWOMASS[2].exists():
        pytest.skip(f"the real 2MASS files are not in {SHARED_DATA / '2mass'}")
    with fits.open(TWOMASS[2]) as hdul:
        del hdul[0].header["BAND"]
        hdul.writeto(tmp_path / "2MASS_k.fits.gz")
        other = single(tmp_path / "other.fits", {"BAND": "J"}, shape=hdul[0].data.shape)
    assert read_cutout([tmp_path / "2MASS_k.fits.gz", other]).bands == ("k", "J")


# --------------------------------------------------- astropy's real files
def astropy_file(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"astropy's test file {path} is not installed")
    return path


def test_real_tile_compressed_ngc1316():
    path = astropy_file(NGC1316)
    cutout = read_silently(path)
    with fits.open(path) as hdul:
        assert isinstance(hdul[1], fits.CompImageHDU)
        expected = hdul[1].data.astype(np.float32)
        header = hdul[1].header
    assert cutout.bands == ("b0",)
    np.testing.assert_array_equal(cutout.data[0], expected)
    assert cutout.survey == header["TELESCOP"].strip()
    assert cutout.wcs.wcs.ctype[0] == "RA---SIN"
    assert cutout.pixel_scale == pytest.approx(abs(header["CDELT1"]) * 3600, rel=1e-6)


@pytest.mark.parametrize("compression", ["gzip", "hcomp", "plio", "rice"])
def test_real_m13_compressions_read_the_same_pixels(compression):
    reference = read_cutout(astropy_file(M13_DIR / "m13.fits"))
    path = astropy_file(M13_DIR / f"m13_{compression}.fits")
    with fits.open(path, disable_image_compression=True) as hdul:
        header = hdul[1].header
    assert header["ZBITPIX"] == 16  # integer pixels: RICE, GZIP and PLIO are lossless on them
    if header["ZCMPTYPE"].startswith("HCOMPRESS"):
        assert (header["ZNAME1"], header["ZVAL1"]) == ("SCALE", 0)  # scale 0: lossless
    compressed = read_silently(path)
    assert_bit_identical(compressed.data, reference.data)
    assert compressed.content_hash == reference.content_hash
    assert_same_wcs(compressed.wcs, reference.wcs, reference.image_shape)


def test_real_compressed_float_image_with_nan():
    path = astropy_file(M13_DIR / "compressed_with_nan.fits")
    cutout = read_cutout(path)
    expected = fits.getdata(path).astype(np.float32)
    assert np.isnan(expected).any()
    np.testing.assert_array_equal(cutout.data[0], expected)
    np.testing.assert_array_equal(cutout.valid[0], np.isfinite(expected))


def test_bzip2_file(tmp_path):
    plain = single(tmp_path / "p.fits", {"BAND": "r"}, value=5.0)
    packed = tmp_path / "p.fits.bz2"
    packed.write_bytes(bz2.compress(plain.read_bytes()))
    np.testing.assert_array_equal(read_cutout(packed).data, read_cutout(plain).data)


# ------------------------------------------------------------------- WCS
def test_no_wcs_is_none_without_warning(tmp_path):
    path = single(tmp_path / "p.fits", {"PIXSCALE": 0.2})
    cutout = read_silently(path)
    assert cutout.wcs is None
    assert cutout.pixel_scale == 0.2


SINGULAR_CD = ("CD1_1", "CD1_2", "CD2_1", "CD2_2")


@pytest.mark.parametrize(
    "header",
    [
        {"CTYPE1": "RA---FOO", "CTYPE2": "DEC--FOO"},  # unknown projection
        {"CTYPE1": "RA---TAN", "CTYPE2": "GLAT-TAN"},  # mismatched axes
        {"CTYPE1": "RA---TAN", "CTYPE2": "DEC--TAN", "CDELT1": 0.0, "CDELT2": 1e-4},
        {"CTYPE1": "RA---TAN", "CTYPE2": "DEC--TAN", "CRVAL2": 200.0},
        {"CTYPE1": "RA---TAN", "CTYPE2": "DEC--TAN", **dict.fromkeys(SINGULAR_CD, 1e-4)},
    ],
)
def test_broken_wcs_is_none_with_a_warning_naming_the_file(tmp_path, header):
    path = single(tmp_path / "broken_wcs.fits", {**header, "PIXSCALE": 0.5})
    with pytest.warns(UserWarning, match="broken_wcs.fits: ignoring its broken WCS") as record:
        cutout = read_cutout(path)
    assert len(record) == 1
    assert cutout.wcs is None
    assert cutout.pixel_scale == 0.5
    np.testing.assert_array_equal(cutout.data, 1.0)


# ------------------------------------------------------------ bad input
def chop(path: Path, keep: float | int) -> Path:
    raw = path.read_bytes()
    path.write_bytes(raw[: keep if isinstance(keep, int) else int(len(raw) * keep)])
    return path


@pytest.fixture
def written(tmp_path):
    """A function of (suffix, layout) that writes a 3-band 64x64 cutout, giving its file."""

    def write(suffix: str, layout: str = "mef") -> Path:
        return write_cutout(make_cutout(shape=(64, 64)), tmp_path / f"c{suffix}", layout=layout)[0]

    return write


def test_missing_file(tmp_path):
    assert_cutout_error(tmp_path / "nothere.fits", "no such file")


def test_directory(tmp_path):
    assert_cutout_error(tmp_path, "directory")


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("notes.fits", b"RA = 50.67, Dec = -37.21\n" * 200),
        ("image.png", b"\x89PNG\r\n\x1a\n" + bytes(2000)),
        ("fake.fits.gz", gzip.compress(b"not fits inside a gzip " * 200)),
    ],
)
def test_not_a_fits_file(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    assert_cutout_error(path, "not a FITS file")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.fits"
    path.touch()
    assert_cutout_error(path, "empty file")


@pytest.mark.parametrize(
    ("suffix", "layout", "keep"),
    [
        (".fits", "mef", 0.5),  # in the second band's data
        (".fits", "mef", 0.9),  # in the last band's data
        (".fits", "cube", 0.6),
        (".fits.gz", "mef", 0.5),
        (".fits.gz", "mef", 0.97),  # only the gzip trailer is missing
        (".fz", "mef", 0.8),
    ],
)
def test_truncated_file(written, suffix, layout, keep):
    assert_cutout_error(chop(written(suffix, layout), keep), "truncated")


def test_file_cut_inside_a_header(written):
    path = written(".fits")
    with fits.open(path) as hdul:
        last_header = hdul.fileinfo(len(hdul) - 1)["hdrLoc"]
    assert_cutout_error(chop(path, last_header + 1000), "truncated")


def test_corrupt_compressed_tile(written):
    path = written(".fz")
    raw = bytearray(path.read_bytes())
    with fits.open(path) as hdul:
        start = hdul.fileinfo(1)["datLoc"] + 1000
    raw[start : start + 200] = bytes(200)
    path.write_bytes(bytes(raw))
    assert_cutout_error(path, "cannot decode band 'g'")


def test_no_image_data(tmp_path):
    column = fits.Column(name="flux", format="E", array=[1.0, 2.0])
    table = write_hdus(tmp_path / "table.fits", fits.BinTableHDU.from_columns([column]))
    assert_cutout_error(table, "no image data", "BinTableHDU")
    empty = write_hdus(tmp_path / "empty_primary.fits", fits.PrimaryHDU())
    assert_cutout_error(empty, "no image data", "PRIMARY (PrimaryHDU)")


def test_bands_of_different_shapes_in_a_mef(tmp_path):
    path = write_hdus(
        tmp_path / "shapes.fits", image_hdu({"BAND": "g"}), image_hdu({"BAND": "r"}, shape=(8, 11))
    )
    assert_cutout_error(path, "different shapes", "g 8x10", "r 8x11")
    assert read_cutout(path, bands=["r"]).image_shape == (8, 11)  # selection avoids the odd band


def test_bands_of_different_shapes_in_a_file_list(tmp_path):
    g = single(tmp_path / "c_g.fits", shape=(6, 7))
    r = single(tmp_path / "c_r.fits", shape=(7, 6))
    assert_cutout_error(r, "different shapes", "g 6x7", "r 7x6", source=[g, r])


def test_all_nan_band(tmp_path):
    bands = image_hdu({"BAND": "g"}), image_hdu({"BAND": "r"}, value=np.nan)
    path = write_hdus(tmp_path / "nan.fits", *bands)
    assert_cutout_error(path, "band 'r' has no finite pixel")


@pytest.mark.parametrize("shape", [(50,), (2, 3, 4, 5), (1, 1, 2, 3, 4)])
def test_wrong_dimensions(tmp_path, shape):
    path = write_hdus(tmp_path / "dims.fits", fits.PrimaryHDU(np.ones(shape, np.float32)))
    assert_cutout_error(path, f"{len(shape)}-D data")


def test_cube_next_to_other_images(tmp_path):
    three_d = fits.ImageHDU(np.ones((2, 4, 4), np.float32))
    path = write_hdus(tmp_path / "mixed.fits", three_d, image_hdu())
    assert_cutout_error(path, "3-D cube and other images")


def test_image_larger_than_the_limit(tmp_path):
    path = single(tmp_path / "big.fits", shape=(30, 40))
    assert_cutout_error(path, "30 x 40", "1000", max_pixels=1000)
    assert read_cutout(path, max_pixels=1200).image_shape == (30, 40)


def test_empty_list_of_files():
    with pytest.raises(GalsegError, match="no FITS file given"):
        read_cutout([])


def test_errors_hide_astropy_tracebacks(tmp_path):
    path = chop(single(tmp_path / "t.fits", shape=(100, 100)), 0.5)
    with pytest.raises(CutoutError) as info:
        read_cutout(path)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_gzip_output_is_byte_reproducible(tmp_path):
    first = write_cutout(make_cutout(seed=3), tmp_path / "a.fits.gz")[0]
    time.sleep(1.1)  # a gzip header time stamp would now differ
    second = write_cutout(make_cutout(seed=3), tmp_path / "b.fits.gz")[0]
    assert first.read_bytes() == second.read_bytes()
