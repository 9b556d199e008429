"""Pictures of an agreement report: a matrix per class, and skill against truth over time."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import GalsegError

if TYPE_CHECKING:
    from ._report import AgreementReport

__all__ = ["plot_agreement"]

_WINDOW = 5
"""Cutouts in the running mean of skill over time."""


def plot_agreement(report: AgreementReport, out: str | Path) -> list[Path]:
    """Write PNGs of ``report`` into the folder ``out`` (created).

    - ``agreement_<class>.png``: the pairwise IoU matrix of each class, with
      each annotator's IoU against the consensus (and the truth) beside it;
    - ``skill_over_time.png``: each annotator's IoU against the truth on the
      cutouts with truth, in the order they painted them (only with truth).

    Needs matplotlib (``pip install "galseg[plots]"``).

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    GalsegError
        If matplotlib is missing or ``out`` cannot be written.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise GalsegError('plots need matplotlib: pip install "galseg[plots]"') from None
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GalsegError(f"{out}: cannot make the folder ({exc.strerror or exc})") from None
    written = [_matrix(plt, report, name, out / f"agreement_{name}.png") for name in report.classes]
    if any(a["history"] for a in report.annotators.values()):
        written.append(_over_time(plt, report, out / "skill_over_time.png"))
    return written


def _matrix(plt, report: AgreementReport, name: str, path: Path) -> Path:
    pairwise = report.pairwise[name]
    names = pairwise["annotators"]
    scores = np.array([[np.nan if v is None else v for v in row] for row in pairwise["iou"]])
    columns = ["consensus"] + (["truth"] if report.truth else [])
    keys = ["iou_vs_consensus"] + (["iou_vs_truth"] if report.truth else [])
    side = np.array(
        [
            [
                np.nan if (v := report.annotators[n]["per_class"][name][k]) is None else v
                for k in keys
            ]
            for n in names
        ]
    )
    size = 1.2 + 0.55 * (len(names) + len(columns))
    figure, axes = plt.subplots(
        1,
        2,
        figsize=(size + 1.5, 0.55 * len(names) + 1.8),
        gridspec_kw={"width_ratios": [len(names), len(columns)]},
    )
    for ax, values, labels in ((axes[0], scores, names), (axes[1], side, columns)):
        image = ax.imshow(values, vmin=0, vmax=1, cmap="viridis")
        ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
        ax.set_yticks(range(len(names)), names)
        for (i, j), v in np.ndenumerate(values):
            if np.isfinite(v):
                ax.text(
                    j,
                    i,
                    f"{v:.2f}",
                    ha="center",
                    va="center",
                    color="black" if v > 0.6 else "white",
                    fontsize=8,
                )
    axes[1].set_yticks([])
    axes[0].set_title("pairwise IoU")
    axes[1].set_title("IoU against")
    figure.colorbar(image, ax=axes, shrink=0.8, label="IoU")
    figure.suptitle(f"{name}: agreement between annotators")
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)
    return path


def _over_time(plt, report: AgreementReport, path: Path) -> Path:
    figure, ax = plt.subplots(figsize=(6.5, 3.8))
    for who, entry in report.annotators.items():
        scores = [h["iou_vs_truth"] for h in entry["history"] if h["iou_vs_truth"] is not None]
        if scores:
            order = np.arange(1, len(scores) + 1)
            (line,) = ax.plot(order, scores, "o", alpha=0.35, markersize=4)
            window = min(_WINDOW, len(scores))
            running = np.convolve(scores, np.ones(window) / window, mode="valid")
            ax.plot(order[window - 1 :], running, color=line.get_color(), label=who)
    ax.set_xlabel(f"cutouts with truth painted, in order (line: mean of the last {_WINDOW})")
    ax.set_ylabel("IoU against the truth")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("each annotator's skill over time")
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)
    return path
