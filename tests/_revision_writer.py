"""Writers of mask revisions for the concurrency and crash tests, run in child processes.

Every mask a writer saves says who wrote it and which it was: its first row
holds the writer's number and its sequence number ``k``, and the rest are
pseudo-random labels drawn from both (:func:`expected_mask`), so a checker can
tell a whole revision from one mixed from two. A ``galseg predict`` worker
(:func:`predict`) writes the shipped model's masks of the cutouts it is given:
a checker compares them with the model's own.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
import signal
import sys
import time
from typing import TYPE_CHECKING

import numpy as np

from galseg import MaskStore
from galseg.autosave import Autosaver
from galseg.checkpoint_info import SHIPPED_CHECKPOINT, inspect_checkpoint

if TYPE_CHECKING:
    from galseg.batch import Job

SHAPE = (64, 96)


def expected_mask(writer: int, k: int) -> np.ndarray:
    """Mask ``k`` of writer number ``writer``: labels 0-5, its identity in the first row."""
    rng = np.random.default_rng([writer, k])
    mask = rng.integers(0, 6, size=SHAPE, dtype=np.uint8)
    digits = np.base_repr(writer, 6).zfill(4) + np.base_repr(k, 6).zfill(6)
    mask[0, :10] = [int(d) for d in digits]
    return mask


def identity(mask: np.ndarray) -> tuple[int, int]:
    """(writer, k) that :func:`expected_mask` wrote into a mask's first row."""
    digits = "".join(str(int(d)) for d in mask[0, :10])
    return int(digits[:4], 6), int(digits[4:], 6)


def save(store_path: str, writer: int, n: int, cutout_ids: list[str], pause: float) -> dict:
    """Save ``n`` masks (forever if 0), round the cutouts; revision numbers by cutout."""
    store = MaskStore.open(store_path, mode="r+")
    got: dict[str, list[int]] = {cid: [] for cid in cutout_ids}
    k = 0
    while n == 0 or k < n:
        cid = cutout_ids[k % len(cutout_ids)]
        got[cid].append(store.save_mask(cid, expected_mask(writer, k), f"writer{writer}"))
        if k == 0:
            print("saved", flush=True)  # the first save is whole: kill me any time now
        k += 1
        time.sleep(pause)
    return got


def autosave(store_path: str, writer: int, n: int, cutout_ids: list[str], pause: float) -> dict:
    """Paint ``n`` changes (forever if 0) into one cutout through an Autosaver."""
    store = MaskStore.open(store_path, mode="r+")
    (cid,) = cutout_ids
    got: dict[str, list[int]] = {cid: []}

    def saved(revision: int, _when: float) -> None:
        got[cid].append(revision)
        if len(got[cid]) == 1:
            print("saved", flush=True)  # the first save is whole: kill me any time now

    saver = Autosaver(
        lambda mask: store.save_mask(cid, mask, f"writer{writer}"),
        delay=0.0,
        max_delay=0.05,
        on_saved=saved,
    )
    k = 0
    while n == 0 or k < n:
        saver.changed(expected_mask(writer, k))
        k += 1
        time.sleep(pause)
    saver.close()
    return got


def predict_job(store_path: str, writer: int) -> Job:
    """The job of a ``galseg predict`` worker of the shipped model, on one CPU thread."""
    from galseg.batch import Job

    identity = inspect_checkpoint(SHIPPED_CHECKPOINT).identity
    return Job(store_path, str(SHIPPED_CHECKPOINT), identity, "cpu", threads=1, run=str(writer))


def predict(store_path: str, writer: int, n: int, cutout_ids: list[str], pause: float) -> dict:
    """As a ``galseg predict`` worker, predict ``n`` batches of one cutout of the store
    (forever if 0), round the cutouts (those done before are skipped)."""
    from galseg.batch import PREDICTOR, predict_batch
    from galseg.discovery import QueueItem

    store = MaskStore.open(store_path, mode="r+")
    job = predict_job(store_path, writer)
    got: dict[str, list[int]] = {cid: [] for cid in cutout_ids}
    k = 0
    while n == 0 or k < n:
        cid = cutout_ids[k % len(cutout_ids)]
        item = QueueItem(cid, store_id=cid, store_path=Path(store_path))
        (outcome,) = predict_batch([item], job)
        if outcome.status not in ("predicted", "skipped"):
            raise RuntimeError(f"cutout {cid}: {outcome.status} {outcome.reason}")
        revision = store.latest(cid, PREDICTOR).revision
        # a cutout given again in the same run counts "predicted" without a new write
        if outcome.status == "predicted" and revision not in got[cid]:
            got[cid].append(revision)
        if k == 0:
            print("saved", flush=True)  # the first batch is whole: kill me any time now
        k += 1
        time.sleep(pause)
    return got


def load_model() -> None:
    """Load the shipped model into this process (one torch thread) and run it once, as a
    ``galseg predict`` worker has before its batches."""
    from galseg.batch._worker import worker_assistant
    from galseg.simulate import simulate_cutout

    worker_assistant(predict_job("", 0)).segment_many([simulate_cutout(0, size=64)[0]])


def run(argv: list[str]) -> dict:
    """Run the writer that ``argv`` describes: MODE STORE WRITER N PAUSE CUTOUT_ID..."""
    mode, store_path, writer, n, pause = argv[:5]
    writer_of = {"save": save, "autosave": autosave, "predict": predict}[mode]
    return writer_of(store_path, int(writer), int(n), argv[5:], float(pause))


def zygote(model: bool) -> None:
    """Fork a writer for each line read (its arguments), printing the child's pid.

    Forking from a process that has imported galseg already starts a writer in
    milliseconds: a crash soak can kill hundreds. With ``model``, the shipped
    model is loaded first (:func:`load_model`), so that predict workers start as
    fast. Children are reaped by the kernel.
    """
    if model:
        load_model()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    print("ready", flush=True)
    for line in sys.stdin:
        pid = os.fork()
        if pid == 0:
            try:
                run(line.split())
            finally:
                os._exit(0)
        print(pid, flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "zygote":
        zygote(model="--model" in sys.argv[2:])
    else:
        if sys.argv[1] == "predict":  # ready to predict at once, as a started worker is
            load_model()
        print("ready", flush=True)
        sys.stdin.readline()  # "go": every writer starts at once
        print(json.dumps(run(sys.argv[1:])), flush=True)
