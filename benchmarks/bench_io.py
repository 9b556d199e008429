"""Time :func:`galseg.io.read_cutout` on a 3 x 512 x 512 cutout in each file layout.

Run from the repository root::

    .venv/bin/python benchmarks/bench_io.py [--reps 20]

Prints, per layout, the file size and the mean and median read time over the
repetitions (after one warm-up read, so the files are in the page cache).
"""

from __future__ import annotations

import argparse
from pathlib import Path
import statistics
import tempfile
import time

import numpy as np

from galseg import Cutout
from galseg.io import read_cutout, write_cutout

CASES = (  # (label, layout, suffix)
    ("mef .fits", "mef", ".fits"),
    ("mef .fits.gz", "mef", ".fits.gz"),
    ("mef .fits.fz", "mef", ".fits.fz"),
    ("cube .fits", "cube", ".fits"),
    ("per-band .fits", "per-band", ".fits"),
)


def galaxy_cutout(size: int = 512, bands: tuple[str, ...] = ("g", "r", "z")) -> Cutout:
    """An exponential disc on Gaussian sky noise: pixels that compress like real ones."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[:size, :size] - (size - 1) / 2
    disc = 50.0 * np.exp(-np.hypot(x, 0.6 * y) / 40.0)
    planes = [k * disc + rng.normal(0.0, 1.0, disc.shape) for k in (0.5, 1.0, 1.4)]
    return Cutout.from_array(np.stack(planes).astype(np.float32), bands=bands, pixel_scale=0.262)


def time_reads(source: Path | list[Path], reps: int) -> list[float]:
    read_cutout(source)  # warm-up: imports, page cache
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        read_cutout(source)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=20, help="timed reads per layout")
    args = parser.parse_args()
    cutout = galaxy_cutout()
    print(f"read_cutout on a {cutout.shape} float32 cutout, {args.reps} reads per layout")
    print(f"{'layout':<16} {'size MB':>8} {'mean ms':>8} {'median ms':>9}")
    with tempfile.TemporaryDirectory() as folder:
        for label, layout, suffix in CASES:
            files = write_cutout(cutout, Path(folder) / f"{layout}{suffix}", layout=layout)
            source = files if layout == "per-band" else files[0]
            times = time_reads(source, args.reps)
            size = sum(f.stat().st_size for f in files) / 1e6
            mean, median = statistics.mean(times) * 1e3, statistics.median(times) * 1e3
            print(f"{label:<16} {size:8.2f} {mean:8.2f} {median:9.2f}")


if __name__ == "__main__":
    main()
