"""Tests of the autosaver: debounce, the max_delay bound, flush, errors, the worker thread."""

import threading
import time

import numpy as np
import pytest

from galseg import MaskStore
from galseg.autosave import Autosaver, saved_ago
from galseg.simulate import simulate_cutout

# Generous margins: the tests share two cores with other work.
SLACK = 0.6


class FakeSave:
    """Records (time.monotonic(), snapshot) per call; can be told to fail or to dawdle."""

    def __init__(self, seconds: float = 0.0):
        self.calls: list[tuple[float, np.ndarray]] = []
        self.seconds = seconds
        self.fail = False
        self.active = 0
        self.max_active = 0
        self.lock = threading.Lock()

    def __call__(self, snapshot: np.ndarray) -> int:
        with self.lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            time.sleep(self.seconds)
            if self.fail:
                raise OSError("disk full")
            self.calls.append((time.monotonic(), snapshot))
            return len(self.calls)
        finally:
            with self.lock:
                self.active -= 1

    @property
    def values(self) -> list[int]:
        return [int(snapshot[0, 0]) for _, snapshot in self.calls]


def snapshot(value: int) -> np.ndarray:
    return np.full((8, 8), value, dtype=np.uint8)


@pytest.fixture
def closing():
    """Autosavers made in a test, closed at its end even if it fails."""
    made: list[Autosaver] = []
    yield made
    for saver in made:
        saver.close(timeout=5)


def make(closing, save, **kwargs) -> Autosaver:
    saver = Autosaver(save, **kwargs)
    closing.append(saver)
    return saver


def wait_until(condition, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def test_quick_changes_are_one_save_of_the_last_snapshot(closing):
    save = FakeSave()
    saver = make(closing, save, delay=0.3, max_delay=2.0)
    start = time.monotonic()
    for value in range(1, 6):
        saver.changed(snapshot(value))
        time.sleep(0.02)
    assert saver.pending and save.calls == []
    assert wait_until(lambda: save.calls, 0.3 + SLACK + 0.2)
    time.sleep(0.4)  # nothing more comes
    assert save.values == [5]
    assert save.calls[0][0] - start >= 0.3  # not before the pause
    assert not saver.pending and saver.last_revision == 1


def test_continuous_changes_are_saved_at_least_every_max_delay(closing):
    save = FakeSave()
    saver = make(closing, save)  # the defaults: 0.5 s after a pause, 2 s at most
    start = time.monotonic()
    value = 0
    while time.monotonic() - start < 3.0:
        value += 1
        saver.changed(snapshot(value))
        time.sleep(0.1)
    times = [start] + [t for t, _ in save.calls]
    assert len(save.calls) >= 1
    assert max(np.diff(times)) <= 2.0 + SLACK
    assert save.values == sorted(save.values) and save.values[-1] < value
    assert saver.flush(timeout=5)
    assert save.values[-1] == value


def test_flush_saves_now_and_waits(closing):
    save = FakeSave(seconds=0.1)
    saver = make(closing, save, delay=10.0, max_delay=20.0)
    assert saver.flush() and save.calls == []  # nothing to save
    saver.changed(snapshot(1))
    saver.changed(snapshot(2))
    assert saver.flush(timeout=5)
    assert save.values == [2] and not saver.pending
    assert saver.flush() and save.values == [2]  # nothing new


def test_flush_waits_for_a_save_in_progress(closing):
    save = FakeSave(seconds=0.3)
    saver = make(closing, save, delay=0.0, max_delay=0.0)
    saver.changed(snapshot(1))
    assert wait_until(lambda: save.active, 1 + SLACK)
    saver.changed(snapshot(2))
    assert saver.flush(timeout=5)
    assert save.values == [1, 2] and save.max_active == 1


def test_flush_times_out(closing):
    save = FakeSave(seconds=0.5)
    saver = make(closing, save, delay=5.0, max_delay=5.0)
    saver.changed(snapshot(1))
    assert not saver.flush(timeout=0.05)
    assert saver.pending


def test_saves_never_overlap(closing):
    save = FakeSave(seconds=0.05)
    saver = make(closing, save, delay=0.0, max_delay=0.0)
    threads = [
        threading.Thread(target=lambda k=k: [saver.changed(snapshot(k)) for _ in range(20)])
        for k in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert saver.flush(timeout=5)
    assert save.max_active == 1 and len(save.calls) >= 1


def test_a_failed_save_is_reported_and_retried(closing):
    save = FakeSave()
    save.fail = True
    errors: list[Exception] = []
    saver = make(closing, save, delay=0.05, max_delay=0.5, on_error=errors.append)
    saver.changed(snapshot(1))
    assert wait_until(lambda: errors, 1 + SLACK)
    assert isinstance(errors[0], OSError) and saver.pending
    time.sleep(0.3)
    assert len(errors) == 1  # no retry until a change or a flush

    assert not saver.flush(timeout=5)  # the retry fails too ...
    assert len(errors) == 2 and saver.pending
    save.fail = False
    assert saver.flush(timeout=5)  # ... and this one works: the snapshot was kept
    assert save.values == [1] and not saver.pending


def test_a_change_after_a_failure_retries_with_the_newest_snapshot(closing):
    save = FakeSave()
    save.fail = True
    errors: list[Exception] = []
    saver = make(closing, save, delay=0.05, max_delay=0.5, on_error=errors.append)
    saver.changed(snapshot(1))
    assert wait_until(lambda: errors, 1 + SLACK)
    save.fail = False
    saver.changed(snapshot(2))
    assert wait_until(lambda: save.calls, 0.5 + SLACK)
    assert save.values == [2] and saver.last_revision == 1


def test_on_saved_reports_revision_and_time_and_its_errors_do_not_stop_saving(closing):
    reports = []

    def on_saved(revision, when):
        reports.append((revision, when))
        raise RuntimeError("widget gone")

    before = time.time()
    saver = make(closing, FakeSave(), delay=0.0, max_delay=0.0, on_saved=on_saved)
    with pytest.warns(UserWarning, match="widget gone"):
        saver.changed(snapshot(1))
        assert saver.flush(timeout=5)
        saver.changed(snapshot(2))
        assert saver.flush(timeout=5)
    assert [revision for revision, _ in reports] == [1, 2]
    assert before <= reports[0][1] <= reports[1][1] <= time.time()
    assert saver.last_saved == reports[1][1]


def test_without_on_error_a_failure_is_a_warning(closing):
    save = FakeSave()
    save.fail = True
    saver = make(closing, save, delay=0.0, max_delay=0.0)
    with pytest.warns(UserWarning, match="autosave failed.*disk full"):
        saver.changed(snapshot(1))
        assert not saver.flush(timeout=5)
        assert not saver.close(timeout=5)  # unsaved: close says so
    assert saver.pending and not saver.running


def test_close_saves_and_stops_the_thread():
    save = FakeSave()
    saver = Autosaver(save, delay=10.0, max_delay=20.0)
    assert saver.running and saver.last_saved is None
    saver.changed(snapshot(7))
    assert saver.close(timeout=5)
    assert save.values == [7] and not saver.running
    assert saver.close()  # twice is harmless
    with pytest.raises(RuntimeError, match="closed"):
        saver.changed(snapshot(8))


def test_delays_are_checked():
    with pytest.raises(ValueError, match="delay"):
        Autosaver(FakeSave(), delay=3.0, max_delay=2.0)


def test_masks_reach_a_real_store_within_max_delay(tmp_path, closing):
    cutout, truth = simulate_cutout(5, size=64)
    store = MaskStore.open(tmp_path / "masks.zarr")
    cutout_id = store.add_cutout(cutout)
    saver = make(
        closing,
        lambda mask: store.save_mask(cutout_id, mask, "ada", content_hash=cutout.content_hash),
        delay=0.3,
        max_delay=1.0,
    )
    mask = np.zeros(cutout.image_shape, dtype=np.uint8)
    start = time.monotonic()
    for row in range(0, 60, 4):  # painting for 1.5 s without a pause
        mask[row : row + 4] = truth[row : row + 4]
        saver.changed(mask.copy())
        time.sleep(0.1)
        if time.monotonic() - start > 1.0 + SLACK:
            assert store.latest(cutout_id, "ada") is not None
    assert saver.flush(timeout=5)
    latest = store.latest(cutout_id, "ada")
    assert latest.revision == saver.last_revision >= 2
    np.testing.assert_array_equal(store.load_mask(cutout_id, "ada"), mask)


@pytest.mark.parametrize(
    ("last", "now", "text"),
    [
        (None, 50.0, "not saved yet"),
        (100.0, 100.0, "saved just now"),
        (100.0, 99.0, "saved just now"),  # a clock set back
        (100.0, 102.9, "saved 2 s ago"),
        (100.0, 159.0, "saved 59 s ago"),
        (100.0, 280.0, "saved 3 min ago"),
        (100.0, 100.0 + 2 * 3600 + 5, "saved 2 h ago"),
    ],
)
def test_saved_ago(last, now, text):
    assert saved_ago(last, now) == text
