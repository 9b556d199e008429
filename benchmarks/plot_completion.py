"""Plot the completion benchmark recorded in a model card: mean IoU against strokes.

Run from the repository root after ``galseg bench completion --record``::

    .venv/bin/python benchmarks/plot_completion.py                 # the shipped checkpoint
    .venv/bin/python benchmarks/plot_completion.py --checkpoint mine.safetensors --out curves.png

One panel per case family and stroke style: galseg, the strokes alone and
scikit-image's random walker, mean IoU after 1, 2, 3 and 5 strokes, on the
same strokes (``docs/completion_curves.png`` in the README). Where the card
has it, a dashed line marks the ``observed truth``: how well the truth rule
applied to the light as observed, noise included, matches the truth.
"""

from __future__ import annotations

import argparse
from pathlib import Path
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from galseg.model import SHIPPED_CHECKPOINT, read_checkpoint  # noqa: E402

COLOURS = {"galseg": "tab:blue", "strokes alone": "tab:gray", "random_walker": "tab:orange"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=SHIPPED_CHECKPOINT)
    parser.add_argument("--out", type=Path, default=Path("docs/completion_curves.png"))
    args = parser.parse_args(argv)
    card = read_checkpoint(args.checkpoint).card
    if "galseg" not in card.get("benchmark", {}):
        print(f"{args.checkpoint}: no benchmark recorded; run galseg bench completion --record")
        return 1
    table = card["benchmark"]["galseg"]["table"]
    families, styles = list(table), list(next(iter(table.values())))
    fig, axes = plt.subplots(
        len(families),
        len(styles),
        figsize=(3.2 * len(styles), 2.8 * len(families)),
        sharex=True,
        sharey=True,
        squeeze=False,
    )
    for row, family in enumerate(families):
        for col, style in enumerate(styles):
            ax = axes[row][col]
            scores = table[family][style]["all"]
            for method, colour in COLOURS.items():
                ks = [int(c.split("@")[1]) for c in scores[method] if c.startswith("IoU@")]
                ax.plot(
                    ks, [scores[method][f"IoU@{k}"] for k in ks], "o-", color=colour, label=method
                )
            ax.axhline(0.8, color="k", lw=0.5, ls=":")
            if "observed truth" in table[family][style]["all"]:
                ax.axhline(
                    table[family][style]["all"]["observed truth"]["IoU"],
                    color="tab:green",
                    lw=1,
                    ls="--",
                    label="truth rule on observed light",
                )
            ax.set_title(f"{family} cases, {style}", fontsize=9)
            ax.set_ylim(0, 1)
            ax.set_xticks([1, 2, 3, 5])
            if row == len(families) - 1:
                ax.set_xlabel("strokes")
            if col == 0:
                ax.set_ylabel("mean IoU (visible truth)")
    axes[0][0].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=90)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
