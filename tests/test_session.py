"""A whole annotation session, headless: open, paint, complete, accept, undo, navigate, crash.

No Qt and no display: the session's background work is taken with
``session.wait()``, as a script without an event loop does.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

from galseg import GalsegError, MaskStore
from galseg.annotate import AnnotationSession, retrain_output
from galseg.io import write_cutout
from galseg.simulate import simulate_cutout

SIZE = 48


class DiskModel:
    """A stand-in for the model: completes a stroke into the disc of radius 10 around it.

    ``gate`` holds loading until it is set, as a slow first import of torch does.
    """

    def __init__(self, gate: threading.Event | None = None, seconds: float = 0.0):
        self.gate, self.seconds, self.images = gate, seconds, []

    def load(self):
        if self.gate is not None:
            self.gate.wait(10)
        return self

    def set_image(self, cutout):
        self.images.append(cutout.content_hash)

    def complete(self, positive, negative, label, previous=None):
        time.sleep(self.seconds)
        y, x = np.nonzero(positive)
        yy, xx = np.mgrid[: positive.shape[0], : positive.shape[1]]
        disc = (yy - y.mean()) ** 2 + (xx - x.mean()) ** 2 <= 100
        return SimpleNamespace(probability=np.where(disc & ~negative, 0.9, 0.1).astype(np.float32))


@pytest.fixture
def folder(tmp_path):
    for seed in (1, 2):
        write_cutout(simulate_cutout(seed, size=SIZE)[0], tmp_path / f"gal{seed}.fits")
    return tmp_path


def session_on(folder, model=None, **kwargs):
    models = {"disc": model.load} if model is not None else None
    session = AnnotationSession.from_paths(
        [folder],
        folder / "masks.zarr",
        "ada",
        models=models,
        save_delay=0.05,
        max_save_delay=0.2,
        **kwargs,
    )
    session.open_first_readable()
    return session


def stroke(y=20, x0=15, x1=30):
    where = np.zeros((SIZE, SIZE), bool)
    where[y, x0:x1] = True
    return where


def revisions(session, cutout_id=None):
    store = MaskStore.open(session.store.path, mode="r")
    return [(r.revision, r.provenance) for r in store.history(cutout_id or session.current_id)]


def test_strokes_are_saved_within_the_delay_and_at_once_on_navigation(folder):
    session = session_on(folder)
    session.paint(stroke(), label=2)
    session.wait(lambda: session.last_saved is not None, timeout=5)
    first = session.current_id
    np.testing.assert_array_equal(session.store.load_mask(first, "ada"), stroke() * 2)
    session.paint(stroke(30), label=3)
    assert session.next()  # saved before the next cutout opens, without waiting for the delay
    assert session.store.load_mask(first, "ada")[30, 20] == 3
    assert session.current_id != first and not session.mask.any()
    assert session.previous() and session.mask[30, 20] == 3  # reopening restores it
    assert session.queue.progress_text() == "1 / 2 done"
    session.close()


def test_an_unchanged_mask_is_never_saved_again(folder):
    session = session_on(folder)
    session.paint(stroke(), label=1)
    assert session.flush()
    assert len(revisions(session)) == 1
    first = session.current_id
    session.paint(stroke(30), label=1)
    session.undo()  # back to what is saved
    assert session.flush() and session.next() and session.close()
    assert revisions(session, first) == [(1, "painted")]


def test_undo_and_redo_change_the_mask_and_are_saved(folder):
    session = session_on(folder)
    changed = []
    session.events.mask_changed.connect(changed.append)
    session.paint(stroke(), label=1)
    session.paint(stroke(30), label=4)
    assert session.undo() and not (session.mask == 4).any() and (session.mask == 1).sum() == 15
    assert changed == [(slice(30, 31), slice(15, 30))]
    assert session.flush()
    assert not (session.store.load_mask(session.current_id, "ada") == 4).any()
    assert session.redo() and session.flush()
    assert (session.store.load_mask(session.current_id, "ada") == 4).sum() == 15
    assert session.undo() and session.undo() and not session.undo()
    assert not session.mask.any()
    session.close()


def test_a_stroke_is_completed_accepted_as_one_assisted_revision_and_undone(folder):
    model = DiskModel()
    session = session_on(folder, model)
    assert session.wait() and session.model_state == "ready"
    session.paint(stroke(), label=1)
    request = session.stroke_finished()
    assert request is not None and request.positive.sum() == 15
    assert session.wait(lambda: session.preview is not None, timeout=10)
    assert session.latencies and session.preview.sum() > 15
    time.sleep(0.3)  # the stroke's own autosave happens first
    session.wait(lambda: not session.pending, timeout=5)
    before = len(revisions(session))
    preview = session.preview.copy()
    assert session.accept()
    assert session.preview is None and (session.mask[preview] == 1).all()
    assert session.flush()
    time.sleep(0.5)  # longer than the autosave's delays: nothing more is saved
    assert session.flush()
    assert [p for _, p in revisions(session)][before:] == ["assisted"]
    latest = session.store.latest(session.current_id, "ada")
    assert latest.metadata["model"] == "DiskModel (CPU)" and latest.metadata["label"] == 1
    assert session.undo() and (session.mask == 1).sum() == 15  # one undo takes it back
    session.close()


def test_a_second_stroke_refines_and_a_stroke_of_another_class_starts_afresh(folder):
    session = session_on(folder, DiskModel())
    session.wait()
    session.paint(stroke(), label=1)
    first = session.stroke_finished()
    session.paint(stroke(22), label=1)
    second = session.stroke_finished()
    session.wait()
    assert second.previous is None and session.assist.preview.generation == second.generation
    assert second.positive.sum() == 30 and first.positive.sum() == 15
    session.select(3)
    session.paint(stroke(40), label=3)
    third = session.stroke_finished()
    session.wait()
    assert third.positive.sum() == 15 and session.assist.preview.label == 3
    session.reject()
    assert session.preview is None and (session.mask == 3).sum() == 15
    session.close()


def test_the_eraser_is_a_negative_prompt_and_the_threshold_needs_no_model(folder):
    session = session_on(folder, DiskModel())
    session.wait()
    session.paint(stroke(), label=1)
    session.stroke_finished()
    session.wait()
    erased = np.zeros((SIZE, SIZE), bool)
    erased[25:28, 15:30] = True  # unlabelled pixels: only the footprint says where
    session.stroke_finished(erased=erased)
    session.wait()
    assert not (session.preview & erased).any()
    calls = len(session.latencies)
    session.set_threshold(0.05)
    assert session.preview.all() or session.preview.sum() > 15
    assert len(session.latencies) == calls
    session.close()


def test_a_stroke_made_while_the_model_loads_is_completed_once_it_is_ready(folder):
    gate = threading.Event()
    session = session_on(folder, DiskModel(gate))
    assert session.model_state == "loading" and session.assisting
    session.paint(stroke(), label=1)
    assert session.stroke_finished() is not None
    time.sleep(0.1)
    session.run_pending()
    assert session.preview is None
    gate.set()
    assert session.wait(lambda: session.preview is not None, timeout=10)
    session.close()


class ThreadCountingModel(DiskModel):
    """Records how many threads torch may use in each completion."""

    def __init__(self):
        super().__init__()
        self.threads = []

    def load(self):
        import torch  # noqa: F401  (as the real model's load does)

        return self

    def complete(self, positive, negative, label, previous=None):
        import torch

        self.threads.append(torch.get_num_threads())
        return super().complete(positive, negative, label, previous)


@pytest.mark.parametrize("threads", [None, 1])
def test_the_model_leaves_a_core_to_the_ui(folder, threads):
    pytest.importorskip("torch")
    model = ThreadCountingModel()
    session = session_on(folder, model, model_threads=threads)
    session.paint(stroke(), label=1)
    session.stroke_finished()
    assert session.wait(lambda: session.preview is not None, timeout=30)
    cores = os.cpu_count() or 1
    assert model.threads == [threads or max(1, cores - 1)]
    assert model.threads[0] < cores or cores == 1
    session.close()


def test_closing_while_the_model_loads_or_completes_ends_cleanly_after_the_last_save(folder):
    gate = threading.Event()
    session = session_on(folder, DiskModel(gate, seconds=0.5))
    session.paint(stroke(), label=2)
    session.stroke_finished()
    threading.Timer(0.2, gate.set).start()
    assert session.close()  # joins the model's thread; the answer is dropped
    assert (session.store.load_mask(session.current_id, "ada") == 2).sum() == 15


def test_a_failed_save_keeps_the_mask_and_is_retried(folder, monkeypatch):
    session = session_on(folder)
    errors = []
    session.events.error.connect(errors.append)
    real = MaskStore.save_mask
    monkeypatch.setattr(
        MaskStore,
        "save_mask",
        lambda *a, **k: (_ for _ in ()).throw(GalsegError("masks.zarr: disk full")),
    )
    session.paint(stroke(), label=2)
    first = session.current_id
    assert not session.next()  # the cutout stays open with its strokes
    assert "disk full" in errors[-1] and session.queue.index == 0 and session.mask.any()
    monkeypatch.setattr(MaskStore, "save_mask", real)
    assert session.next()
    assert (session.store.load_mask(first, "ada") == 2).sum() == 15
    session.close()


def test_close_keeps_an_unsavable_mask_in_a_file(folder, monkeypatch):
    session = session_on(folder)
    monkeypatch.setattr(
        MaskStore,
        "save_mask",
        lambda *a, **k: (_ for _ in ()).throw(GalsegError("masks.zarr: read-only")),
    )
    session.paint(stroke(), label=2)
    assert not session.close(timeout=5)
    kept = list(folder.glob("galseg-unsaved-*.npy"))
    assert len(kept) == 1 and (np.load(kept[0]) == 2).sum() == 15


def test_a_killed_session_loses_at_most_the_last_seconds(folder):
    script = f"""
import time, numpy as np
from galseg.annotate import AnnotationSession
s = AnnotationSession.from_paths([{str(folder)!r}], {str(folder / "masks.zarr")!r}, "ada")
s.open()
w = np.zeros(s.mask.shape, bool); w[5, 5:25] = True
s.paint(w, label=5)
time.sleep(2.5)
print("painted", flush=True)
time.sleep(60)
"""
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "painted"
    child.kill()
    child.wait()
    session = session_on(folder)  # restore
    assert (session.mask == 5).sum() == 20
    session.close()


def test_flags_and_next_unannotated(folder):
    session = session_on(folder)
    session.set_flag("unsure")
    assert session.flags() == ["unsure"] and session.next_unannotated()
    assert session.queue.index == 1
    session.close()


def test_only_unreadable_inputs_are_refused_with_their_reasons(tmp_path):
    (tmp_path / "x.fits").write_text("not FITS at all")
    session = AnnotationSession.from_paths([tmp_path / "x.fits"], tmp_path / "m.zarr", "ada")
    with pytest.raises(GalsegError, match=r"no cutout could be read:\n  .*x\.fits"):
        session.open_first_readable()
    session.close()


def test_a_cutout_opened_in_the_background_is_painted_once_it_is_there(folder):
    session = session_on(folder)
    first = session.current_id
    session.paint(stroke(), label=2)
    seen = []
    session.events.opening.connect(lambda: seen.append(("opening", session.current_id)))
    session.events.opened.connect(lambda: seen.append(("opened", session.current_id)))
    assert session.next(background=True)
    assert session.store.load_mask(first, "ada")[20, 20] == 2  # saved before reading
    assert session.opening and session.mask is None and session.queue.index == 1
    session.paint(stroke(30), label=3)  # nothing to paint on yet: ignored
    assert session.wait(lambda: not session.opening, timeout=30)
    second = session.current_id
    assert seen == [("opening", None), ("opened", second)] and second != first
    assert session.mask is not None and not session.mask.any()
    session.paint(stroke(30), label=3)
    assert session.close() and session.store.load_mask(second, "ada")[30, 20] == 3


def test_a_later_open_supersedes_a_background_one(folder):
    session = session_on(folder)
    opened = []
    session.events.opened.connect(lambda: opened.append(session.current_id))
    session.next(background=True)
    session.previous(background=True)
    assert session.wait(lambda: not session.opening, timeout=30)
    session.run_pending(0.2)  # an answer of the superseded read would arrive by now
    assert session.queue.index == 0 and len(opened) == 1 and opened[0] == session.current_id
    session.close()


def test_unreadable_cutouts_are_skipped_in_the_background_with_their_reasons(folder):
    (folder / "a_broken.fits").write_text("not FITS at all")
    session = AnnotationSession.from_paths([folder], folder / "masks.zarr", "ada")
    assert session.open_first_readable(background=True) == []
    assert session.wait(lambda: not session.opening, timeout=30)
    assert session.queue.index == 1 and session.opened is not None
    assert len(session.unreadable) == 1 and "a_broken.fits" in session.unreadable[0]
    session.close()
    (folder / "gal1.fits").unlink()
    (folder / "gal2.fits").unlink()
    session = AnnotationSession.from_paths([folder], folder / "m2.zarr", "ada")
    errors = []
    session.events.error.connect(errors.append)
    session.open_first_readable(background=True)
    assert session.wait(lambda: not session.opening, timeout=30)
    assert session.opened is None and errors == [session.open_error]
    assert session.open_error.startswith("no cutout could be read:\n  ")
    assert "a_broken.fits" in session.open_error
    session.close()


def test_an_empty_annotator_name_is_refused(folder):
    with pytest.raises(GalsegError, match="annotator"):
        AnnotationSession.from_paths([folder], folder / "m.zarr", "")


def test_retrain_output_sits_beside_the_store(tmp_path):
    out = retrain_output(tmp_path / "masks.zarr")
    assert out.parent == tmp_path / "galseg-models" and out.suffix == ".safetensors"
