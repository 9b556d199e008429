"""Many writers, one store: concurrent saves, and writers killed at random moments.

The writers are real processes (``tests/_revision_writer.py``) saving through
:meth:`MaskStore.save_mask`, through an :class:`~galseg.autosave.Autosaver`
(as the annotator does), or as ``galseg predict`` workers
(:func:`galseg.batch.predict_batch`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from galseg import Cutout, MaskStore
from galseg.check import check_store

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from _revision_writer import SHAPE, expected_mask, identity  # noqa: E402

ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}


def new_store(path: Path, n: int) -> tuple[MaskStore, list[str]]:
    store = MaskStore.open(path)
    rng = np.random.default_rng(7)
    ids = [
        store.add_cutout(Cutout.from_array(rng.normal(size=(1, *SHAPE)), bands=["r"]))
        for _ in range(n)
    ]
    return store, ids


def start(mode: str, store: MaskStore, writer: int, n: int, ids: list[str], pause=0.0):
    child = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "_revision_writer.py"),
            mode,
            str(store.path),
            str(writer),
            str(n),
            str(pause),
            *ids,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=ENV,
    )
    assert child.stdout.readline().strip() == b"ready"
    return child


def go(children: list[subprocess.Popen]) -> None:
    """Let writers that are ready start saving, all at once."""
    for child in children:
        child.stdin.write(b"go\n")
        child.stdin.flush()


class ModelMasks:
    """The shipped model's masks of a store's cutouts, as a predict worker writes them
    (one torch thread), computed once each."""

    def __init__(self, store: MaskStore):
        torch = pytest.importorskip("torch")
        from galseg.model import load_assistant

        self.torch, self.store, self.masks = torch, store, {}
        self.assistant = load_assistant(device="cpu")

    def __call__(self, cutout_id: str) -> np.ndarray:
        if cutout_id not in self.masks:
            threads = self.torch.get_num_threads()
            self.torch.set_num_threads(1)
            try:
                cutout = self.store.cutout(cutout_id)
                self.masks[cutout_id] = self.assistant.segment_many([cutout])[0].labels
            finally:
                self.torch.set_num_threads(threads)
        return self.masks[cutout_id]


def assert_history_is_whole_and_ordered(
    store: MaskStore, cutout_id: str, after: int = 0, model: ModelMasks | None = None
) -> list:
    """Revisions 1..n, in time order, each a mask some writer meant in full (those
    above ``after``: published revisions never change, so each is read once).

    With ``model``, a predict worker's revision is the model's mask of the
    cutout, the only prediction of it (seen as ``(worker, 0)``).
    """
    from galseg.batch import PREDICTOR

    history = store.history(cutout_id)
    assert [rev.revision for rev in history] == list(range(1, len(history) + 1))
    assert [rev.time for rev in history] == sorted(rev.time for rev in history)
    seen = []
    for rev in history[after:]:
        mask = store.load_mask(cutout_id, revision=rev.revision)
        if model is not None and rev.annotator == PREDICTOR:
            assert [r.annotator for r in history].count(PREDICTOR) == 1
            assert rev.metadata["model"]["sha256"] == model.assistant.identity
            np.testing.assert_array_equal(mask, model(cutout_id))
            seen.append((int(rev.metadata["run"]), 0))
            continue
        writer, k = identity(mask)
        np.testing.assert_array_equal(mask, expected_mask(writer, k))  # nothing mixed
        assert rev.annotator == f"writer{writer}"
        seen.append((writer, k))
    for writer in {w for w, _ in seen}:  # each writer's own saves keep their order
        ks = [k for w, k in seen if w == writer]
        assert ks == sorted(ks)
    return seen


def test_four_processes_saving_into_one_store_lose_and_repeat_nothing(tmp_path):
    store, (a, b, c, *others) = new_store(tmp_path / "shared.zarr", 7)
    model = ModelMasks(store)
    children = [
        # a galseg predict worker (ready once its model is loaded), on annotated cutouts
        # and its own; its last batch is a again, done before: skipped
        start("predict", store, 4, 7, [a, c, *others]),
        start("autosave", store, 1, 40, [a], pause=0.01),  # an annotator painting cutout a
        start("save", store, 2, 24, [a, b]),  # another annotator, on a and b
        start("save", store, 3, 24, [a, b, c]),  # a script saving masks
    ]
    go(children)
    returned: dict[str, list[int]] = {cid: [] for cid in (a, b, c, *others)}
    for child in children:
        out, _ = child.communicate(timeout=240)
        assert child.returncode == 0
        for cid, revisions in json.loads(out.splitlines()[-1]).items():
            returned[cid] += revisions
    for cid in (a, b, c, *others):
        seen = assert_history_is_whole_and_ordered(store, cid, model=model)
        # Every save returned its own number, and every number is a revision: none lost
        assert sorted(returned[cid]) == list(range(1, len(seen) + 1))
    assert len(store.history(b)) == 12 + 8 and len(store.history(c)) == 8 + 1
    assert all(len(store.history(cid)) == 1 for cid in others)
    assert check_store(store.path).ok


def assert_predictions_are_whole(store: MaskStore, cutout_id: str, model: ModelMasks) -> int:
    """At most one revision, the model's mask of the cutout exactly; returns how many."""
    from galseg.batch import PREDICTOR

    history = store.history(cutout_id)
    assert len(history) <= 1  # a worker killed and run again never writes twice
    for rev in history:
        assert rev.annotator == PREDICTOR and rev.provenance == "predicted"
        assert rev.metadata["model"]["sha256"] == model.assistant.identity
        mask = store.load_mask(cutout_id, revision=rev.revision)
        np.testing.assert_array_equal(mask, model(cutout_id))
    return len(history)


@pytest.mark.parametrize("n_kills", [30, pytest.param(300, marks=pytest.mark.slow)])
def test_writers_killed_at_random_moments_never_lose_or_mix_a_revision(tmp_path, n_kills):
    """SIGKILLs of writers (save_mask, autosave, and ``galseg predict`` workers) in
    the middle of their work: three hundred in the soak, thirty in the normal suite.

    After each kill the store opens, its revisions are numbered 1..n in time
    order, and each new one is exactly a mask a writer meant (never a mix): a
    writer's own, or the model's mask of the cutout, written once however often
    the worker predicting it was killed.
    """
    from galseg.batch import PREDICTOR
    from galseg.simulate import simulate_cutout

    store, ids = new_store(tmp_path / "soak.zarr", 2)
    model = ModelMasks(store)
    rng = np.random.default_rng(300)
    zygote = subprocess.Popen(
        [sys.executable, str(HERE / "_revision_writer.py"), "zygote", "--model"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=ENV,
        text=True,
    )
    assert zygote.stdout.readline().strip() == "ready"
    kills, checked = 0, dict.fromkeys(ids, 0)
    predicting: list[str] = []  # cutouts of predict workers, in the order given
    try:
        while kills < n_kills:
            kind = ("save", "autosave", "predict")[kills % 3]
            if kind == "predict":  # the last worker's unfinished cutouts, and two new ones
                fresh = [
                    store.add_cutout(simulate_cutout(len(predicting) + i, size=64)[0])
                    for i in range(2)
                ]
                chosen = [c for c in predicting if store.latest(c, PREDICTOR) is None][:3]
                chosen += fresh
                predicting += fresh
            else:
                chosen = ids if kind == "save" else [ids[kills % 4 // 2]]
            zygote.stdin.write(f"{kind} {store.path} {kills} 0 0 {' '.join(chosen)}\n")
            zygote.stdin.flush()
            pid = int(zygote.stdout.readline())
            assert zygote.stdout.readline().strip() == "saved"  # its first save, whole
            # then it dies at any point of a later one (reading, the model, writing)
            time.sleep(rng.uniform(0.0, 0.3 if kind == "predict" else 0.05))
            os.kill(pid, signal.SIGKILL)
            kills += 1
            reopened = MaskStore.open(store.path, mode="r")
            for cid in ids:
                seen = assert_history_is_whole_and_ordered(reopened, cid, checked[cid])
                checked[cid] += len(seen)
            for cid in predicting:
                checked[cid] = checked.get(cid) or assert_predictions_are_whole(
                    reopened, cid, model
                )
    finally:
        zygote.kill()
        zygote.wait()
    report = check_store(store.path)  # every revision again, with its content hash
    assert not report.problems
    assert check_store(store.path, repair=True).ok  # the kills' leftovers, and only they, go
    assert checked[ids[0]] + checked[ids[1]] > n_kills / 3  # saves got through between kills
    final = MaskStore.open(store.path, mode="r")
    assert all(assert_predictions_are_whole(final, c, model) == checked[c] for c in predicting)
    predicted = [cid for cid in predicting if checked[cid]]
    assert len(predicted) > n_kills / 6 and sum(model(c).any() for c in predicted) > n_kills / 30
    after = MaskStore.open(store.path, mode="r+")  # and the store takes new ones
    assert after.save_mask(ids[0], expected_mask(999, 0), "writer999") == checked[ids[0]] + 1
    print(
        f"\n{kills} writers killed ({kills // 3} of them galseg predict workers); "
        f"{report.revisions} revisions intact, {len(predicted)} of them predicted"
    )
