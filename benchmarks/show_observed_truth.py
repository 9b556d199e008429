"""Show where the noise decides the visible truth: ``docs/observed_truth.png``.

Run from the repository root::

    .venv/bin/python benchmarks/show_observed_truth.py [--seed 1000000] [--n 12]

The top row shows three of the completion benchmark's own cases (one per
tidal class, under galseg's ``lsb`` stretch). The second row shows their
visible truth against the same rule applied to the light as observed, noise
included (:meth:`galseg.simulate.SimulatedGalaxy.observed_truth`). The
bottom panel gives the IoU of the two on the benchmark's ``--n`` cases per
class (the ``observed truth`` it reports), against
the feature's peak surface brightness below the truth limit. Near the limit,
the noise, not the eye, decides much of the mask.
"""

from __future__ import annotations

import argparse
from pathlib import Path
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from galseg import DEFAULT_TAXONOMY  # noqa: E402
from galseg.agreement import iou  # noqa: E402
from galseg.model import HELD_OUT_SEEDS  # noqa: E402
from galseg.model._bench import family_cases  # noqa: E402
from galseg.simulate import FEATURE_SB_RANGE, SURVEYS, simulate_galaxy, truth_limit  # noqa: E402
from galseg.stretch import normalize  # noqa: E402

KINDS = ("tidal_stream", "shell", "tidal_tail")
COLOURS = {"tidal_stream": "tab:blue", "shell": "tab:orange", "tidal_tail": "tab:purple"}


def below_limit(seed: int) -> float:
    """A benchmark case's peak surface brightness minus the truth limit (as the benchmark draws it)."""
    return float(np.random.default_rng([seed, 5]).uniform(FEATURE_SB_RANGE[0], 0))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=HELD_OUT_SEEDS)
    parser.add_argument("--n", type=int, default=12, help="cases per class for the IoU panel")
    parser.add_argument("--out", type=Path, default=Path("docs/observed_truth.png"))
    args = parser.parse_args(argv)

    cases = family_cases("own", args.n, seed=args.seed)
    fig = plt.figure(figsize=(10, 9.5))
    grid = fig.add_gridspec(3, 3, height_ratios=[1, 1, 0.9])
    limit = truth_limit(SURVEYS["legacy"])
    for col, kind in enumerate(KINDS):
        mine = [case for case in cases if case.kind == kind]
        shown = mine[0]
        sim = simulate_galaxy(
            shown.seed, "legacy", 256, features=(kind,), feature_sb=limit + below_limit(shown.seed)
        )
        value = DEFAULT_TAXONOMY[kind].value
        truth, observed = sim.truth == value, sim.observed_truth() == value
        image = normalize(sim.cutout.data, "lsb").mean(axis=0)
        top, bottom = fig.add_subplot(grid[0, col]), fig.add_subplot(grid[1, col])
        top.imshow(image, cmap="gray", origin="lower")
        top.set_title(f"{kind}, {shown.name}: {below_limit(shown.seed):+.2f} mag", fontsize=9)
        colours = np.zeros((*truth.shape, 3))
        colours[truth & observed] = (1, 1, 1)
        colours[truth & ~observed] = (0.3, 0.6, 1)
        colours[observed & ~truth] = (1, 0.3, 0.3)
        bottom.imshow(colours, origin="lower")
        bottom.set_title(f"IoU {iou(observed, truth):.2f}", fontsize=9)
        for axis in (top, bottom):
            axis.set_xticks([])
            axis.set_yticks([])
        if col == 1:
            bottom.set_xlabel("white: both; blue: the truth only; red: the observed truth only")
        mean = np.mean([case.observed_iou for case in mine])
        print(f"{kind:<13} observed truth vs truth: mean IoU {mean:.3f} over {len(mine)} cases")
    ax = fig.add_subplot(grid[2, :])
    for kind in KINDS:
        mine = [case for case in cases if case.kind == kind]
        below = [below_limit(case.seed) for case in mine]
        ax.scatter(below, [c.observed_iou for c in mine], color=COLOURS[kind], label=kind, s=18)
    ax.set_xlabel("peak surface brightness minus the truth limit (mag/arcsec², legacy)")
    ax.set_ylabel("IoU, observed truth vs truth")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=8)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=80)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
