"""Time :func:`galseg.simulate.simulate_galaxy` for every survey preset.

Run from the repository root::

    python benchmarks/bench_simulate.py            # 20 cutouts of 256 x 256 per preset
    python benchmarks/bench_simulate.py --n 50 --size 512

Each preset is warmed up once (the PSF transforms are cached per survey and
size), then timed over ``--n`` seeds with features drawn at random, and over
the same seeds with every feature forced (the slowest case).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np

from galseg.simulate import FEATURE_KINDS, SURVEYS, simulate_galaxy


def time_cutouts(survey: str, n: int, size: int, features: tuple[str, ...] | None) -> list[float]:
    """Seconds per cutout for seeds ``0 .. n - 1``."""
    simulate_galaxy(0, survey, size, features=features)
    times = []
    for seed in range(n):
        start = time.perf_counter()
        simulate_galaxy(seed, survey, size, features=features)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20, help="cutouts per preset (default 20)")
    parser.add_argument("--size", type=int, default=256, help="cutout side in pixels (default 256)")
    args = parser.parse_args()

    print(f"simulate_galaxy, {args.size}x{args.size}, {args.n} cutouts per preset")
    print(f"{platform.processor() or platform.machine()}, numpy {np.__version__}")
    print(f"{'preset':8} {'bands':>5} {'features':>9} {'mean ms':>8} {'std ms':>7} {'max ms':>7}")
    for name, survey in SURVEYS.items():
        for label, features in (("random", None), ("all", FEATURE_KINDS)):
            times = np.array(time_cutouts(name, args.n, args.size, features)) * 1e3
            print(
                f"{name:8} {len(survey.bands):>5} {label:>9} {times.mean():8.1f} "
                f"{statistics.stdev(times):7.1f} {times.max():7.1f}"
            )


if __name__ == "__main__":
    main()
