"""The bundled sample cutouts: simulated galaxies in real FITS layouts.

``sample_data/`` (at the top of the repository) holds a few cutouts made by
:mod:`galseg.simulate` — streams, shells, a tail, bars, and a stream too faint
to see — each in one of the file layouts :func:`galseg.io.read_cutout` reads
(multi-extension, cube, one file per band; plain, gzip and tile-compressed),
plus ``truth.zarr``, a mask store with their truth masks (annotator
``"truth"``). Regenerate everything with::

    python -m galseg.samples sample_data

Examples
--------
>>> from galseg.samples import load_samples
>>> samples = load_samples()
>>> sorted({s.spec.layout for s in samples})
['cube', 'mef', 'per-band']
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
import os
from pathlib import Path
import shutil
import sys

import numpy as np

from .cutout import Cutout
from .errors import GalsegError
from .io import read_cutout
from .simulate import TRUTH_ANNOTATOR, SimulatedGalaxy, simulate_galaxy, write_simulation
from .store import MaskStore
from .surveys import SURVEYS

__all__ = ["SAMPLES", "Sample", "SampleSpec", "load_samples", "make_samples", "sample_dir"]


@dataclass(frozen=True)
class SampleSpec:
    """How one sample is simulated and written."""

    name: str
    description: str
    seed: int
    survey: str
    features: tuple[str, ...]
    layout: str
    suffix: str
    size: int = 224
    feature_sb: Mapping[str, float] = field(default_factory=dict)

    def simulate(self) -> SimulatedGalaxy:
        """The simulated galaxy behind this sample (noiseless components included)."""
        return simulate_galaxy(
            self.seed,
            self.survey,
            self.size,
            features=self.features,
            feature_sb=dict(self.feature_sb),
        )

    def paths(self, folder: Path) -> list[Path]:
        """The files of this sample in ``folder``."""
        if self.layout != "per-band":
            return [folder / f"{self.name}{self.suffix}"]
        return [folder / f"{self.name}_{b.name}{self.suffix}" for b in SURVEYS[self.survey].bands]


SAMPLES: tuple[SampleSpec, ...] = (
    SampleSpec(
        "stream_legacy",
        "A bright tidal stream looping round a disc galaxy (Legacy Surveys g/r/z).",
        seed=11,
        survey="legacy",
        features=("tidal_stream",),
        layout="mef",
        suffix=".fits",
        feature_sb={"tidal_stream": 25.9},
    ),
    SampleSpec(
        "shells_legacy",
        "Interleaved shells round an early-type galaxy, one file per band.",
        seed=22,
        survey="legacy",
        features=("shell",),
        layout="per-band",
        suffix=".fits",
        feature_sb={"shell": 26.0},
    ),
    SampleSpec(
        "tail_legacy",
        "A broad tidal tail / plume, tile-compressed.",
        seed=33,
        survey="legacy",
        features=("tidal_tail",),
        layout="mef",
        suffix=".fits.fz",
        feature_sb={"tidal_tail": 25.9},
    ),
    SampleSpec(
        "bar_stream_legacy",
        "A barred spiral with a faint stream, as a (band, y, x) cube, gzipped.",
        seed=44,
        survey="legacy",
        features=("bar", "tidal_stream"),
        layout="cube",
        suffix=".fits.gz",
        feature_sb={"tidal_stream": 26.6},
    ),
    SampleSpec(
        "faint_stream_legacy",
        "A stream too faint for the survey depth: no truth pixels.",
        seed=55,
        survey="legacy",
        features=("tidal_stream",),
        layout="mef",
        suffix=".fits.gz",
        feature_sb={"tidal_stream": 29.3},
    ),
    SampleSpec(
        "shells_stream_hsc",
        "Shells and a stream at HSC depth (g/r/i), tile-compressed.",
        seed=66,
        survey="hsc",
        features=("shell", "tidal_stream"),
        layout="mef",
        suffix=".fits.fz",
        feature_sb={"shell": 25.6, "tidal_stream": 25.8},
    ),
    SampleSpec(
        "bar_tail_euclid",
        "A barred galaxy with a tail in Euclid VIS (one band).",
        seed=77,
        survey="euclid",
        features=("bar", "tidal_tail"),
        layout="mef",
        suffix=".fits",
        feature_sb={"tidal_tail": 24.4},
    ),
    SampleSpec(
        "mixed_legacy",
        "Stream, shells and a bar together, one gzipped file per band.",
        seed=88,
        survey="legacy",
        features=("tidal_stream", "shell", "bar"),
        layout="per-band",
        suffix=".fits.gz",
        feature_sb={"tidal_stream": 26.2, "shell": 26.4},
    ),
)
"""The samples, in the order the viewer shows them."""


@dataclass(frozen=True)
class Sample:
    """A loaded sample: its spec, cutout, truth mask and id in the truth store."""

    spec: SampleSpec
    cutout: Cutout
    truth: np.ndarray
    cutout_id: str


def sample_dir() -> Path:
    """The folder of the samples: ``$GALSEG_SAMPLE_DATA`` or the repository's ``sample_data``.

    Raises
    ------
    GalsegError
        If the folder does not hold the samples (e.g. galseg was installed
        from a wheel rather than from a clone).
    """
    folder = Path(os.environ.get("GALSEG_SAMPLE_DATA", Path(__file__).parents[1] / "sample_data"))
    if not (folder / "truth.zarr").exists():
        raise GalsegError(
            f"{folder}: no sample cutouts here (install galseg from a clone of its repository, "
            "or set GALSEG_SAMPLE_DATA)"
        )
    return folder


def load_samples(folder: str | os.PathLike | None = None) -> list[Sample]:
    """Read the samples and their truth masks.

    Parameters
    ----------
    folder : path-like, optional
        Default :func:`sample_dir`.
    """
    folder = Path(folder) if folder is not None else sample_dir()
    store = MaskStore.open(folder / "truth.zarr", mode="r")
    samples = []
    for spec in SAMPLES:
        paths = spec.paths(folder)
        cutout = read_cutout(paths)
        cutout_id = cutout.content_hash[:16]
        if cutout_id not in store:
            raise GalsegError(f"{folder}: sample {spec.name} is not in truth.zarr; regenerate")
        if store.latest(cutout_id, TRUTH_ANNOTATOR) is not None:
            truth = store.load_mask(cutout_id, TRUTH_ANNOTATOR)
        else:
            truth = np.zeros(cutout.image_shape, np.uint8)
        samples.append(Sample(spec, cutout, truth, cutout_id))
    return samples


def make_samples(folder: str | os.PathLike) -> list[Path]:
    """(Re)write every sample and ``truth.zarr`` into ``folder``; return the files."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if (folder / "truth.zarr").exists():
        shutil.rmtree(folder / "truth.zarr")
    store = MaskStore.open(folder / "truth.zarr", mode="w-")
    written = []
    for spec in SAMPLES:
        sim = spec.simulate()
        target = folder / f"{spec.name}{spec.suffix}"
        paths = write_simulation(store, sim, target, layout=spec.layout, overwrite=True)
        written += paths
    return written


if __name__ == "__main__":  # python -m galseg.samples [FOLDER]
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parents[1] / "sample_data"
    files = make_samples(target)
    size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
    print(f"wrote {len(files)} FITS files and truth.zarr to {target} ({size / 1e6:.2f} MB)")
