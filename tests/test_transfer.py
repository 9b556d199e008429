"""Tests of ``galseg.transfer``: masks carried between surveys' pixel grids by WCS."""

from dataclasses import replace
from functools import partial
from pathlib import Path
import shutil

from astropy.coordinates import SkyCoord
from astropy.io import fits
import astropy.units as u
from astropy.wcs import WCS
import numpy as np
import pytest
from scipy import ndimage

from galseg import Cutout, GalsegError, MaskStore, simulate, write_cutout
from galseg.cli import main
from galseg.store import Revision
from galseg.transfer import covered_pixels, reproject_mask, transfer_masks

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CENTRE = SkyCoord(150.0 * u.deg, 2.0 * u.deg)


# Grids pointed at CENTRE and the same sky shapes drawn on them: a tilted ellipse
# (class 3), a disc (class 2) and, given a width, a stream along an 8" arc (class 1).
tan_wcs = partial(simulate.tan_wcs, centre=CENTRE)
sky_offsets = partial(simulate.sky_offsets, centre=CENTRE)
draw = partial(simulate.sky_shapes, centre=CENTRE)


def iou(a, b):
    return (a & b).sum() / (a | b).sum()


# Grids of different scale, rotation and size over the same sky.
SOURCE_SHAPE, TARGET_SHAPE = (240, 260), (90, 110)
SOURCE = tan_wcs(0.1, SOURCE_SHAPE)  # Euclid VIS
TARGET = tan_wcs(0.262, TARGET_SHAPE, rotation=35.0, shift=(3.0, -2.0))  # Legacy Surveys


def test_a_mask_drawn_on_the_sky_lands_where_it_should_and_comes_back():
    source_mask = draw(SOURCE, SOURCE_SHAPE)
    labels, covered = reproject_mask(source_mask, SOURCE, TARGET, TARGET_SHAPE)
    truth = draw(TARGET, TARGET_SHAPE)
    assert labels.dtype == np.uint8 and labels.shape == covered.shape == TARGET_SHAPE
    assert not labels[~covered].any()
    for value in (2, 3):
        assert iou(labels == value, truth == value) >= 0.9, value

    back, back_covered = reproject_mask(labels, TARGET, SOURCE, SOURCE_SHAPE)
    for value in (2, 3):
        mine, theirs = back == value, (source_mask == value) & back_covered
        assert iou(mine, theirs) >= 0.9, value


def test_pixels_outside_the_source_are_not_covered():
    # The target reaches 14.4" x 11.8" from its centre, the source only 13" x 12":
    # rotated by 35 degrees, its corners lie outside the source.
    labels, covered = reproject_mask(draw(SOURCE, SOURCE_SHAPE), SOURCE, TARGET, TARGET_SHAPE)
    assert covered.any() and not covered.all()
    for y, x in [(0, 0), (0, 109), (89, 0), (89, 109)]:
        east, north = CENTRE.spherical_offsets_to(TARGET.pixel_to_world(x, y))
        inside = abs(east.to_value(u.arcsec)) < 12.5 and abs(north.to_value(u.arcsec)) < 11.5
        assert covered[y, x] == inside


def test_a_thin_stream_stays_connected_on_a_coarser_grid():
    stream = draw(SOURCE, SOURCE_SHAPE, stream_width=0.2) == 1  # 2 pixels wide at 0.1"/px
    labels, _ = reproject_mask(stream, SOURCE, TARGET, TARGET_SHAPE)
    _, n_pieces = ndimage.label(labels == 1, structure=np.ones((3, 3)))
    assert n_pieces == 1
    # it follows the arc: every labelled pixel within a pixel of it, from end to end
    east, north = sky_offsets(TARGET, TARGET_SHAPE)
    radius = np.hypot(east, north)[labels == 1]
    assert np.abs(radius - 8.0).max() < 0.262 * 1.5
    angles = np.degrees(np.arctan2(north, east))[labels == 1] % 360
    assert angles.min() < 203 and angles.max() > 337


def test_several_overlapping_sources_are_combined(tmp_path, monkeypatch):
    # Two Euclid-like cutouts side by side, each with half of a tilted ellipse
    # painted by ada, and one with a disc painted by bob; one Legacy-like target.
    source = MaskStore.open(tmp_path / "euclid.zarr")
    ids = []
    for k, shift in enumerate([(-6.0, 0.0), (6.0, 0.0)]):
        wcs = tan_wcs(0.1, (240, 130), shift=shift)
        cutout = Cutout.from_array(np.full((1, 240, 130), float(k)), bands=["VIS"], wcs=wcs)
        ids.append(source.add_cutout(cutout))
        source.save_mask(ids[-1], draw(wcs, (240, 130)) == 3, "ada")
    wcs_b = tan_wcs(0.1, (240, 130), shift=(6.0, 0.0))
    bob = source.save_mask(ids[1], draw(wcs_b, (240, 130)) * (draw(wcs_b, (240, 130)) == 2), "bob")

    target = Cutout.from_array(
        np.ones((3, *TARGET_SHAPE)), bands=["g", "r", "z"], wcs=TARGET, survey="legacy"
    )
    (path,) = write_cutout(target, tmp_path / "ngc1_legacy.fits")
    far = Cutout.from_array(
        np.ones((1, 50, 50)), bands=["r"], wcs=tan_wcs(0.262, (50, 50), shift=(900.0, 0.0))
    )
    write_cutout(far, tmp_path / "elsewhere.fits")

    report = transfer_masks(source, [tmp_path], tmp_path / "legacy.zarr")
    assert (report.targets, report.overlapped, report.revisions) == (2, 1, 2)
    out = MaskStore.open(tmp_path / "legacy.zarr", mode="r")
    (target_id,) = out.ids()  # the cutout elsewhere on the sky is not added
    ada, bob_rev = out.latest(target_id, "ada"), out.latest(target_id, "bob")
    assert ada.provenance == bob_rev.provenance == "transferred"
    record = ada.metadata["transfer"]
    assert record["method"] == "reproject_exact"
    assert record["source_store"] == str(Path(source.path).resolve())
    assert sorted(s["cutout_id"] for s in record["sources"]) == sorted(ids)
    assert bob_rev.metadata["transfer"]["sources"] == [{"cutout_id": ids[1], "revision": bob}]
    ellipse = out.load_mask(target_id, "ada") == 1  # the combined halves: one ellipse
    assert iou(ellipse, draw(TARGET, TARGET_SHAPE) == 3) >= 0.9
    assert ndimage.label(ellipse)[1] == 1
    disc = out.load_mask(target_id, "bob") == 2
    assert iou(disc, draw(TARGET, TARGET_SHAPE) == 2) >= 0.9
    east, north = sky_offsets(TARGET, TARGET_SHAPE)  # the sources span 25" x 24"
    inside = (np.abs(east) < 12.5) & (np.abs(north) < 12.0)
    assert (covered_pixels(ada) == inside).mean() > 0.98

    again = transfer_masks(source, [path], tmp_path / "legacy.zarr")
    assert (again.revisions, again.unchanged) == (0, 2)
    # the same source store, named another way or moved, is the same transfer
    monkeypatch.chdir(tmp_path)
    for name in ("euclid.zarr", shutil.copytree(source.path, tmp_path / "copy" / "euclid.zarr")):
        same = transfer_masks(MaskStore.open(name, mode="r"), [path], tmp_path / "legacy.zarr")
        assert (same.revisions, same.unchanged) == (0, 2)
    assert len(out.history(target_id)) == 2


def test_a_bad_threshold_is_refused_before_anything_is_written(tmp_path):
    source = MaskStore.open(tmp_path / "euclid.zarr")
    target = Cutout.from_array(np.ones((1, *TARGET_SHAPE)), bands=["r"], wcs=TARGET)
    (path,) = write_cutout(target, tmp_path / "t.fits")
    for threshold in (0.0, 1.5):
        with pytest.raises(GalsegError, match="coverage threshold must be in"):
            transfer_masks(source, [path], tmp_path / "out.zarr", threshold=threshold)
    assert not (tmp_path / "out.zarr").exists()


def test_the_command_on_real_2mass_files_and_a_cutout_without_wcs(tmp_path, capsys):
    paths = [SHARED_DATA / "2mass" / f"2MASS_{b}.fits.gz" for b in "jhk"]
    if not all(p.exists() for p in paths):
        pytest.skip(f"real 2MASS files not found under {SHARED_DATA}")
    field = WCS(fits.getheader(paths[0])).pixel_to_world(300, 400)  # in the real field
    wcs = tan_wcs(0.262, (240, 240), centre=field)
    source = MaskStore.open(tmp_path / "legacy.zarr")
    cid = source.add_cutout(Cutout.from_array(np.ones((1, 240, 240)), bands=["r"], wcs=wcs))
    painted = np.zeros((240, 240), np.uint8)
    painted[40:200, 60:180] = 4  # 41.9" x 31.4", centred on the field's pixel (300, 400)
    source.save_mask(cid, painted, "ada")

    out = tmp_path / "2mass.zarr"
    args = ["transfer", str(source.path), "--onto", *map(str, paths), "--out", str(out)]
    assert main(args) == 0
    assert "transferred 1 masks onto 1 of 1 target cutouts" in capsys.readouterr().out
    store = MaskStore.open(out, mode="r")
    (target_id,) = store.ids()
    scale = store.info(target_id)["pixel_scale"]  # these 2MASS images have 5"/px
    y, x = np.nonzero(store.load_mask(target_id, "ada") == 4)
    assert y.size == pytest.approx(41.9 * 31.4 / scale**2, rel=0.2)
    assert abs(x.mean() - 300) < 0.5 and abs(y.mean() - 400) < 0.5

    no_wcs = write_cutout(Cutout.from_array(np.ones((1, 20, 20)), bands=["r"]), tmp_path / "a.fits")
    args = ["transfer", str(source.path), "--onto", str(no_wcs[0]), "--out", str(tmp_path / "n")]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "a.fits: no celestial WCS" in err
    assert not (tmp_path / "n").exists()


def test_a_grid_without_celestial_wcs_is_refused():
    linear = WCS(naxis=2)
    with pytest.raises(GalsegError, match="no celestial WCS"):
        reproject_mask(np.zeros((5, 5), np.uint8), linear, TARGET, TARGET_SHAPE)


@pytest.mark.parametrize(
    "record", [{"shape": [4, 4], "data": "%%%"}, {"shape": [4], "data": ""}, {"data": ""}]
)
def test_an_unreadable_coverage_record_is_an_error_naming_the_revision(record):
    revision = Revision("abc", 3, "ada", "2026-01-01T00:00:00", "transferred", {})
    assert covered_pixels(revision) is None
    damaged = replace(revision, metadata={"transfer": {"covered": record}})
    with pytest.raises(GalsegError, match="cutout abc revision 3: .*transfer.covered"):
        covered_pixels(damaged)
