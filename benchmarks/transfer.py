"""How well masks survive a move between surveys' grids (``galseg.transfer``).

Shapes are drawn on the sky (a tilted ellipse 12" x 5", a disc 5" across, a
stream along an 8" arc, 0.1" or 0.2" wide), rasterised on a Euclid VIS grid
(0.1"/px, 260 x 240) and on each target grid directly. Each target grid is
rotated by 35 degrees and shifted by 3.6" from the source. The script prints:

- IoU of the transferred mask against the shape drawn directly on the target
  grid (over the covered pixels), for HSC, Rubin and Legacy Surveys grids, and
  after the round trip back onto the Euclid grid;
- the number of 8-connected pieces of the thin stream on each grid, with
  galseg's rule and with the coverage threshold alone (what the skeleton adds);
- the time of one ``reproject_mask`` call.

Run from the repository root::

    .venv/bin/python benchmarks/transfer.py
    .venv/bin/python benchmarks/transfer.py --picture docs/transfer.png
"""

from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path
import tempfile
import time

from astropy.coordinates import SkyCoord
import astropy.units as u
import numpy as np
from scipy import ndimage

from galseg import simulate
from galseg.transfer import _class_coverage, reproject_mask

CENTRE = SkyCoord(150.0 * u.deg, 2.0 * u.deg)
SOURCE_SHAPE = (240, 260)
GRIDS = {"hsc": (0.168, (150, 160)), "rubin": (0.2, (125, 135)), "legacy": (0.262, (95, 105))}


tan_wcs = partial(simulate.tan_wcs, centre=CENTRE)
shapes = partial(simulate.sky_shapes, centre=CENTRE)  # ellipse (3), disc (2), stream (1)


def iou(a, b):
    return (a & b).sum() / max((a | b).sum(), 1)


def pieces(mask):
    return ndimage.label(mask, structure=np.ones((3, 3)))[1]


def figures() -> None:
    source = tan_wcs(0.1, SOURCE_SHAPE)
    print("IoU against the shape drawn on the target grid (ellipse, disc; covered pixels)")
    for name, (scale, shape) in GRIDS.items():
        target = tan_wcs(scale, shape, rotation=35.0, shift=(3.0, -2.0))
        painted = shapes(source, SOURCE_SHAPE)  # no stream here
        labels, covered = reproject_mask(painted, source, target, shape)
        truth = shapes(target, shape) * covered
        back, back_covered = reproject_mask(labels, target, source, SOURCE_SHAPE)
        there = [iou(labels == v, truth == v) for v in (3, 2)]
        home = [iou(back == v, (painted == v) & back_covered) for v in (3, 2)]
        print(
            f'  euclid -> {name:<6} ({scale}"/px): {there[0]:.3f}, {there[1]:.3f}; '
            f"round trip back: {home[0]:.3f}, {home[1]:.3f}"
        )
    print("thin stream (8-connected pieces on the target; galseg / threshold 0.5 alone)")
    for width in (0.1, 0.2):
        stream = shapes(source, SOURCE_SHAPE, stream_width=width) == 1
        for name, (scale, shape) in GRIDS.items():
            target = tan_wcs(scale, shape, rotation=35.0, shift=(3.0, -2.0))
            labels, _ = reproject_mask(stream, source, target, shape)
            coverage, _ = _class_coverage(stream.astype(np.uint8), source, target, shape)
            alone = coverage[1] >= 0.5
            print(
                f'  {width / 0.1:.0f} px wide at 0.1"/px -> {name:<6}: '
                f"{pieces(labels == 1)} / {pieces(alone)} pieces"
            )
    target = tan_wcs(0.262, GRIDS["legacy"][1], rotation=35.0)
    painted = shapes(source, SOURCE_SHAPE, stream_width=0.2)
    times = []
    for _ in range(3):
        start = time.perf_counter()
        reproject_mask(painted, source, target, GRIDS["legacy"][1])
        times.append(time.perf_counter() - start)
    print(f"reproject_mask, 3 classes, 260x240 -> 105x95: {1000 * min(times):.0f} ms (best of 3)")


def picture(path: Path) -> None:
    """One simulated stream on a Euclid cutout and, transferred, on a Legacy grid."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from reproject import reproject_exact

    from galseg import Cutout, MaskStore, write_cutout
    from galseg.simulate import simulate_galaxy
    from galseg.stretch import preset
    from galseg.transfer import transfer_masks

    sim = simulate_galaxy(0, "euclid", 400, features=("tidal_stream", "shell"), feature_sb=26.0)
    euclid = sim.cutout
    work = Path(tempfile.mkdtemp())
    source = MaskStore.open(work / "euclid.zarr")
    source.save_mask(source.add_cutout(euclid), sim.truth, "ada")

    # The same sky on a Legacy Surveys grid: 0.262"/px, rotated by 30 degrees
    # (the simulated light resampled, with Legacy-like noise).
    middle = SkyCoord(*euclid.wcs.wcs.crval, unit="deg")
    legacy_wcs = simulate.tan_wcs(0.262, (153, 153), centre=middle, rotation=30.0)
    light, _ = reproject_exact((euclid.data[0], euclid.wcs), legacy_wcs, shape_out=(153, 153))
    light = np.nan_to_num(light) * (0.262 / 0.1) ** 2 * 10 ** (-0.4 * (30.0 - 22.5))
    noisy = light + np.random.default_rng(0).normal(0, 0.0045, light.shape)
    legacy = Cutout.from_array(noisy[None], bands=["r"], wcs=legacy_wcs, survey="legacy")
    write_cutout(legacy, work / "ngc_legacy.fits")
    transfer_masks(source, [work / "ngc_legacy.fits"], work / "legacy.zarr")
    target = MaskStore.open(work / "legacy.zarr", mode="r")
    (target_id,) = target.ids()
    moved = target.load_mask(target_id, "ada")

    fig, axes = plt.subplots(1, 2, figsize=(8.4, 4.4), dpi=72)
    panels = [
        (euclid, sim.truth, 'Euclid VIS, 0.1"/px: painted'),
        (legacy, moved, 'Legacy Surveys r, 0.262"/px, rotated: transferred'),
    ]
    colours = {1: "#30c5ff", 2: "#ffb000"}
    for ax, (cutout, mask, title) in zip(axes, panels, strict=True):
        image = preset("lsb", cutout.data[0])(cutout.data[0])
        ax.imshow(image, cmap="gray", origin="lower")
        for value, colour in colours.items():
            if (mask == value).any():
                ax.contour(mask == value, levels=[0.5], colors=colour, linewidths=1.2)
        ax.set_title(title, fontsize=10)
        ax.set_axis_off()
    fig.suptitle("streams (blue) and shells (orange) of one mask, carried by WCS", fontsize=11)
    fig.tight_layout()
    fig.savefig(path)
    print(f"wrote {path} ({path.stat().st_size // 1024} kB)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--picture", type=Path, help="write the side-by-side picture here")
    args = parser.parse_args()
    if args.picture:
        picture(args.picture)
    else:
        figures()
