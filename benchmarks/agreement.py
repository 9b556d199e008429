"""Agreement between three simulated annotators whose habits are known.

Run from the repository root::

    .venv/bin/python benchmarks/agreement.py [--n 24] [--size 128] [--out DIR]

Simulates ``n`` cutouts (``galseg simulate``, their truth in ``truth.zarr``),
and three annotators paint each one: ``careful`` paints the truth, ``wide``
paints every feature 4 px too wide, ``half`` paints only half of each feature
(cut across its length). Then ``galseg agreement`` compares them with each
other, their STAPLE consensus and the truth, and ``galseg consensus`` saves
the consensus. With ``--out`` the stores, the JSON report and the plots stay
in DIR.
"""

from __future__ import annotations

import argparse
from pathlib import Path
import tempfile

from galseg import MaskStore
from galseg.cli import main as galseg
from galseg.simulate import SimulatedAnnotator, write_simulated_set

ANNOTATORS = (
    SimulatedAnnotator("careful"),
    SimulatedAnnotator("wide", widen=4),
    SimulatedAnnotator("half", keep=0.5),
)


def paint_campaign(folder: Path, n: int, size: int, seed: int) -> tuple[Path, Path]:
    """Simulate ``n`` cutouts into ``folder`` and have each annotator paint every one."""
    truth = write_simulated_set(folder, n, size=size, seed=seed)
    masks = MaskStore.open(folder / "masks.zarr", mode="w-")
    for cutout_id in truth.ids():
        masks.add_cutout(truth.cutout(cutout_id), copy_pixels=False)
        for annotator in ANNOTATORS:
            masks.save_mask(cutout_id, annotator.paint(truth.load_mask(cutout_id)), annotator.name)
    return masks.path, truth.path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=24)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=7_000_000)
    parser.add_argument("--out", type=Path, help="keep the stores, report and plots here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.out or Path(scratch)
        masks, truth = paint_campaign(folder / "campaign", args.n, args.size, args.seed)
        report = ["agreement", str(masks), "--truth", str(truth)]
        report += ["--json", str(folder / "agreement.json"), "--plots", str(folder / "plots")]
        galseg(report)
        galseg(["consensus", str(masks), "--out", str(folder / "consensus.zarr")])


if __name__ == "__main__":
    main()
