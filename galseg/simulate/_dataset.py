"""Write a set of simulated cutouts as FITS files with their truth store."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .._progress import Progress, track
from ..errors import GalsegError
from ..io import read_cutout, write_cutout
from ..store import MaskStore
from ..surveys import SURVEYS
from ._scene import SimulatedGalaxy, simulate_galaxy

__all__ = ["TRUTH_ANNOTATOR", "write_simulated_set", "write_simulation"]

TRUTH_ANNOTATOR = "truth"
"""Annotator name of the simulator's truth masks in a store."""


def write_simulated_set(
    out: str | os.PathLike,
    n: int,
    survey: str = "legacy",
    size: int = 256,
    *,
    seed: int = 0,
    layout: str = "mef",
    suffix: str = ".fits",
    progress: Progress = False,
) -> MaskStore:
    """Simulate ``n`` cutouts into ``out`` and record their truth in ``out/truth.zarr``.

    Cutout ``i`` has seed ``seed + i`` and is written as ``sim_<seed>`` with
    :func:`galseg.io.write_cutout`. The store refers to the FITS files (with
    paths relative to ``out``, so the folder can be moved) and holds each truth
    mask as a revision by annotator ``"truth"`` with provenance
    ``"simulated"``; cutouts with no tidal feature or bar bright enough to
    see are also flagged ``no_feature``.

    Parameters
    ----------
    out : path-like
        Output folder (created); it must not hold a ``truth.zarr`` already.
    n : int
        Number of cutouts.
    survey, size : str, int
        Passed to :func:`simulate_galaxy`.
    seed : int
        Seed of the first cutout.
    layout, suffix : str
        FITS layout (``"mef"``, ``"cube"``, ``"per-band"``) and file suffix
        (``".fits"``, ``".fits.gz"``, ``".fits.fz"``).
    progress : bool or callable
        See :mod:`galseg._progress`.

    Returns
    -------
    MaskStore
        The truth store.
    """
    if survey not in SURVEYS:
        raise GalsegError(f"unknown survey preset {survey!r}; presets are {', '.join(SURVEYS)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if (out / "truth.zarr").exists():
        raise GalsegError(
            f"{out / 'truth.zarr'}: a truth store exists already; choose a new folder"
        )
    store = MaskStore.open(out / "truth.zarr", mode="w-")
    for i in track(range(seed, seed + n), n, f"simulate {survey}", progress):
        sim = simulate_galaxy(i, survey=survey, size=size)
        write_simulation(store, sim, out / f"sim_{i:06d}{suffix}", layout=layout)
    return store


def write_simulation(
    store: MaskStore, sim: SimulatedGalaxy, path: Path, *, layout: str, overwrite: bool = False
) -> list[Path]:
    """Write one simulated cutout to FITS and its truth into ``store``.

    The cutout is read back from the files so that the store records the
    pixels exactly as they are on disk. A cutout whose truth holds no tidal
    feature and no bar (contaminants at most) is also flagged ``no_feature``.

    Returns
    -------
    list of Path
        The FITS files written.
    """
    paths = write_cutout(sim.cutout, path, layout=layout, overwrite=overwrite)
    cutout_id = store.add_cutout(read_cutout(paths), copy_pixels=False)
    store.save_mask(cutout_id, sim.truth, TRUTH_ANNOTATOR, provenance="simulated")
    contaminant = store.taxonomy["contaminant"].value
    if not np.isin(sim.truth, [0, contaminant], invert=True).any():
        store.set_flag(cutout_id, "no_feature", TRUTH_ANNOTATOR)
    return paths
