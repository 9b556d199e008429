"""Does a completion grow from the strokes? Strokes on real images, on sky and on light.

The images are real, and no truth is needed: NGC 1316 (Fornax A, a shell
galaxy) from astropy's test data (``io/fits/tests/data/comp.fits``) and, when
the repository's ``shared/data/2mass`` folder lies beside the checkout, a
2MASS J, H, Ks field. Strokes are placed from the image itself, on its
``lsb`` stretch averaged over bands (seeded, so runs repeat):

- ``sky``: on the faintest 10 % of the image smoothed by 3 pixels, at least
  15 pixels from any pixel in the brightest 5 % (in a frame that a galaxy
  or a nebula fills, fainter parts are still its light, not empty sky);
- ``bright source``: within 3 pixels of the brightest point of the image
  smoothed by 8 pixels (NGC 1316's core);
- ``diffuse light``: on the image smoothed by 8 pixels between its 60th and
  85th percentiles (NGC 1316's envelope, the 2MASS field's nebulosity), at
  least 5 pixels from the brightest 5 %.

Each stroke is a straight brush line 16 pixels long, completed as each
feature class. For every completion the benchmark keeps its size against the
stroke's and :attr:`~galseg.model.Completion.locality`, the share of the
network's own mask that grows from the stroke (the completion shown keeps
only that share).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import astropy
import numpy as np
from scipy import ndimage
from skimage.draw import line
from skimage.morphology import disk

from ...cutout import Cutout
from ...io import read_cutout
from ...stretch import normalize
from .._assistant import Assistant, connected_to
from .._strokes import BRUSH

__all__ = ["PLACES", "LocalityProbe", "probe_locality", "real_images"]

PLACES = ("sky", "bright source", "diffuse light")
"""Where strokes go on the real images."""

STROKES_PER_PLACE = 4
"""Strokes per place and image."""

_LENGTH = 16


@dataclass(frozen=True)
class LocalityProbe:
    """One stroke on a real image, completed as one class.

    Attributes
    ----------
    image : str
        Which image.
    place : str
        One of :data:`PLACES`.
    kind : str
        The class completed.
    stroke_pixels, completion_pixels : int
        Sizes of the stroke and of the completion shown.
    shown_locality : float
        The share of the completion shown in pieces that touch the stroke
        (measured on the mask; 1 when it is empty).
    locality : float
        The share of the network's own mask that grows from the stroke.
    """

    image: str
    place: str
    kind: str
    stroke_pixels: int
    completion_pixels: int
    shown_locality: float
    locality: float

    @property
    def growth(self) -> float:
        """Completion pixels per stroke pixel."""
        return self.completion_pixels / max(self.stroke_pixels, 1)


def real_images() -> list[tuple[str, Cutout]]:
    """The real images found on this machine (NGC 1316 always; 2MASS when present).

    Examples
    --------
    >>> names = [name for name, _ in real_images()]
    >>> names[0]
    'NGC 1316 (astropy comp.fits)'
    """
    comp = Path(astropy.__file__).parent / "io" / "fits" / "tests" / "data" / "comp.fits"
    images = [("NGC 1316 (astropy comp.fits)", read_cutout(comp))]
    twomass = Path(__file__).resolve().parents[4] / "shared" / "data" / "2mass"
    files = [twomass / f"2MASS_{band}.fits.gz" for band in "jhk"]
    if all(f.is_file() for f in files):
        images.append(("2MASS J/H/Ks field (shared/data)", read_cutout(files)))
    return images


def probe_locality(
    assistant: Assistant, kinds: tuple[str, ...], *, seed: int = 0
) -> list[LocalityProbe]:
    """Stroke every place of every real image (module notes) and complete each as every class."""
    probes = []
    for name, cutout in real_images():
        assistant.set_image(cutout)
        image = normalize(cutout, "lsb").mean(axis=0)
        rng = np.random.default_rng([seed, len(probes)])
        for place, region in _regions(image).items():
            for painted in _strokes(region, rng):
                empty = np.zeros_like(painted)
                for kind in kinds:
                    mask = assistant.complete(painted, empty, kind)
                    shown = int(mask.mask.sum())
                    grown = int(connected_to(mask.mask, painted).sum())
                    probes.append(
                        LocalityProbe(
                            name,
                            place,
                            kind,
                            int(painted.sum()),
                            shown,
                            grown / shown if shown else 1.0,
                            mask.locality,
                        )
                    )
    return probes


def _regions(image: np.ndarray) -> dict[str, np.ndarray]:
    """Where each place's strokes may start."""
    fine = ndimage.gaussian_filter(image, 3)
    coarse = ndimage.gaussian_filter(image, 8)
    bright = ndimage.gaussian_filter(image, 1) > np.percentile(image, 95)
    from_bright = ndimage.distance_transform_edt(~bright)
    centre = np.zeros(image.shape, dtype=bool)
    centre[np.unravel_index(int(np.argmax(coarse)), image.shape)] = True
    centre = ndimage.binary_dilation(centre, structure=disk(3))
    low, high = np.percentile(coarse, [60, 85])
    return {
        "sky": (fine < np.percentile(fine, 10)) & (from_bright >= 15),
        "bright source": centre,
        "diffuse light": (coarse > low) & (coarse < high) & (from_bright >= 5),
    }


def _strokes(region: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    """Straight brush lines starting at random pixels of ``region``, inside the image."""
    ys, xs = np.nonzero(region)
    strokes = []
    for pick in rng.choice(len(ys), size=min(STROKES_PER_PLACE, len(ys)), replace=False):
        angle = rng.uniform(0, np.pi)
        y1 = int(np.clip(ys[pick] + _LENGTH * np.sin(angle), 0, region.shape[0] - 1))
        x1 = int(np.clip(xs[pick] + _LENGTH * np.cos(angle), 0, region.shape[1] - 1))
        painted = np.zeros(region.shape, dtype=bool)
        painted[line(int(ys[pick]), int(xs[pick]), y1, x1)] = True
        strokes.append(ndimage.binary_dilation(painted, structure=disk(BRUSH)))
    return strokes
