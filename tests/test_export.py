"""Tests of ``export_dataset``: a self-describing dataset for collaborators."""

from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS
import numpy as np
import pytest

from galseg import MaskStore, StoreError
from galseg.export import MANIFEST_COLUMNS, export_dataset

from .test_store import make_cutout, random_mask


@pytest.fixture
def filled_store(tmp_path):
    store = MaskStore.open(tmp_path / "work.zarr")
    a, b, c = (store.add_cutout(make_cutout(seed)) for seed in range(3))
    stream = np.zeros((48, 40), np.uint8)
    stream[5:9, 3:30] = 1
    store.save_mask(a, random_mask(1), "ada")
    store.save_mask(a, stream, "ada")  # ada's latest: a stream only
    store.save_mask(a, random_mask(3), "bob", provenance="assisted")
    store.set_flag(b, "no_feature", "ada")
    return store, (a, b, c), stream


def test_export_writes_store_manifest_and_fits(filled_store, tmp_path):
    store, (a, b, c), stream = filled_store
    out = tmp_path / "dataset"
    table = export_dataset(store, out, fits_masks=True)

    manifest = Table.read(out / "manifest.ecsv")
    assert list(manifest.colnames) == list(MANIFEST_COLUMNS)
    assert sorted(zip(manifest["id"], manifest["annotator"], strict=True)) == sorted(
        [(a, "ada"), (a, "ada"), (a, "bob"), (b, "ada")]  # ada's two revisions of a
    )
    assert len(table) == len(manifest) == 4
    assert manifest.meta["taxonomy"] == store.taxonomy.to_dict()

    first, row = manifest[(manifest["id"] == a) & (manifest["annotator"] == "ada")]
    assert first["revision"] == 1 and not first["final"] and not first["fits_mask"]
    assert row["revision"] == 2 and row["provenance"] == "painted" and row["final"]
    assert row["classes"] == "tidal_stream"
    assert row["bands"] == "g,r,z" and row["survey"] == "legacy"
    assert row["pixel_scale"] == pytest.approx(0.262)
    ra, dec = store.cutout(a).sky_coord_centre()
    assert row["ra"] == pytest.approx(ra) and row["dec"] == pytest.approx(dec)
    assert row["labelled_fraction"] == pytest.approx(stream.astype(bool).mean())

    exported = MaskStore.open(out / "masks.zarr", mode="r")
    assert exported.ids() == sorted([a, b])  # c has no mask and no flag
    np.testing.assert_array_equal(exported.load_mask(a, "ada"), stream)
    np.testing.assert_array_equal(exported.load_mask(a, revision=1), random_mask(1))
    assert exported.latest(a, "ada").time == store.latest(a, "ada").time  # kept, not re-stamped
    assert exported.has_pixels(a)
    assert exported.flags(b) == {"no_feature": ["ada"]}

    with fits.open(out / row["fits_mask"]) as hdul:
        np.testing.assert_array_equal(hdul[0].data, stream)
        header = hdul[0].header
        assert header["ANNOTATR"] == "ada" and header["CLASS1"] == "tidal_stream"
        assert header["OBJECT"] == row["name"] and header["GALSEGID"] == a
        np.testing.assert_allclose(
            WCS(header).all_pix2world([[5, 6]], 0), store.cutout(a).wcs.all_pix2world([[5, 6]], 0)
        )
    empty_row = manifest[manifest["id"] == b][0]
    assert empty_row["revision"] == 0 and empty_row["classes"] == "none"
    with fits.open(out / empty_row["fits_mask"]) as hdul:
        assert not hdul[0].data.any()


def test_export_of_one_annotator(filled_store, tmp_path):
    store, (a, _, _), _ = filled_store
    table = export_dataset(store, tmp_path / "bob", annotator="bob")
    assert list(table["annotator"]) == ["bob"]
    assert not (tmp_path / "bob" / "fits").exists()


def test_export_refuses_a_non_empty_folder_and_an_empty_result(filled_store, tmp_path):
    store, _, _ = filled_store
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(StoreError, match="not empty"):
        export_dataset(store, tmp_path / "busy")
    assert (tmp_path / "busy" / "notes.txt").read_text() == "mine"
    with pytest.raises(StoreError, match="no masks by 'carl'"):
        export_dataset(store, tmp_path / "nobody", annotator="carl")
    assert not (tmp_path / "nobody").exists()  # nothing half-written to trip a rerun


def test_fits_masks_of_similar_annotator_names_do_not_collide(tmp_path):
    store = MaskStore.open(tmp_path / "s.zarr")
    cid = store.add_cutout(make_cutout(0))
    store.save_mask(cid, random_mask(1), "ada lovelace")
    store.save_mask(cid, random_mask(2), "ada_lovelace")
    table = export_dataset(store, tmp_path / "out", fits_masks=True)
    assert len(set(table["fits_mask"])) == 2
    for row in table:
        with fits.open(tmp_path / "out" / row["fits_mask"]) as hdul:
            assert hdul[0].header["ANNOTATR"] == row["annotator"]
