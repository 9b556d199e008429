"""A whole annotation session, headless: open, paint, complete, accept, undo, navigate, crash.

No Qt and no display: the session's background work is taken with
``session.wait()``, as a script without an event loop does.
"""

from __future__ import annotations

import os
from pathlib import Path
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


def test_the_model_in_its_own_process_completes_and_retrains_and_this_one_never_imports_torch(
    folder,
):
    pytest.importorskip("torch")
    tuned = folder / "tuned.safetensors"
    script = f"""
import sys, numpy as np
from galseg.annotate import AnnotationSession, assistants
s = AnnotationSession.from_paths([{str(folder)!r}], {str(folder / "masks.zarr")!r}, "ada",
                                 models=assistants(), model_process=True)
s.open()
assert s.wait(lambda: s.model_state == "ready" and not s.busy, timeout=120), s.last_error
w = np.zeros(s.mask.shape, bool); w[20, 10:30] = True
s.paint(w, label=1)
s.stroke_finished()
assert s.wait(lambda: s.preview is not None, timeout=60), s.last_error
print(s.model_name, int(s.preview.any()), "torch" in sys.modules, flush=True)
s.next()
s.paint(w, label=2)
steps = []
s.events.retrain_progress.connect(lambda done, total: steps.append((done, total)))
run = s.retrain(steps=2, out={str(tuned)!r})
assert s.wait(run.done.is_set, timeout=240) and run.error is None, run.error
print(steps[-1], run.report.n_train, run.report.n_held_back, "torch" in sys.modules, flush=True)
s.close()
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=400
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["galseg-assist.safetensors", "(CPU)", "1", "False"]
    assert lines[1] == "(2, 2) 1 1 False"  # fine-tuned in a child: still no torch here


def test_closing_while_the_model_process_loads_ends_it_at_once(folder):
    pytest.importorskip("torch")
    from galseg.annotate import assistants

    session = session_on(folder, None, model_process=True)
    session.load_model(assistants()["galseg"], "galseg")
    time.sleep(0.5)  # the child is importing torch
    (process,) = session._processes
    start = time.perf_counter()
    assert session.close()
    assert time.perf_counter() - start < 5
    assert not process._process.is_alive()


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


class RankingModel(DiskModel):
    """A stand-in for automatic mode: its uncertainty is the cutout's mean of band 0,
    its embedding the mean of each band, so the expected order is known."""

    def __init__(self):
        super().__init__()
        self.segmented = []

    def segment_many(self, cutouts, *, embed=False):
        self.segmented.extend(c.name for c in cutouts)
        return [
            SimpleNamespace(
                uncertainty=float(np.nanmean(c.data[0])),
                embedding=np.nanmean(c.data, axis=(1, 2)),
            )
            for c in cutouts
        ]


@pytest.fixture
def five(tmp_path):
    for seed in range(1, 6):
        write_cutout(simulate_cutout(seed, size=SIZE)[0], tmp_path / f"gal{seed}.fits")
    return tmp_path


def expected_scores(folder):
    from galseg.io import read_cutout

    paths = sorted(folder.glob("gal*.fits"))
    cutouts = [read_cutout(p) for p in paths]
    return [float(np.nanmean(c.data[0])) for c in cutouts], [
        np.nanmean(c.data, axis=(1, 2)) for c in cutouts
    ]


def test_next_most_informative_scores_the_queue_then_opens_the_most_uncertain_undone(five):
    model = RankingModel()
    session = session_on(five, model)
    doubt, _ = expected_scores(five)
    order = list(np.argsort(doubt)[::-1])
    progress = []
    session.events.scoring_progress.connect(lambda done, total: progress.append((done, total)))
    assert session.wait(lambda: session.can_rank)
    assert not session.next_most_informative()  # scoring first, in the model's thread
    assert session.wait(lambda: session.queue.index == order[0] and not session.busy)
    assert progress[-1] == (5, 5) and sorted(model.segmented) == [f"gal{i}" for i in range(1, 6)]
    painted = session.current_id
    session.paint(stroke(), label=1)
    assert session.next_most_informative()  # scored: at once, skipping the painted one
    assert session.queue.index == order[1] and len(model.segmented) == 5
    assert revisions(session, painted) == [(1, "painted")]
    session.close()


def test_more_like_this_opens_the_nearest_undone_cutout_in_embedding_space(five):
    from galseg.rank import similarity_order

    session = session_on(five, RankingModel())
    _, vectors = expected_scores(five)
    session.wait(lambda: session.can_rank)
    session.open(2)
    assert not session.more_like_this() and session.wait(lambda: session.scores.complete)
    session.wait(lambda: not session.busy)
    others = [i for i in range(5) if i != 2]
    nearest = others[similarity_order(np.stack([vectors[i] for i in others]), vectors[2])[0][0]]
    assert session.queue.index == nearest
    session.close()


def test_without_a_model_that_segments_there_is_nothing_to_rank(five):
    session = session_on(five, DiskModel())
    session.wait(lambda: session.model_state == "ready")
    assert not session.can_rank and not session.next_most_informative()
    assert not session.more_like_this() and session.queue.index == 0
    session.close()


def test_after_n_new_masks_it_offers_to_retrain_and_reranks_with_a_better_model(five):
    """The loop closes: new masks, an offer, a retrain in the background, a re-ranked queue."""
    trained, loaded, better = five / "better.safetensors", [], RankingModel()
    better.checkpoint_path = trained

    def finetune(store, start, out, *, steps, holdout, progress):
        for step in range(1, steps + 1):
            progress(step, steps)
        Path(out).write_bytes(b"weights")
        return SimpleNamespace(written=True, checkpoint=Path(out))

    def load_assistant(checkpoint):
        loaded.append(checkpoint)
        return better

    galseg_model = SimpleNamespace(
        Assistant=RankingModel,
        finetune=finetune,
        load_assistant=load_assistant,
    )
    first = RankingModel()
    session = session_on(
        five, first, retrain_every=2, import_model=lambda: galseg_model, model_threads=1
    )
    offers, steps = [], []
    session.events.retrain_offered.connect(offers.append)
    session.events.retrain_progress.connect(lambda done, total: steps.append(done))
    session.wait(lambda: session.can_rank)
    session.score_queue()
    session.wait(lambda: session.scores is not None and session.scores.complete)
    for index in (0, 1, 0, 2, 3):  # a repaint of the same cutout is not a new mask
        session.open(index)
        session.paint(stroke(), label=1)
        session.flush()
        session.wait(lambda: session.pending is False, timeout=5)
    session.open(4)
    session.wait(lambda: len(offers) == 2, timeout=10)
    assert offers == [2, 4] and len(session.new_masks) == 4

    run = session.retrain(steps=3, out=trained, rerank=True)
    assert session.wait(lambda: session.model is better and session.scores is not None)
    assert session.wait(lambda: session.scores.complete and not session.busy)
    assert run.done.is_set() and steps == [1, 2, 3] and loaded == [trained]
    assert len(better.segmented) == 5  # every cutout scored again, by the new model
    session.close()


def test_calibration_measures_the_expert_against_hidden_truth_and_hints(folder):
    """Colleagues paint the calibration cutouts as the truth; ada paints half of each
    feature: she is told, for those classes, with an example that is not in her queue."""
    from galseg.agreement import measure_agreement
    from galseg.annotate import AnnotationQueue, Calibration
    from galseg.io import read_cutout
    from galseg.queue import find_cutouts
    from galseg.simulate import SimulatedAnnotator

    store = MaskStore.open(folder / "masks.zarr")
    calibration = Calibration.prepare(store.path, 3)
    truth = MaskStore.open(calibration.truth_path, mode="r")
    for path in calibration.files:
        cutout_id = store.add_cutout(read_cutout(path))
        for colleague in ("bea", "cy"):
            store.save_mask(cutout_id, truth.load_mask(cutout_id), colleague)
    items = calibration.mix(find_cutouts([folder / "gal1.fits", folder / "gal2.fits"]))
    assert len(items) == 5
    session = AnnotationSession(
        AnnotationQueue(items, store, "ada"),
        calibration=calibration,
        save_delay=0.05,
        max_save_delay=0.2,
    )
    told = []
    session.events.calibration_feedback.connect(lambda feedback, new: told.append(new))
    half = SimulatedAnnotator("half", keep=0.5)
    for index in range(len(items)):
        session.open(index)
        assert session.opened.revision is None and not session.mask.any()  # never the truth
        if session.current_id in calibration.ids:
            painted = half.paint(truth.load_mask(session.current_id))
            for value in np.unique(painted[painted > 0]):
                session.paint(painted == value, label=int(value))
    session.open(0)  # leaving the last cutout measures it too
    session.close()

    feedback = session.feedback
    assert feedback is not None and told and sum(len(new) for new in told) == len(feedback.hints)
    hinted = {hint.name: hint for hint in feedback.hints}
    for skill in feedback.skills:
        assert skill.others == 1.0 and skill.n_cutouts == 3
        assert skill.area_ratio < 0.7 and (skill.name in hinted) == (skill.iou <= 0.85)
    assert hinted, feedback.text()
    hint = next(iter(hinted.values()))
    assert "of the truth's area" in hint.message and "IoU" in hint.message
    value = store.taxonomy[hint.name].value
    assert (hint.truth == value).sum() >= 100
    assert hint.example.content_hash[:16] not in calibration.ids
    report = measure_agreement(store, truth=calibration.truth_path)
    assert report.annotators["ada"]["iou_vs_truth"] < report.annotators["bea"]["iou_vs_truth"]


def test_others_masks_and_their_consensus_can_be_reviewed_and_copied(folder):
    store = MaskStore.open(folder / "masks.zarr")
    session = session_on(folder)
    assert session.review_masks() == {}  # no one else painted it
    cutout_id = session.current_id
    wide, narrow = np.zeros((SIZE, SIZE), np.uint8), np.zeros((SIZE, SIZE), np.uint8)
    wide[10:30, 10:30], narrow[15:25, 15:25] = 1, 1
    store.save_mask(cutout_id, wide, "bea")
    store.save_mask(cutout_id, narrow, "cy")
    store.save_mask(cutout_id, wide, "galseg-predict", provenance="predicted")  # not a person
    session.open()
    review = session.review_masks()
    assert list(review) == ["bea", "cy", "consensus"]
    assert np.array_equal(review["bea"], wide) and np.array_equal(review["cy"], narrow)
    assert (review["consensus"] == 1).sum() >= (narrow == 1).sum()

    assert session.copy_from("cy") and np.array_equal(session.mask, narrow)
    latest = MaskStore.open(store.path, mode="r").latest(cutout_id, "ada")
    assert latest.provenance == "imported" and latest.metadata["copied_from"] == "cy"
    assert session.undo() and not session.mask.any()  # one undo step
    assert not session.copy_from("nobody")
    session.close()
