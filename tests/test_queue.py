"""Tests of the annotation queue: finding cutouts, stepping through them, what is done."""

from pathlib import Path

import numpy as np
import pytest

from galseg import GalsegError, MaskStore, StoreError
from galseg.annotate import AnnotationQueue
import galseg.discovery
from galseg.discovery import QueueItem, find_cutouts
from galseg.io import read_cutout, write_cutout
from galseg.simulate import simulate_cutout

SAMPLES = Path(__file__).parent.parent / "sample_data"


def write(
    folder: Path, name: str, seed: int, layout: str = "mef", survey: str = "legacy"
) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return write_cutout(
        simulate_cutout(seed, survey=survey, size=32)[0], folder / name, layout=layout
    )


@pytest.fixture
def folder(tmp_path) -> Path:
    """Four cutouts: multi-extension, gzipped cube, per-band HSC files, a lone ``_`` name."""
    folder = tmp_path / "cutouts"
    write(folder, "ngc1316.fits", 1)
    write(folder, "ngc4651.fits.gz", 2, layout="cube")
    write(folder, "ngc474.fits", 3, layout="per-band", survey="hsc")
    write(folder, "m31_legacy.fits.fz", 4)
    (folder / "notes.txt").write_text("not a cutout")
    (folder / ".hidden.fits").write_bytes(b"")
    write(folder / "sub", "deeper.fits", 5)
    return folder


def names(items):
    return [item.name for item in items]


def no_fits_reading(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("a FITS file was read")

    monkeypatch.setattr(galseg.discovery, "read_cutout", fail)


# ----------------------------------------------------------------- find_cutouts
def test_folder_gives_one_item_per_cutout_sorted_by_file_name(folder):
    items = find_cutouts([folder])
    assert names(items) == ["m31_legacy", "ngc1316", "ngc4651", "ngc474"]
    assert items[0].sources == (folder / "m31_legacy.fits.fz",)
    assert all(item.store_id is None and item.store_path is None for item in items)


def test_per_band_files_form_one_cutout_ordered_blue_to_red(folder):
    item = find_cutouts([folder])[3]
    assert [path.name for path in item.sources] == [
        "ngc474_g.fits",
        "ngc474_r.fits",
        "ngc474_i.fits",
    ]
    assert read_cutout(item.sources).bands == ("g", "r", "i")


def test_per_band_needs_two_files_with_the_same_stem_and_suffix(tmp_path):
    write(tmp_path, "a_g.fits", 1)
    write(tmp_path, "a_r.fits.gz", 2)
    write(tmp_path, "b_g.fits", 3)
    items = find_cutouts([tmp_path])
    assert names(items) == ["a_g", "a_r", "b_g"]
    assert all(len(item.sources) == 1 for item in items)


def test_unknown_bands_follow_the_known_ones_alphabetically(tmp_path):
    for band, seed in (("zz", 1), ("r", 2), ("aa", 3), ("g", 4)):
        write(tmp_path, f"x_{band}.fits", seed)
    (item,) = find_cutouts([tmp_path])
    assert [path.name for path in item.sources] == [
        "x_g.fits",
        "x_r.fits",
        "x_aa.fits",
        "x_zz.fits",
    ]


def test_explicit_files_keep_their_order_and_group_per_band_files(folder):
    items = find_cutouts(
        [folder / "ngc4651.fits.gz", folder / "ngc474_i.fits", folder / "ngc474_g.fits"]
    )
    assert names(items) == ["ngc4651", "ngc474"]
    assert [p.name for p in items[1].sources] == ["ngc474_g.fits", "ngc474_i.fits"]


def test_a_file_found_twice_is_listed_once(folder, monkeypatch):
    monkeypatch.chdir(folder)
    items = find_cutouts(["ngc1316.fits", folder, Path("..") / "cutouts" / "ngc1316.fits"])
    assert names(items) == ["ngc1316", "m31_legacy", "ngc4651", "ngc474"]


def test_bundled_samples_are_eight_cutouts():
    items = find_cutouts([SAMPLES])
    assert names(items) == [
        "bar_stream_legacy", "bar_tail_euclid", "faint_stream_legacy", "mixed_legacy",
        "shells_legacy", "shells_stream_hsc", "stream_legacy", "tail_legacy",
    ]  # fmt: skip
    assert len(items[3].sources) == 3 and len(items[4].sources) == 3


def test_a_store_gives_one_item_per_stored_cutout():
    store = MaskStore.open(SAMPLES / "truth.zarr", mode="r")
    items = find_cutouts([SAMPLES / "truth.zarr"])
    assert sorted(item.store_id for item in items) == store.ids()
    assert names(items) == sorted(names(find_cutouts([SAMPLES])))
    assert all(item.sources == () and item.store_path == SAMPLES / "truth.zarr" for item in items)


def test_stores_and_files_keep_the_order_of_the_paths(folder):
    items = find_cutouts(
        [folder / "ngc1316.fits", SAMPLES / "truth.zarr", folder / "ngc4651.fits.gz"]
    )
    assert items[0].name == "ngc1316" and items[-1].name == "ngc4651"
    assert all(item.store_id for item in items[1:-1]) and len(items) == 10


@pytest.mark.parametrize("name", ["notes.txt", "missing.fits", "nowhere"])
def test_bad_explicit_paths_raise_naming_them(folder, name):
    with pytest.raises(GalsegError, match=name):
        find_cutouts([folder / "ngc1316.fits", folder / name])


def test_a_zarr_folder_that_is_not_a_galseg_store_raises(tmp_path):
    import zarr

    zarr.open_group(tmp_path / "plain.zarr", mode="w", zarr_format=3)
    with pytest.raises(StoreError, match="plain.zarr"):
        find_cutouts([tmp_path / "plain.zarr"])


# ---------------------------------------------------------------- navigation
@pytest.fixture
def queue(folder, tmp_path) -> AnnotationQueue:
    return AnnotationQueue.from_paths([folder], MaskStore.open(tmp_path / "masks.zarr"), "ada")


def test_navigation_clamps_at_the_ends(queue):
    assert len(queue) == 4 and queue.index == 0 and queue.current.name == "m31_legacy"
    assert queue.previous() == 0
    assert [queue.next() for _ in range(5)] == [1, 2, 3, 3, 3]
    assert queue.current.name == "ngc474"
    assert queue.go(-7) == 0 and queue.go(99) == 3 and queue.go(2) == 2


def test_an_empty_queue(tmp_path):
    queue = AnnotationQueue([], MaskStore.open(tmp_path / "m.zarr"), "ada")
    assert len(queue) == 0 and queue.next() == 0 and queue.next_unannotated() is None
    assert queue.progress_text() == "0 / 0 done" and queue.flags() == []
    with pytest.raises(IndexError, match="empty"):
        _ = queue.current


def test_invalid_annotator_is_refused_at_once(tmp_path):
    with pytest.raises(StoreError, match="annotator"):
        AnnotationQueue([], MaskStore.open(tmp_path / "m.zarr"), "")


# ------------------------------------------------------------------- opening
def test_open_adds_the_cutout_with_its_pixels_and_gives_an_empty_mask(queue):
    opened = queue.open(3)
    assert queue.index == 3
    assert opened.cutout.bands == ("g", "r", "i")
    assert opened.cutout_id == opened.cutout.content_hash[:16]
    assert queue.store.has_pixels(opened.cutout_id)
    np.testing.assert_array_equal(queue.store.cutout(opened.cutout_id).data, opened.cutout.data)
    assert opened.mask.dtype == np.uint8 and opened.mask.shape == (32, 32) and not opened.mask.any()
    assert opened.revision is None


def test_open_gives_the_annotators_latest_mask(queue):
    cutout_id = queue.open().cutout_id
    mine = np.zeros((32, 32), np.uint8)
    mine[3:9, 4:7] = 2
    queue.store.save_mask(cutout_id, mine, "ada")
    queue.store.save_mask(cutout_id, np.ones((32, 32), np.uint8), "bob")
    opened = queue.open()
    np.testing.assert_array_equal(opened.mask, mine)
    assert opened.revision == 1


def test_a_bad_file_raises_and_the_queue_goes_on(folder, tmp_path):
    (folder / "n_broken.fits").write_bytes(b"SIMPLE  = T" + b"\0" * 100)
    queue = AnnotationQueue.from_paths([folder], MaskStore.open(tmp_path / "m.zarr"), "ada")
    assert queue.items[1].name == "n_broken"
    queue.go(2)
    with pytest.raises(GalsegError, match="n_broken.fits"):
        queue.open(1)
    assert queue.index == 1 and not queue.is_done(1)
    assert queue.next() == 2 and queue.open().cutout.name == "ngc1316"
    assert queue.progress_text() == "0 / 5 done"


def test_opening_a_store_item_copies_it_into_the_working_store(tmp_path):
    queue = AnnotationQueue.from_paths(
        [SAMPLES / "truth.zarr"], MaskStore.open(tmp_path / "m.zarr"), "ada"
    )
    opened = queue.open(2)
    assert opened.cutout_id == queue.current.store_id
    assert queue.store.has_pixels(opened.cutout_id)
    truth = MaskStore.open(SAMPLES / "truth.zarr", mode="r").cutout(opened.cutout_id)
    np.testing.assert_array_equal(opened.cutout.data, truth.data)


# ---------------------------------------------------------------------- done
def test_masks_and_flags_make_a_cutout_done(queue):
    assert queue.progress_text() == "0 / 4 done"
    first = queue.open(0).cutout_id
    queue.store.save_mask(first, np.zeros((32, 32), np.uint8), "ada")
    queue.open(2)
    queue.set_flag("no_feature")
    assert queue.flags() == ["no_feature"]
    assert [queue.is_done(i) for i in range(4)] == [True, False, True, False]
    assert queue.n_done() == 2 and queue.progress_text() == "2 / 4 done"
    queue.set_flag("no_feature", on=False)
    assert queue.flags() == [] and not queue.is_done(2)


def test_other_annotators_work_does_not_count(queue):
    cutout_id = queue.open().cutout_id
    queue.store.save_mask(cutout_id, np.ones((32, 32), np.uint8), "bob")
    queue.store.set_flag(cutout_id, "unsure", "bob")
    assert not queue.is_done(0) and queue.flags() == []


def test_changing_the_annotator_changes_what_is_done(queue):
    cutout_id = queue.open().cutout_id
    queue.store.save_mask(cutout_id, np.ones((32, 32), np.uint8), "ada")
    assert queue.is_done(0)
    queue.annotator = "bob"
    assert not queue.is_done(0) and queue.open().revision is None
    queue.annotator = "ada"
    assert queue.is_done(0) and queue.open().revision == 1


def test_flags_need_an_open_cutout_and_a_known_flag(queue):
    with pytest.raises(GalsegError, match="m31_legacy: open the cutout"):
        queue.set_flag("no_feature")
    queue.open()
    with pytest.raises(StoreError, match="unknown flag"):
        queue.set_flag("boring")
    queue.set_flag("bad_data")
    assert queue.is_done(0)


def test_next_unannotated_searches_forward_and_wraps_once(queue):
    for index in (1, 3):
        queue.open(index)
        queue.set_flag("unsure")
    queue.go(2)
    assert queue.next_unannotated() == 0
    assert queue.next_unannotated(after=0) == 2
    assert queue.index == 2  # looking does not move
    for index in (0, 2):
        queue.open(index)
        queue.set_flag("no_feature")
    assert queue.next_unannotated() is None


@pytest.mark.parametrize("store_name", ["masks.zarr", "elsewhere/masks.zarr"])
def test_a_new_session_knows_what_is_done_without_reading_files(
    folder, tmp_path, monkeypatch, store_name
):
    store = MaskStore.open(tmp_path / store_name)  # beside the folder (relative sources) or not
    first = AnnotationQueue.from_paths([folder], store, "ada")
    for index in (1, 3):  # a single file and a per-band cutout
        cutout_id = first.open(index).cutout_id
        store.save_mask(cutout_id, np.zeros((32, 32), np.uint8), "ada")

    no_fits_reading(monkeypatch)
    monkeypatch.chdir(folder.parent)  # the folder named another way
    second = AnnotationQueue.from_paths(["cutouts"], MaskStore.open(tmp_path / store_name), "ada")
    assert [second.is_done(i) for i in range(4)] == [False, True, False, True]
    assert second.next_unannotated() == 2


def test_the_bundled_truth_masks_count_as_done_for_their_annotator():
    store = MaskStore.open(SAMPLES / "truth.zarr", mode="r")
    queue = AnnotationQueue.from_paths([SAMPLES], store, "truth")
    assert queue.progress_text() == "8 / 8 done"
    assert AnnotationQueue.from_paths([SAMPLES], store, "ada").n_done() == 0


def test_a_rewritten_file_maps_to_the_cutout_added_last(folder, tmp_path, monkeypatch):
    store = MaskStore.open(tmp_path / "m.zarr")
    queue = AnnotationQueue.from_paths([folder / "ngc1316.fits"], store, "ada")
    old = queue.open().cutout_id
    store.save_mask(old, np.zeros((32, 32), np.uint8), "ada")
    write_cutout(simulate_cutout(99, size=32)[0], folder / "ngc1316.fits", overwrite=True)
    assert queue.open().cutout_id != old and queue.is_done(0) is False

    no_fits_reading(monkeypatch)
    again = AnnotationQueue.from_paths([folder / "ngc1316.fits"], store, "ada")
    assert not again.is_done(0)


def test_queue_items_are_frozen():
    item = QueueItem("x", (Path("x.fits"),))
    with pytest.raises(AttributeError):
        item.name = "y"


def test_same_stem_cutouts_of_two_surveys_are_not_taken_for_bands(tmp_path):
    write(tmp_path, "ngc474_legacy.fits", 1)
    write(tmp_path, "ngc474_hsc.fits", 2, survey="hsc")
    (tmp_path / "catalogue.csv.gz").write_bytes(b"\x1f\x8b not FITS")
    items = find_cutouts([tmp_path])
    assert sorted(item.name for item in items) == ["ngc474_hsc", "ngc474_legacy"]
    assert all(len(item.sources) == 1 for item in items)
    assert {item.read().bands for item in items} == {("g", "r", "z"), ("g", "r", "i")}
