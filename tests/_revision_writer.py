"""Writers of mask revisions for the concurrency and crash tests, run in child processes.

Every mask a writer saves says who wrote it and which it was: its first row
holds the writer's number and its sequence number ``k``, and the rest are
pseudo-random labels drawn from both (:func:`expected_mask`), so a checker can
tell a whole revision from one mixed from two.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

from galseg import MaskStore
from galseg.autosave import Autosaver

SHAPE = (64, 96)


def expected_mask(writer: int, k: int) -> np.ndarray:
    """Mask ``k`` of writer number ``writer``: labels 0-5, its identity in the first row."""
    rng = np.random.default_rng([writer, k])
    mask = rng.integers(0, 6, size=SHAPE, dtype=np.uint8)
    digits = np.base_repr(writer, 6).zfill(2) + np.base_repr(k, 6).zfill(6)
    mask[0, :8] = [int(d) for d in digits]
    return mask


def identity(mask: np.ndarray) -> tuple[int, int]:
    """(writer, k) that :func:`expected_mask` wrote into a mask's first row."""
    digits = "".join(str(int(d)) for d in mask[0, :8])
    return int(digits[:2], 6), int(digits[2:], 6)


def save(store_path: str, writer: int, n: int, cutout_ids: list[str], pause: float) -> dict:
    """Save ``n`` masks (forever if 0), round the cutouts; revision numbers by cutout."""
    store = MaskStore.open(store_path, mode="r+")
    got: dict[str, list[int]] = {cid: [] for cid in cutout_ids}
    k = 0
    while n == 0 or k < n:
        cid = cutout_ids[k % len(cutout_ids)]
        got[cid].append(store.save_mask(cid, expected_mask(writer, k), f"writer{writer}"))
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


if __name__ == "__main__":
    mode, store_path, writer, n, pause = sys.argv[1:6]
    run = {"save": save, "autosave": autosave}[mode]
    print("ready", flush=True)
    print(json.dumps(run(store_path, int(writer), int(n), sys.argv[6:], float(pause))), flush=True)
