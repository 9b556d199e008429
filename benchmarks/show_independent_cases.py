"""Draw a grid of the independent family's cases to ``docs/independent_cases.png``.

Run from the repository root::

    .venv/bin/python benchmarks/show_independent_cases.py [--per-kind 3] [--seed 0]

Each panel is the mean of the three bands under galseg's ``lsb`` stretch, with
the target's truth outlined in yellow and the other features' in cyan.
"""

import argparse
import importlib.util
from pathlib import Path
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from galseg.stretch import normalize  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def load_family():
    """The ``independent_cases`` module, imported from its file."""
    spec = importlib.util.spec_from_file_location(
        "independent_cases", ROOT / "benchmarks" / "independent_cases.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-kind", type=int, default=3, help="cases per kind (one row per kind)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "independent_cases.png")
    args = parser.parse_args(argv)
    family = load_family()
    cases = family.independent_cases(args.per_kind, seed=args.seed)
    kinds = len(family.FAMILY_KINDS)
    fig, axes = plt.subplots(
        kinds, args.per_kind, figsize=(2.6 * args.per_kind, 2.75 * kinds), squeeze=False
    )
    for ax, case in zip(axes.ravel(), cases, strict=True):
        ax.imshow(normalize(case.cutout, "lsb").mean(axis=0), cmap="gray", origin="lower")
        ax.contour(case.target, levels=[0.5], colors="yellow", linewidths=0.6)
        if case.other.any():
            ax.contour(case.other, levels=[0.5], colors="cyan", linewidths=0.4)
        ax.set_title(case.name, fontsize=6)
        ax.set_axis_off()
    fig.tight_layout(pad=0.3)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=64)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
