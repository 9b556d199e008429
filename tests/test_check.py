"""Tests of galseg.check and ``galseg check``: damaged stores on disk, and --repair."""

from __future__ import annotations

import json
from pathlib import Path
import shutil

import numpy as np
import pytest
import zarr

from galseg import Cutout, MaskStore
from galseg._atomic import STAGING_NAME
from galseg.check import check_store
from galseg.cli import main


@pytest.fixture
def store(tmp_path) -> MaskStore:
    """Two cutouts, three revisions by two annotators, an embedding."""
    store = MaskStore.open(tmp_path / "masks.zarr")
    rng = np.random.default_rng(1)
    for seed in range(2):
        data = rng.normal(size=(2, 16, 20)).astype(np.float32)
        cid = store.add_cutout(Cutout.from_array(data, bands=["g", "r"]))
        mask = np.zeros((16, 20), dtype=np.uint8)
        mask[2:6, 3:9] = 1 + seed
        store.save_mask(cid, mask, "ada")
        mask[8:12, 3:9] = 4
        store.save_mask(cid, mask, "grace", provenance="assisted")
    store.save_mask(cid, np.full((16, 20), 2, dtype=np.uint8), "ada")
    store.save_embedding(cid, np.arange(4.0), "m1")
    return store


def revision_dir(store: MaskStore, cutout_id: str, revision: int) -> Path:
    return store.path / "cutouts" / cutout_id / "masks" / f"{revision:06d}"


def published(store: MaskStore) -> dict[Path, bytes]:
    """Every file of every published cutout, revision and embedding, with its bytes."""
    return {p: p.read_bytes() for p in (store.path / "cutouts").rglob("*") if p.is_file()}


def test_a_sound_store_passes(store, capsys):
    report = check_store(store.path)
    assert report.ok and (report.cutouts, report.revisions, report.embeddings) == (2, 5, 1)
    assert main(["check", str(store.path)]) == 0
    assert capsys.readouterr().out == (
        f"{store.path}: 2 cutouts, 5 revisions, 1 embeddings: no problem\n"
    )


def test_damage_is_listed_and_repair_removes_only_leftovers(store, capsys):
    first, second = store.ids()
    # A revision whose chunk holds another revision's labels (two revisions mixed)
    revision_1, revision_2 = revision_dir(store, first, 1), revision_dir(store, first, 2)
    shutil.copy(revision_1 / "c" / "0" / "0", revision_2 / "c" / "0" / "0")
    # Stored pixels that are not those the masks were painted on
    image = zarr.open_array(str(store.path / "cutouts" / second / "image"), mode="r+")
    image[0, 0, 0] = 1e6
    # A label outside the taxonomy, written behind galseg's back
    wrong = revision_dir(store, second, 1)
    zarr.open_array(str(wrong), mode="r+")[0, 0] = 99
    # Metadata that lost a key
    meta = json.loads((revision_dir(store, second, 2) / "zarr.json").read_text())
    del meta["attributes"]["annotator"]
    (revision_dir(store, second, 2) / "zarr.json").write_text(json.dumps(meta))
    # What killed writers leave: a staging folder, and a zarr temporary file
    staged = store.path / STAGING_NAME / "0123abcd"
    shutil.copytree(revision_1, staged)
    partial = store.path / "cutouts" / first / f"zarr.{'ab' * 16}.partial"
    before = published(store)
    partial.write_text("{")

    report = check_store(store.path)
    problems = {(Path(p.where), p.what) for p in report.problems}
    assert problems == {
        (revision_2, "the stored mask does not match its content hash"),
        (
            store.path / "cutouts" / second / "image",
            "the stored pixels do not match the content hash",
        ),
        (wrong, "labels [99] are not in the store's taxonomy"),
        (wrong, "the stored mask does not match its content hash"),
        (revision_dir(store, second, 2), "metadata 'annotator' missing or not a str"),
    }
    assert sorted(report.leftovers) == sorted([staged, partial]) and not report.removed

    assert main(["check", str(store.path)]) == 1
    out = capsys.readouterr().out
    assert f"{revision_2}: the stored mask does not match its content hash" in out
    assert f"{partial}: leftover of an interrupted write" in out
    assert "5 problems; 2 leftovers of interrupted writes (remove them with --repair)" in out

    assert main(["check", str(store.path), "--repair"]) == 1  # the problems remain
    assert not staged.exists() and not partial.exists()
    assert not (store.path / STAGING_NAME).exists()
    assert published(store) == before  # no published revision touched, damaged or not
    assert "removed 2 leftovers" in capsys.readouterr().out


def test_repair_of_a_store_with_only_leftovers_makes_it_sound(store, capsys):
    (store.path / STAGING_NAME / "deadbeef" / "c").mkdir(parents=True)
    assert main(["check", str(store.path)]) == 1
    assert main(["check", str(store.path), "--repair"]) == 0
    assert check_store(store.path).ok
    capsys.readouterr()


def test_not_a_store_is_one_line(tmp_path, capsys):
    assert main(["check", str(tmp_path / "none.zarr")]) == 1
    assert (
        capsys.readouterr().err == f"galseg: error: {tmp_path / 'none.zarr'}: no mask store here\n"
    )


def test_an_unreadable_record_of_transferred_pixels_is_listed(store, capsys):
    cid = store.ids()[0]
    too_short = {"shape": [16, 20], "data": "eJwDAAAAAAE="}  # zlib of nothing
    for record in ({"shape": [16, 20], "data": "not base64!"}, {"data": "AAAA"}, too_short):
        store.save_mask(
            cid,
            np.zeros((16, 20), np.uint8),
            "ada",
            provenance="transferred",
            metadata={"transfer": {"covered": record}},
        )
    report = check_store(store.path)
    problems = [p for p in report.problems if "transfer.covered" in str(p)]
    assert [Path(p.where).name for p in problems] == ["000004", "000005", "000006"]
    assert main(["check", str(store.path)]) == 1
    assert "unreadable" in capsys.readouterr().out
