"""Time the mask store: ``add_cutout``, ``save_mask`` and ``load_mask``.

Run from the repository root::

    .venv/bin/python benchmarks/bench_store.py [--reps 30]

For simulated cutouts of 256, 512 and 1024 pixels a side (3 bands), prints the
median and 95th-percentile times. Each ``save_mask`` is a full atomic save: the
revision is written to a staging folder, fsynced and renamed into place.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

from galseg import MaskStore
from galseg.simulate import simulate_cutout


def _timed(call, reps: int) -> list[float]:
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=30)
    args = parser.parse_args()
    print(f"{'size':>6} {'operation':<12} {'median ms':>10} {'p95 ms':>8}")
    for size in (256, 512, 1024):
        cutout, truth = simulate_cutout(1, survey="legacy", size=size)
        with tempfile.TemporaryDirectory() as folder:
            store = MaskStore.open(f"{folder}/bench.zarr")
            adds = []
            for seed in range(min(args.reps, 10)):
                other, _ = simulate_cutout(100 + seed, survey="legacy", size=size)
                adds += _timed(lambda other=other: store.add_cutout(other), 1)
            cutout_id = store.add_cutout(cutout)
            saves = _timed(lambda: store.save_mask(cutout_id, truth, "bench"), args.reps)
            loads = _timed(lambda: store.load_mask(cutout_id, "bench"), args.reps)
        for name, times in (("add_cutout", adds), ("save_mask", saves), ("load_mask", loads)):
            ms = np.array(times) * 1e3
            print(f"{size:>6} {name:<12} {np.median(ms):>10.1f} {np.percentile(ms, 95):>8.1f}")


if __name__ == "__main__":
    main()
