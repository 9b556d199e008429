"""Tests of data sets that travel: export with a data card, import, merge, mappings, MOCs."""

import dataclasses
import json
import os
from pathlib import Path
import shutil

import astropy
import astropy.units as u
import numpy as np
import pytest
import zarr

from galseg import (
    DEFAULT_TAXONOMY,
    MaskStore,
    StoreError,
    TaxonomyError,
    __version__,
    read_cutout,
    write_cutout,
)
from galseg.cli import main
from galseg.export import export_dataset
from galseg.merge import import_dataset
from galseg.taxonomy import MATLAS_TAXONOMY, TaxonomyMapping

from .test_store import make_cutout, random_mask

NGC1316 = Path(astropy.__path__[0]) / "io" / "fits" / "tests" / "data" / "comp.fits"
MATLAS_MAPPING = {
    "taxonomy": "matlas",
    "classes": {
        "tidal_stream": "stream",
        "shell": "shell",
        "tidal_tail": "tail",
        "bar": "unlabelled",
        "contaminant": "contaminant",
    },
}


@pytest.fixture
def work(tmp_path):
    """A store with the real NGC 1316 image (shells painted by ada twice, a stream by bob)
    and a simulated-like Legacy cutout flagged no_feature by carl."""
    store = MaskStore.open(tmp_path / "work.zarr")
    ngc1316 = store.add_cutout(read_cutout(NGC1316))
    shells = np.zeros((300, 440), np.uint8)
    shells[100:140, 200:320] = 2
    store.save_mask(ngc1316, np.ones((300, 440), np.uint8), "ada")
    store.save_mask(ngc1316, shells, "ada")
    stream = np.zeros((300, 440), np.uint8)
    stream[200:204, 20:400] = 1
    store.save_mask(ngc1316, stream, "bob", "assisted", metadata={"model": "galseg-assist"})
    legacy = store.add_cutout(make_cutout(0))
    store.save_mask(legacy, random_mask(0), "ada")
    store.set_flag(legacy, "no_feature", "carl")
    return store, ngc1316, legacy


def snapshot(store):
    """Everything a store holds, to compare before and after."""
    return {
        cid: (
            store.info(cid)["content_hash"],
            [(r.annotator, r.time, r.provenance, dict(r.metadata)) for r in store.history(cid)],
            store.flags(cid),
        )
        for cid in store.ids()
    }


def history(store, cutout_id):
    """Every revision of a cutout, in order: number, annotator, time, provenance, metadata
    and pixels."""
    return [
        (
            rev.revision,
            rev.annotator,
            rev.time,
            rev.provenance,
            dict(rev.metadata),
            store.load_mask(cutout_id, revision=rev.revision).tobytes(),
        )
        for rev in store.history(cutout_id)
    ]


def test_export_then_import_gives_back_every_revision_and_reimport_adds_nothing(work, tmp_path):
    store, ngc1316, legacy = work
    # a revision brought from elsewhere: numbered after the others, yet older than them
    older = np.zeros((300, 440), np.uint8)
    older[50:60, 50:60] = 5
    store.save_mask(ngc1316, older, "eve", "imported", time="2020-01-01T00:00:00+00:00")
    store.set_flag(legacy, "unsure", "ada")
    store.set_flag(ngc1316, "bad_data", "bob")
    export_dataset(store, tmp_path / "shared")

    report = import_dataset(tmp_path / "shared", tmp_path / "theirs.zarr")
    theirs = MaskStore.open(tmp_path / "theirs.zarr", mode="r")
    assert (report.cutouts_added, report.revisions_added, report.flags_added) == (2, 5, 3)
    assert theirs.ids() == store.ids() and theirs.taxonomy == store.taxonomy
    for cid in store.ids():
        ours_info, their_info = store.info(cid), theirs.info(cid)
        keys = ("content_hash", "bands", "shape", "wcs", "pixel_scale", "survey", "zero_points")
        for key in keys:
            assert their_info[key] == ours_info[key], key
        np.testing.assert_array_equal(theirs.cutout(cid).data, store.cutout(cid).data)
        assert theirs.flags(cid) == store.flags(cid)
        assert history(theirs, cid) == history(store, cid)  # numbers and order too
    assert [r.annotator for r in theirs.history(ngc1316)] == ["ada", "ada", "bob", "eve"]

    before = snapshot(theirs)
    again = import_dataset(tmp_path / "shared", tmp_path / "theirs.zarr")
    assert (again.cutouts_added, again.revisions_added, again.revisions_present) == (0, 0, 5)
    assert again.flags_added == 0 and snapshot(theirs) == before
    # and back into the store it came from: nothing new either
    home = import_dataset(tmp_path / "shared", store.path)
    assert (home.revisions_added, home.revisions_present, home.flags_added) == (0, 5, 0)


def test_an_imported_older_mask_never_replaces_the_annotators_newer_one(work, tmp_path):
    store, ngc1316, _ = work
    theirs = MaskStore.open(tmp_path / "theirs.zarr")
    cid = theirs.add_cutout(store.cutout(ngc1316))
    old = np.zeros((300, 440), np.uint8)
    old[10:20, 10:20] = 3
    theirs.save_mask(cid, old, "ada", time="2025-01-01T00:00:00+00:00")
    theirs.save_mask(cid, old, "dan", time="2025-01-01T00:00:00+00:00")
    export_dataset(theirs, tmp_path / "old")
    mine = store.load_mask(ngc1316, "ada")

    import_dataset(tmp_path / "old", store.path)
    assert [r.annotator for r in store.history(ngc1316)][-2:] == ["ada", "dan"]
    np.testing.assert_array_equal(store.load_mask(ngc1316, "ada"), mine)  # still the newer one
    assert store.latest_by_annotator(ngc1316)["ada"].revision == 2
    assert store.latest(ngc1316).annotator == "bob"  # the newest of all
    np.testing.assert_array_equal(store.load_mask(ngc1316, "dan"), old)


def test_the_manifest_has_a_row_per_revision_and_marks_the_final_ones(work, tmp_path):
    store, ngc1316, legacy = work
    table = export_dataset(store, tmp_path / "shared", fits_masks=True)
    rows = {(r["id"], r["annotator"], int(r["revision"])): r for r in table}
    assert {key: (row["provenance"], bool(row["final"])) for key, row in rows.items()} == {
        (ngc1316, "ada", 1): ("painted", False),
        (ngc1316, "ada", 2): ("painted", True),
        (ngc1316, "bob", 3): ("assisted", True),
        (legacy, "ada", 1): ("painted", True),
        (legacy, "carl", 0): ("no_feature", True),
    }
    assert rows[ngc1316, "ada", 1]["classes"] == "tidal_stream"
    assert rows[ngc1316, "ada", 2]["classes"] == "shell"
    exported = zarr.open_group(tmp_path / "shared" / "masks.zarr", mode="r")
    for (cid, _, revision), row in rows.items():
        assert bool(row["fits_mask"]) == bool(row["final"])
        if revision:
            np.testing.assert_array_equal(
                exported[row["mask_path"]][...], store.load_mask(cid, revision=revision)
            )


def test_the_data_card_describes_the_data_set(work, tmp_path):
    store, ngc1316, legacy = work
    rubin = store.add_cutout(dataclasses.replace(make_cutout(1), survey="LSSTCam"))
    store.save_mask(rubin, np.full((48, 40), 4, np.uint8), "eve")
    export_dataset(store, tmp_path / "shared")
    card = json.loads((tmp_path / "shared" / "dataset.json").read_text())
    assert card["galseg_version"] == __version__ and card["pixels"] is True
    assert card["taxonomy"] == store.taxonomy.to_dict()
    assert card["counts"]["annotators"]["ada"] == {
        "masks": 2,
        "cutouts": 2,
        "classes": {"bar": 1, "contaminant": 1, "shell": 2, "tidal_stream": 1, "tidal_tail": 1},
    }
    assert card["counts"]["classes"]["tidal_stream"]["pixels"] == 4 * 380 + int(
        (random_mask(0) == 1).sum()
    )
    assert card["surveys"]["legacy"]["pixel_scales_arcsec"] == [0.262]
    assert card["surveys"]["rubin"]["cutouts"] == 1  # the header said LSSTCam
    # the legacy cutout's r band: unit-variance noise at zero point 22.5 and 0.262"/px
    limit = 22.5 - 2.5 * np.log10(1.0 / 0.262**2) + 2.5 * np.log10(10 / 0.262) - 2.5 * np.log10(3)
    assert card["surveys"]["legacy"]["sb_limit_3sigma_10arcsec"]["r"] == pytest.approx(
        limit, abs=0.15
    )
    files = {
        path.relative_to(tmp_path / "shared").as_posix()
        for path in (tmp_path / "shared").rglob("*")
        if path.is_file() and path.name != "dataset.json"
    }
    assert set(card["files"]) == files and "README.md" in files
    readme = (tmp_path / "shared" / "README.md").read_text()
    assert f"galseg {__version__}" in readme and "| 2 | shell | 2 |" in readme


def test_a_zip_without_pixels_through_the_command_line(work, tmp_path, capsys):
    store, ngc1316, legacy = work
    out = tmp_path / "shared.zip"
    assert main(["export", str(store.path), str(out), "--zip", "--no-pixels"]) == 0
    assert out.is_file() and sorted(p.name for p in tmp_path.iterdir()) == [
        "shared.zip",
        "work.zarr",
    ]
    capsys.readouterr()
    # the collaborator holds the NGC 1316 image, but not the other (made from an array)
    theirs = MaskStore.open(tmp_path / "theirs.zarr")
    theirs.add_cutout(read_cutout(NGC1316))
    theirs.save_mask(ngc1316, np.zeros((300, 440), np.uint8), "dee")
    assert main(["import", str(out), "--into", str(theirs.path)]) == 1
    err = capsys.readouterr().err
    assert f"cutout {legacy} (" in err and "the data set has no pixels for it" in err
    assert "--cutouts" in err and err.count("\n") == 1
    assert theirs.ids() == [ngc1316] and len(theirs.history(ngc1316)) == 1

    # their own copy of the other cutout, under another name in another folder
    (tmp_path / "their_files").mkdir()
    write_cutout(make_cutout(0), tmp_path / "their_files" / "renamed.fits")
    args = [
        "import",
        str(out),
        "--into",
        str(theirs.path),
        "--cutouts",
        str(tmp_path / "their_files"),
    ]
    assert main(args) == 0
    assert "imported 4 revisions and 1 new cutouts" in capsys.readouterr().out
    assert theirs.info(legacy)["content_hash"] == store.info(legacy)["content_hash"]
    assert [r.annotator for r in theirs.history(ngc1316)] == ["dee", "ada", "ada", "bob"]
    np.testing.assert_array_equal(theirs.load_mask(legacy, "ada"), store.load_mask(legacy, "ada"))


def test_a_data_set_names_files_without_the_exporters_paths_or_locks(work, tmp_path):
    store, ngc1316, _ = work
    out = tmp_path / "shared"
    export_dataset(store, out, pixels=False)
    assert not list(out.rglob(".lock"))
    private = (str(tmp_path), str(NGC1316.parent))
    for path in out.rglob("*"):
        if path.is_file() and path.suffix in {".json", ".ecsv", ".md"}:
            text = path.read_text()
            assert not any(p in text for p in private), path
    dataset = MaskStore.open(out / "masks.zarr", mode="r")
    assert dataset.info(ngc1316)["source"] == [NGC1316.name]
    assert json.loads((out / "dataset.json").read_text())["source_store"] == "work.zarr"


def tamper_chunk(folder):
    chunk = next(p for p in sorted((folder / "masks.zarr").rglob("c/*/*")) if p.is_file())
    chunk.write_bytes(chunk.read_bytes()[:-5])


def add_file(folder):
    (folder / "masks.zarr" / "notes.txt").write_text("added later")


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (tamper_chunk, "checksum differs from the data card"),
        (add_file, "notes.txt: not in the data card"),
        (lambda folder: (folder / "manifest.ecsv").unlink(), "manifest.ecsv: missing"),
    ],
)
def test_a_tampered_data_set_is_refused_with_nothing_written(work, tmp_path, damage, message):
    store, _, _ = work
    export_dataset(store, tmp_path / "shared")
    damage(tmp_path / "shared")
    with pytest.raises(StoreError, match=message):
        import_dataset(tmp_path / "shared", tmp_path / "theirs.zarr")
    assert not (tmp_path / "theirs.zarr").exists()


def test_a_tampered_zip_names_the_zip_and_the_file_in_it(work, tmp_path, capsys):
    store, _, _ = work
    export_dataset(store, tmp_path / "shared")
    tamper_chunk(tmp_path / "shared")
    zipped = shutil.make_archive(str(tmp_path / "tampered"), "zip", tmp_path / "shared")
    assert main(["import", zipped, "--into", str(tmp_path / "t.zarr")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"galseg: error: {zipped}: masks.zarr/cutouts/")
    assert err.endswith(": checksum differs from the data card (altered or truncated)\n")
    assert not (tmp_path / "t.zarr").exists()


def test_a_truncated_zip_is_refused_in_one_line(work, tmp_path, capsys):
    store, _, _ = work
    export_dataset(store, tmp_path / "shared.zip", zip=True)
    data = (tmp_path / "shared.zip").read_bytes()
    (tmp_path / "cut.zip").write_bytes(data[: len(data) * 2 // 3])
    assert main(["import", str(tmp_path / "cut.zip"), "--into", str(tmp_path / "t.zarr")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("galseg: error: ") and "cut.zip" in err and err.count("\n") == 1
    assert not (tmp_path / "t.zarr").exists()


def test_a_clashing_data_set_is_refused_with_nothing_changed(work, tmp_path):
    store, ngc1316, legacy = work
    export_dataset(store, tmp_path / "shared")
    theirs = MaskStore.open(tmp_path / "theirs.zarr")
    theirs.add_cutout(read_cutout(NGC1316))
    theirs.save_mask(ngc1316, np.zeros((300, 440), np.uint8), "dee")
    image = zarr.open_array(theirs.path / "cutouts" / ngc1316 / "image", mode="r+")
    image[0, 10, 10] = image[0, 10, 10] + 1.0  # other pixels under the same content hash
    before = snapshot(theirs)
    with pytest.raises(StoreError, match=f"cutout {ngc1316}: clashes with different pixels"):
        import_dataset(tmp_path / "shared", theirs.path)
    assert snapshot(theirs) == before and legacy not in theirs


def test_pixels_altered_with_a_rewritten_card_are_refused(work, tmp_path):
    store, ngc1316, _ = work
    export_dataset(store, tmp_path / "shared")
    folder = tmp_path / "shared"
    image = zarr.open_array(folder / "masks.zarr" / "cutouts" / ngc1316 / "image", mode="r+")
    image[0, 0, 0] = 1e6
    card = json.loads((folder / "dataset.json").read_text())
    from galseg.datacard import checksums

    card["files"] = checksums(folder)
    (folder / "dataset.json").write_text(json.dumps(card))
    with pytest.raises(StoreError, match="do not match its content hash"):
        import_dataset(folder, tmp_path / "theirs.zarr")
    assert not (tmp_path / "theirs.zarr").exists()


def test_export_through_a_taxonomy_mapping(work, tmp_path, capsys):
    store, ngc1316, legacy = work
    mapping_file = tmp_path / "to_matlas.json"
    mapping_file.write_text(json.dumps(MATLAS_MAPPING))
    out = tmp_path / "matlas"
    assert main(["export", str(store.path), str(out), "--map", str(mapping_file)]) == 0
    capsys.readouterr()
    exported = MaskStore.open(out / "masks.zarr", mode="r")
    assert exported.taxonomy == MATLAS_TAXONOMY
    original = store.load_mask(legacy, "ada")
    mapped = exported.load_mask(legacy, "ada")
    for source_name, target_name in MATLAS_MAPPING["classes"].items():
        value = store.taxonomy[source_name].value
        assert (mapped[original == value] == MATLAS_TAXONOMY[target_name].value).all()
    assert (
        json.loads((out / "dataset.json").read_text())["mapping"]["classes"]
        == (MATLAS_MAPPING["classes"])
    )
    # their classes are not the store's: importing them back is refused
    with pytest.raises(StoreError, match="ask for an export mapped to your classes"):
        import_dataset(out, store.path)
    # a new store takes the data set's taxonomy
    import_dataset(out, tmp_path / "matlas.zarr")
    assert MaskStore.open(tmp_path / "matlas.zarr", mode="r").taxonomy == MATLAS_TAXONOMY

    partial = {**MATLAS_MAPPING, "classes": {"tidal_stream": "stream", "shell": "shell"}}
    mapping_file.write_text(json.dumps(partial))
    assert main(["export", str(store.path), str(tmp_path / "x"), "--map", str(mapping_file)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "to_matlas.json" in err
    assert "tidal_tail, bar, contaminant unmapped" in err
    assert not (tmp_path / "x").exists()


def test_a_mapping_to_an_unknown_class_is_refused():
    with pytest.raises(TaxonomyError, match="unknown class 'streams'"):
        TaxonomyMapping.from_dict(
            {**MATLAS_MAPPING, "classes": {**MATLAS_MAPPING["classes"], "shell": "streams"}},
            DEFAULT_TAXONOMY,
        )


def test_mocs_of_classes_whose_names_are_no_file_names(tmp_path, capsys):
    from mocpy import MOC

    from galseg.taxonomy import FeatureClass, Taxonomy

    taxonomy = Taxonomy(
        [
            FeatureClass(0, "unlabelled", "#000000", "nothing"),
            FeatureClass(1, "diffuse halo", "#30c5ff", "a name with a space"),
            FeatureClass(2, "diffuse/halo", "#ffb000", "a name with a slash, alike once made safe"),
        ]
    )
    store = MaskStore.open(tmp_path / "custom.zarr", taxonomy=taxonomy)
    ngc1316 = store.add_cutout(read_cutout(NGC1316))
    mask = np.zeros((300, 440), np.uint8)
    mask[100:140, 200:320] = 1
    mask[10:30, 10:30] = 2
    store.save_mask(ngc1316, mask, "ada")
    assert main(["export", str(store.path), str(tmp_path / "shared"), "--moc"]) == 0
    assert "exported 1 mask revisions (1 final masks) of 1 cutouts" in capsys.readouterr().out
    card = json.loads((tmp_path / "shared" / "dataset.json").read_text())
    assert card["mocs"] == {
        "diffuse halo": "moc/diffuse_halo.fits",
        "diffuse/halo": "moc/diffuse_halo_2.fits",
    }
    halo = MOC.load(tmp_path / "shared" / card["mocs"]["diffuse halo"], format="fits")
    wcs = store.cutout(ngc1316).wcs.celestial
    inside_and_outside = wcs.pixel_to_world([260, 20], [120, 20])
    assert halo.contains_skycoords(inside_and_outside).tolist() == [True, False]


def test_class_footprints_as_mocs(work, tmp_path):
    from mocpy import MOC

    store, ngc1316, _ = work
    export_dataset(store, tmp_path / "shared", moc=True)
    names = sorted(p.stem for p in (tmp_path / "shared" / "moc").glob("*.fits"))
    assert names == ["bar", "contaminant", "shell", "tidal_stream", "tidal_tail"]
    shell = MOC.load(tmp_path / "shared" / "moc" / "shell.fits", format="fits")
    wcs = store.cutout(ngc1316).wcs.celestial
    inside_and_outside = wcs.pixel_to_world([260, 60], [120, 40])
    assert shell.contains_skycoords(inside_and_outside).tolist() == [True, False]
    # the MOC's area is the painted area, to within a cell's width around the edge
    painted = 40 * 120 * (store.info(ngc1316)["pixel_scale"] * u.arcsec) ** 2
    area = shell.sky_fraction * 4 * np.pi * u.sr
    assert area.to_value(u.arcsec**2) == pytest.approx(painted.to_value(u.arcsec**2), rel=0.35)
    assert os.path.getsize(tmp_path / "shared" / "moc" / "shell.fits") < 100_000
