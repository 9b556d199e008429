"""Tests of the Zarr mask store: round trips, validation, revisions, atomic saves."""

import json
from pathlib import Path

from astropy.wcs import WCS
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
import numpy as np
import pytest
import zarr

from galseg import (
    DEFAULT_TAXONOMY,
    Cutout,
    FeatureClass,
    GalsegError,
    MaskError,
    MaskStore,
    StoreError,
    Taxonomy,
)


def make_cutout(seed: int = 0, shape=(3, 48, 40), with_wcs=True) -> Cutout:
    rng = np.random.default_rng(seed)
    wcs = None
    if with_wcs:
        wcs = WCS(naxis=2)
        wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
        wcs.wcs.crval = [150.1 + seed, 2.2]
        wcs.wcs.crpix = [shape[2] / 2, shape[1] / 2]
        wcs.wcs.cdelt = [-0.262 / 3600, 0.262 / 3600]
    bands = ["g", "r", "z", "i"][: shape[0]]
    return Cutout.from_array(
        rng.normal(size=shape), bands=bands, wcs=wcs, survey="legacy", zero_points={"r": 22.5}
    )


def random_mask(seed: int, shape=(48, 40)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 6, size=shape, dtype=np.uint8)


@pytest.fixture
def store(tmp_path) -> MaskStore:
    return MaskStore.open(tmp_path / "masks.zarr")


def test_new_store_records_format_and_default_taxonomy(tmp_path):
    MaskStore.open(tmp_path / "s.zarr")
    reopened = MaskStore.open(tmp_path / "s.zarr", mode="r")
    assert reopened.taxonomy == DEFAULT_TAXONOMY
    assert reopened.read_only
    assert len(reopened) == 0


def test_cutout_round_trip_keeps_pixels_wcs_and_metadata(store):
    cutout = make_cutout()
    cid = store.add_cutout(cutout)
    back = store.cutout(cid)
    np.testing.assert_array_equal(back.data, cutout.data)
    assert back.bands == cutout.bands
    assert back.content_hash == cutout.content_hash
    assert back.survey == "legacy"
    assert back.zero_points == {"r": 22.5}
    assert back.pixel_scale == pytest.approx(0.262)
    np.testing.assert_allclose(
        back.wcs.all_pix2world([[3, 7]], 0), cutout.wcs.all_pix2world([[3, 7]], 0), rtol=1e-12
    )


def test_add_cutout_is_idempotent_and_ids_follow_content(store):
    a, b = make_cutout(0), make_cutout(1)
    assert store.add_cutout(a) == store.add_cutout(a) == a.content_hash[:16]
    store.add_cutout(b)
    assert store.ids() == sorted([a.content_hash[:16], b.content_hash[:16]])


def test_cutout_without_pixel_copy_reads_its_source_and_detects_changes(store, tmp_path):
    from galseg.io import read_cutout, write_cutout

    path = write_cutout(make_cutout(3), tmp_path / "c.fits")[0]
    cid = store.add_cutout(read_cutout(path), copy_pixels=False)
    assert not store.has_pixels(cid)
    np.testing.assert_array_equal(store.cutout(cid).data, read_cutout(path).data)
    write_cutout(make_cutout(4), path, overwrite=True)  # the file now holds other pixels
    with pytest.raises(StoreError, match="no longer holds the pixels"):
        store.cutout(cid)
    store.add_cutout(read_cutout(tmp_path / "c.fits"))  # a new id; the old masks stay put


def test_mask_round_trip_and_revisions(store):
    cid = store.add_cutout(make_cutout())
    masks = [random_mask(k) for k in range(3)]
    assert [store.save_mask(cid, m, annotator="ada") for m in masks] == [1, 2, 3]
    np.testing.assert_array_equal(store.load_mask(cid), masks[-1])
    for rev, m in enumerate(masks, start=1):
        np.testing.assert_array_equal(store.load_mask(cid, revision=rev), m)
    history = store.history(cid)
    assert [r.revision for r in history] == [1, 2, 3]
    assert all(r.annotator == "ada" and r.provenance == "painted" for r in history)
    assert history[0].time < history[-1].time


def test_several_annotators_keep_their_own_masks(store):
    cid = store.add_cutout(make_cutout())
    ada, bob = random_mask(1), random_mask(2)
    store.save_mask(cid, ada, annotator="ada")
    store.save_mask(cid, bob, annotator="bob", provenance="assisted", metadata={"model": "x"})
    np.testing.assert_array_equal(store.load_mask(cid, annotator="ada"), ada)
    np.testing.assert_array_equal(store.load_mask(cid, annotator="bob"), bob)
    np.testing.assert_array_equal(store.load_mask(cid), bob)  # latest of anyone
    assert store.annotators(cid) == ["ada", "bob"]
    assert store.latest(cid, "bob").metadata == {"model": "x"}
    with pytest.raises(StoreError, match="by 'ada', not 'bob'"):
        store.load_mask(cid, annotator="bob", revision=1)


@pytest.mark.parametrize(
    ("mask", "message"),
    [
        (np.zeros((47, 40), np.uint8), "does not match the cutout"),
        (np.full((48, 40), 9, np.uint8), r"labels \[9\] are not in the taxonomy"),
        (np.zeros((48, 40), np.float32), "not an integer label type"),
    ],
)
def test_bad_masks_are_refused_and_nothing_is_saved(store, mask, message):
    cid = store.add_cutout(make_cutout())
    with pytest.raises(MaskError, match=message) as info:
        store.save_mask(cid, mask, annotator="ada")
    assert cid in str(info.value)
    assert store.history(cid) == []


def test_refuses_mask_painted_on_other_pixels(store):
    cid = store.add_cutout(make_cutout(0))
    with pytest.raises(StoreError, match="painted on other pixels"):
        store.save_mask(cid, random_mask(0), "ada", content_hash=make_cutout(1).content_hash)
    store.save_mask(cid, random_mask(0), "ada", content_hash=make_cutout(0).content_hash)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s, cid: s.save_mask("nope", random_mask(0), "ada"), "no cutout 'nope'"),
        (lambda s, cid: s.save_mask(cid, random_mask(0), "a/b"), "not a valid name"),
        (lambda s, cid: s.save_mask(cid, random_mask(0), "ada", provenance="x"), "provenance"),
        (lambda s, cid: s.load_mask(cid), "no mask saved"),
        (lambda s, cid: s.load_mask(cid, revision=4), "no revision 4"),
        (lambda s, cid: s.set_flag(cid, "lovely", "ada"), "unknown flag"),
    ],
)
def test_bad_calls_name_the_store_and_the_problem(store, call, message):
    cid = store.add_cutout(make_cutout())
    with pytest.raises(GalsegError, match=message) as info:
        call(store, cid)
    assert str(store.path) in str(info.value)


def test_flags_per_annotator(store):
    cid = store.add_cutout(make_cutout())
    store.set_flag(cid, "unsure", "ada")
    store.set_flag(cid, "unsure", "bob")
    store.set_flag(cid, "no_feature", "bob")
    store.set_flag(cid, "unsure", "ada", on=False)
    assert store.flags(cid) == {"unsure": ["bob"], "no_feature": ["bob"]}
    assert MaskStore.open(store.path, "r").flags(cid) == store.flags(cid)


def test_read_only_store_refuses_writes(store):
    cid = store.add_cutout(make_cutout())
    ro = MaskStore.open(store.path, mode="r")
    with pytest.raises(StoreError, match="read-only"):
        ro.save_mask(cid, random_mask(0), "ada")
    with pytest.raises(StoreError, match="read-only"):
        ro.add_cutout(make_cutout(5))


def test_open_modes_and_foreign_directories(tmp_path):
    with pytest.raises(StoreError, match="no mask store here"):
        MaskStore.open(tmp_path / "missing.zarr", mode="r")
    MaskStore.open(tmp_path / "new.zarr", mode="w-")
    with pytest.raises(StoreError, match="already exists"):
        MaskStore.open(tmp_path / "new.zarr", mode="w-")
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "cat.jpg").write_bytes(b"\xff\xd8")
    with pytest.raises(StoreError, match="not a galseg mask store"):
        MaskStore.open(tmp_path / "photos")
    zarr.open_group(tmp_path / "plain.zarr", mode="w")
    with pytest.raises(StoreError, match="not a galseg mask store"):
        MaskStore.open(tmp_path / "plain.zarr")
    (tmp_path / "broken.zarr").mkdir()
    (tmp_path / "broken.zarr" / "zarr.json").write_text("{not json")
    with pytest.raises(StoreError, match="cannot read the store"):
        MaskStore.open(tmp_path / "broken.zarr")


def test_store_from_a_newer_galseg_is_refused(store):
    meta_path = store.path / "zarr.json"
    meta = json.loads(meta_path.read_text())
    meta["attributes"]["galseg"]["format_version"] = 99
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(StoreError, match="newer than this galseg"):
        MaskStore.open(store.path)


def test_custom_taxonomy_is_recorded_and_enforced(tmp_path):
    taxonomy = Taxonomy(
        [FeatureClass(0, "unlabelled", "#000000"), FeatureClass(7, "ring", "#ff00ff")]
    )
    store = MaskStore.open(tmp_path / "rings.zarr", taxonomy=taxonomy)
    cid = store.add_cutout(make_cutout())
    ring = np.zeros((48, 40), np.uint8)
    ring[10:20, 10:20] = 7
    store.save_mask(cid, ring, "ada")
    reopened = MaskStore.open(tmp_path / "rings.zarr")
    assert reopened.taxonomy == taxonomy
    with pytest.raises(MaskError, match="not in the taxonomy"):
        reopened.save_mask(cid, random_mask(0), "ada")  # labels 1-5 are not rings
    with pytest.raises(StoreError, match="was made with"):
        MaskStore.open(tmp_path / "rings.zarr", taxonomy=DEFAULT_TAXONOMY)


def test_plain_zarr_reads_the_layout(store):
    cutout = make_cutout()
    cid = store.add_cutout(cutout)
    mask = random_mask(7)
    store.save_mask(cid, mask, "ada")
    root = zarr.open_group(store.path, mode="r")
    assert root.attrs["galseg"]["format_version"] == 1
    node = root[f"cutouts/{cid}"]
    assert node.attrs["bands"] == ["g", "r", "z"]
    assert node.attrs["content_hash"] == cutout.content_hash
    np.testing.assert_array_equal(root[f"cutouts/{cid}/image"][...], cutout.data)
    revision = root[f"cutouts/{cid}/masks/000001"]
    np.testing.assert_array_equal(revision[...], mask)
    assert revision.attrs["annotator"] == "ada"


def test_iter_examples_yields_latest_per_annotator_and_no_feature_negatives(store):
    a, b = store.add_cutout(make_cutout(0)), store.add_cutout(make_cutout(1))
    store.add_cutout(make_cutout(2))  # never looked at: not an example
    store.save_mask(a, random_mask(1), "ada")
    store.save_mask(a, random_mask(2), "ada")
    store.save_mask(a, random_mask(3), "bob")
    store.set_flag(b, "no_feature", "ada")
    examples = list(store.iter_examples())
    keys = sorted((m["id"], m["annotator"], m["revision"]) for _, _, m in examples)
    assert keys == sorted([(a, "ada", 2), (a, "bob", 3), (b, "ada", 0)])
    for image, mask, meta in examples:
        assert image.shape == (3, 48, 40) and image.dtype == np.float32
        assert mask.shape == (48, 40) and mask.dtype == np.uint8
        if meta["revision"]:
            np.testing.assert_array_equal(
                mask, store.load_mask(meta["id"], revision=meta["revision"])
            )
        else:
            assert not mask.any()
    assert {m["annotator"] for _, _, m in store.iter_examples(annotator="bob")} == {"bob"}


def test_iter_examples_leaves_out_model_predictions_unless_asked(store):
    a, b = store.add_cutout(make_cutout(0)), store.add_cutout(make_cutout(1))
    store.save_mask(a, random_mask(1), "galseg-predict", provenance="predicted")
    store.save_mask(b, random_mask(2), "galseg-predict", provenance="predicted")
    store.save_mask(b, random_mask(3), "ada", provenance="assisted")
    assert [(m["id"], m["annotator"]) for _, _, m in store.iter_examples()] == [(b, "ada")]
    with_predicted = {(m["id"], m["annotator"]) for _, _, m in store.iter_examples(predicted=True)}
    assert with_predicted == {(a, "galseg-predict"), (b, "galseg-predict"), (b, "ada")}


def test_embeddings_round_trip_per_model_and_are_read_by_plain_zarr(store):
    a, b = store.add_cutout(make_cutout(0)), store.add_cutout(make_cutout(1))
    assert store.save_embedding(a, np.arange(4.0), "m1", metadata={"checkpoint": "x"})
    assert store.save_embedding(b, np.ones(4), "m1")
    assert store.save_embedding(a, np.zeros(2), "m2")
    assert not store.save_embedding(a, np.full(4, 9.0), "m1")  # kept, not replaced
    np.testing.assert_array_equal(store.load_embedding(a, "m1"), np.arange(4.0))
    assert store.load_embedding(a, "m1").dtype == np.float32
    assert store.has_embedding(b, "m1") and not store.has_embedding(b, "m2")
    ids, matrix = store.embeddings("m1")
    assert ids == sorted([a, b]) and matrix.shape == (2, 4)
    node = zarr.open_group(store.path, mode="r")[f"cutouts/{a}/embeddings/m1"]
    assert node.attrs["model"] == "m1" and node.attrs["metadata"] == {"checkpoint": "x"}
    assert store.embeddings("nobody")[1].shape == (0, 0)


@pytest.mark.parametrize(
    ("vector", "model", "message"),
    [
        (np.array([1.0, np.nan]), "m", "finite 1-D"),
        (np.ones((2, 2)), "m", "finite 1-D"),
        (np.ones(3), "bad/name", "not a valid name"),
    ],
)
def test_bad_embeddings_are_refused(store, vector, model, message):
    cid = store.add_cutout(make_cutout(0))
    with pytest.raises(StoreError, match=message):
        store.save_embedding(cid, vector, model)
    with pytest.raises(StoreError, match="no embedding"):
        store.load_embedding(cid, "m")


def test_concurrent_writers_never_share_a_revision(store, tmp_path):
    cid = store.add_cutout(make_cutout())
    second = MaskStore.open(store.path)  # another handle, as another process would have
    numbers = []
    for k in range(6):
        numbers.append((store if k % 2 else second).save_mask(cid, random_mask(k), f"a{k % 2}"))
    assert numbers == list(range(1, 7))
    # A stale writer that believes revision 2 is the next free number does not overwrite it.
    from galseg import _atomic

    with _atomic.staging_dir(store.path) as staged:
        (staged / "x").write_text("x")
        assert not _atomic.publish(staged, store.path / "cutouts" / cid / "masks" / "000002")
    np.testing.assert_array_equal(store.load_mask(cid, revision=2), random_mask(1))


# ------------------------------------------------- stateful model comparison
class StoreMatchesModel(RuleBasedStateMachine):
    """Random sequences of store operations agree with a plain in-memory model."""

    @initialize()
    def open_store(self):
        import tempfile

        self.dir = tempfile.TemporaryDirectory()
        self.store = MaskStore.open(Path(self.dir.name) / "s.zarr")
        self.cutouts = {}  # id -> cutout
        self.revisions = {}  # id -> list of (annotator, mask)

    def teardown(self):
        self.dir.cleanup()

    @rule(seed=st.integers(0, 3))
    def add(self, seed):
        cutout = make_cutout(seed, shape=(2, 8, 6), with_wcs=False)
        cid = self.store.add_cutout(cutout)
        self.cutouts[cid] = cutout
        self.revisions.setdefault(cid, [])

    @rule(data=st.data(), annotator=st.sampled_from(["ada", "bob"]), seed=st.integers(0, 100))
    def save(self, data, annotator, seed):
        if not self.cutouts:
            return
        cid = data.draw(st.sampled_from(sorted(self.cutouts)))
        mask = random_mask(seed, shape=(8, 6))
        revision = self.store.save_mask(cid, mask, annotator)
        self.revisions[cid].append((annotator, mask))
        assert revision == len(self.revisions[cid])

    @invariant()
    def agrees(self):
        if not hasattr(self, "store"):
            return
        reopened = MaskStore.open(self.store.path, mode="r")
        assert reopened.ids() == sorted(self.cutouts)
        for cid, revs in self.revisions.items():
            for annotator in ("ada", "bob"):
                mine = [m for who, m in revs if who == annotator]
                if mine:
                    np.testing.assert_array_equal(reopened.load_mask(cid, annotator), mine[-1])
                else:
                    assert reopened.latest(cid, annotator) is None


TestStoreMatchesModel = StoreMatchesModel.TestCase
TestStoreMatchesModel.settings = settings(max_examples=15, stateful_step_count=8, deadline=None)


def test_store_and_its_source_files_can_move_together(tmp_path):
    from galseg.io import read_cutout, write_cutout

    project = tmp_path / "project"
    (project / "fits").mkdir(parents=True)
    files = write_cutout(make_cutout(6), project / "fits" / "c.fits", layout="per-band")
    store = MaskStore.open(project / "masks.zarr")
    cid = store.add_cutout(read_cutout(files), copy_pixels=False)
    assert store.info(cid)["source"] == ["fits/c_g.fits", "fits/c_r.fits", "fits/c_z.fits"]
    project.rename(tmp_path / "moved")
    moved = MaskStore.open(tmp_path / "moved" / "masks.zarr")
    np.testing.assert_array_equal(moved.cutout(cid).data, make_cutout(6).data)
    assert moved.cutout(cid).name == "c"


def test_threads_saving_to_different_cutouts_at_once(store):
    import threading

    ids = [store.add_cutout(make_cutout(seed)) for seed in range(4)]
    errors = []

    def save_many(cutout_id):
        try:
            for k in range(15):
                store.save_mask(cutout_id, random_mask(k), "ada")
        except Exception as exc:  # noqa: BLE001 (the test reports whatever went wrong)
            errors.append(exc)

    threads = [threading.Thread(target=save_many, args=(cid,)) for cid in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for cid in ids:
        assert [r.revision for r in store.history(cid)] == list(range(1, 16))
        np.testing.assert_array_equal(store.load_mask(cid), random_mask(14))


def test_file_system_failures_become_store_errors(store, monkeypatch):
    import galseg.store as store_module

    cid = store.add_cutout(make_cutout())

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store_module, "_write_mask", disk_full)
    with pytest.raises(StoreError, match="cannot save a mask .*No space left on device"):
        store.save_mask(cid, random_mask(0), "ada")
    assert store.history(cid) == []


def test_corrupt_revision_metadata_is_a_store_error_naming_the_file(store):
    cid = store.add_cutout(make_cutout())
    store.save_mask(cid, random_mask(0), "ada")
    meta = store.path / "cutouts" / cid / "masks" / "000001" / "zarr.json"
    meta.write_text("{ half a file")
    with pytest.raises(StoreError, match="000001/zarr.json: unreadable store metadata"):
        store.history(cid)
