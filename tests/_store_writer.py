"""Child process for the SIGKILL test: saves masks into a store as fast as it can.

Usage: python _store_writer.py STORE CUTOUT_ID SIZE

Mask number k (k = 0, 1, ...) is ``expected_mask(k, size)``, so the parent can
check that every revision it finds is exactly one the writer meant to save.
It prints "ready" once the store is open, then saves until it is killed.
"""

import sys

import numpy as np

from galseg import MaskStore


def expected_mask(k: int, size: int) -> np.ndarray:
    """The k-th mask: pseudo-random labels 0-5, different for every k."""
    rng = np.random.default_rng(k)
    return rng.integers(0, 6, size=(size, size), dtype=np.uint8)


if __name__ == "__main__":
    path, cutout_id, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
    store = MaskStore.open(path, mode="r+")
    first = store.latest(cutout_id).revision  # the parent saved revision 1 = mask 0
    print("ready", flush=True)
    k = first
    while True:
        store.save_mask(cutout_id, expected_mask(k, size), annotator="writer")
        k += 1
