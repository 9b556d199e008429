"""What a viewer shows of a cutout: stretched 8-bit images, with pyramids for large ones.

:func:`render` turns a cutout into the images an annotator displays — the
colour composite and one image per band — under the user's stretch, softening
and display smoothing. They are 8-bit (what a screen shows), computed band by
band and row block by row block, so that a 4096 x 4096 cutout of 4 bands
needs about a tenth of its own pixel bytes more while it renders. Images of
:data:`PYRAMID_SIDE` pixels or more come as pyramids (each level half the
previous one), so that a viewer uploads only the level its zoom needs.

:class:`Renderer` renders in a thread of its own, the latest request winning,
and hands the result to the caller's thread: a viewer's UI thread never
stretches a cutout.

Examples
--------
>>> from galseg import Cutout
>>> cutout = Cutout.from_array(np.arange(128, dtype=np.float32).reshape(2, 8, 8), ["g", "r"])
>>> images = render(cutout, DisplaySettings("linear"))
>>> images.colour[0].shape, images.colour[0].dtype, len(images.bands)
((8, 8, 3), dtype('uint8'), 2)
>>> int(images.bands[0][0].min()), int(images.bands[0][0].max())
(0, 255)
>>> [level.shape for level in pyramid(np.zeros((20, 12), np.uint8), min_side=4)]
[(20, 12), (10, 6), (5, 3), (3, 2)]
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
import threading

import numpy as np

from .cutout import Cutout
from .smoothing import smooth
from .stretch import Stretch, preset, rgb_planes

__all__ = [
    "LIMITS_SAMPLE",
    "PYRAMID_SIDE",
    "DisplayImages",
    "DisplaySettings",
    "Renderer",
    "pyramid",
    "render",
]

PYRAMID_SIDE = 2048
"""Images with a side of this many pixels or more are shown as pyramids."""

LIMITS_SAMPLE = 1 << 22
"""Most pixels of a band the stretch limits are taken from (every k-th of a
larger band): exact up to 2048 x 2048, well within one grey level beyond."""

_ROWS = 256  # rows stretched at once: bounds the float64 scratch to a few MB a band


@dataclass(frozen=True)
class DisplaySettings:
    """How to show a cutout: a stretch preset, its softening and a display smoothing.

    See :func:`galseg.stretch.preset` and :data:`galseg.smoothing.SMOOTHINGS`.
    """

    stretch: str = "lsb"
    softening: float = 1.0
    smoothing: str = "none"


@dataclass(frozen=True, eq=False)
class DisplayImages:
    """The images shown of one cutout, each a list of pyramid levels (one if small).

    Attributes
    ----------
    colour : list of ndarray of uint8, shape (y, x, 3)
        The colour composite (:func:`galseg.stretch.rgb_planes` of the bands).
    bands : list of list of ndarray of uint8, shape (y, x)
        Each band on its own.
    settings : DisplaySettings
        What they were rendered with.
    """

    colour: list[np.ndarray]
    bands: list[list[np.ndarray]]
    settings: DisplaySettings

    def __repr__(self) -> str:
        return f"<DisplayImages {len(self.bands)} band(s), {len(self.colour)} level(s)>"

    @property
    def multiscale(self) -> bool:
        """Whether the images are pyramids of more than one level."""
        return len(self.colour) > 1

    @property
    def nbytes(self) -> int:
        """Bytes held by every level of every image."""
        return sum(level.nbytes for image in [self.colour, *self.bands] for level in image)


def render(cutout: Cutout, settings: DisplaySettings = DisplaySettings()) -> DisplayImages:
    """The 8-bit images to display of ``cutout`` (see the module's description).

    Each band is smoothed (display only), stretched to [0, 1] on its own as
    :func:`galseg.stretch.normalize` does, and scaled to 0..255. The stretch
    limits come from at most :data:`LIMITS_SAMPLE` of the band's pixels.

    Parameters
    ----------
    cutout : Cutout
        The cutout.
    settings : DisplaySettings
        The stretch preset, softening and smoothing.

    Returns
    -------
    DisplayImages

    Raises
    ------
    ValueError
        If the preset or the smoothing is unknown.
    CutoutError
        If a band has no finite pixel and the stretch needs one.
    """
    data = cutout.data
    planes = np.empty(data.shape, np.uint8)
    for i, band in enumerate(data):
        shown = smooth(band[np.newaxis], settings.smoothing)[0]
        stretch = _fixed_limits(shown, settings)
        for start in range(0, shown.shape[0], _ROWS):
            rows = stretch(shown[start : start + _ROWS])
            planes[i, start : start + _ROWS] = np.rint(rows * 255)
        del shown
    colour = np.empty((*cutout.image_shape, 3), np.uint8)  # filled block by block: no copies
    for start in range(0, colour.shape[0], _ROWS):
        colour[start : start + _ROWS] = np.moveaxis(
            rgb_planes(planes[:, start : start + _ROWS]), 0, -1
        )
    if max(cutout.image_shape) < PYRAMID_SIDE:
        return DisplayImages([colour], [[plane] for plane in planes], settings)
    top = PYRAMID_SIDE // 2  # the coarsest level is at most this
    return DisplayImages(pyramid(colour, top), [pyramid(plane, top) for plane in planes], settings)


def _fixed_limits(band: np.ndarray, settings: DisplaySettings) -> Stretch:
    """The band's stretch with its limits fixed, so that it can be applied block by block."""
    every = band.reshape(-1)[:: max(1, -(-band.size // LIMITS_SAMPLE))]
    sample = every[np.isfinite(every)]
    if sample.size == 0:  # no finite pixel: every pixel shows as the fill value
        return Stretch("linear", "manual", vmin=0.0, vmax=0.0)
    stretch = preset(settings.stretch, sample, softening=settings.softening)
    vmin, vmax = stretch.limits(sample)
    return replace(stretch, interval="manual", vmin=vmin, vmax=vmax)


def pyramid(image: np.ndarray, min_side: int = 1024) -> list[np.ndarray]:
    """``image`` and its 2 x 2 block means, halving until the longest side is at most ``min_side``.

    The first two axes are the image's (a trailing colour axis is kept); an
    odd side is padded with its last row or column.

    Examples
    --------
    >>> [level.shape for level in pyramid(np.zeros((4096, 4096, 3), np.uint8))]
    [(4096, 4096, 3), (2048, 2048, 3), (1024, 1024, 3)]
    >>> pyramid(np.array([[0, 255], [255, 255]], np.uint8), min_side=1)[1].tolist()
    [[191]]
    """
    levels = [image]
    while max(levels[-1].shape[:2]) > min_side:
        level = levels[-1]
        ny, nx = -(-level.shape[0] // 2) * 2, -(-level.shape[1] // 2) * 2
        pad = [(0, ny - level.shape[0]), (0, nx - level.shape[1])] + [(0, 0)] * (level.ndim - 2)
        even = np.pad(level, pad, mode="edge") if any(p[1] for p in pad[:2]) else level
        total = np.zeros((ny // 2, nx // 2, *level.shape[2:]), np.uint16)
        for dy in (0, 1):
            for dx in (0, 1):
                total += even[dy::2, dx::2]
        total += 2  # rounded to nearest, in place: no more scratch than ``total``
        total //= 4
        levels.append(total.astype(image.dtype))
    return levels


class Renderer:
    """Renders cutouts in a thread of its own; only the latest request is answered.

    Parameters
    ----------
    post : callable
        ``post(function)`` runs ``function`` on the caller's thread (a GUI's
        event loop); results and errors arrive through it.

    Examples
    --------
    >>> from galseg import Cutout
    >>> posted = []
    >>> renderer = Renderer(posted.append)
    >>> cutout = Cutout.from_array(np.ones((1, 4, 4), np.float32), ["r"])
    >>> renderer.request(cutout, DisplaySettings("linear"), print, print)
    >>> renderer.wait()
    True
    >>> posted[0]()  # on the caller's thread: the images
    <DisplayImages 1 band(s), 1 level(s)>
    >>> renderer.close()
    """

    def __init__(self, post: Callable[[Callable[[], None]], None]) -> None:
        self._post = post
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="galseg-render")
        self._lock = threading.Lock()
        self._latest = 0  # the generation of the latest request
        self._answered = 0  # the generation of the last answer handed over
        self._closed = False

    @property
    def pending(self) -> bool:
        """Whether a request has not been answered yet."""
        with self._lock:
            return self._answered < self._latest

    def request(
        self,
        cutout: Cutout,
        settings: DisplaySettings,
        done: Callable[[DisplayImages], None],
        failed: Callable[[str], None],
    ) -> None:
        """Render ``cutout``; ``done(images)`` or ``failed(message)`` runs through ``post``.

        A later request supersedes this one: only the latest is rendered and
        answered.
        """
        if self._closed:
            return
        with self._lock:
            self._latest += 1
            generation = self._latest
        self._executor.submit(self._run, generation, cutout, settings, done, failed)

    def _run(self, generation, cutout, settings, done, failed) -> None:
        if generation != self._latest or self._closed:
            return
        try:
            images = render(cutout, settings)
        except Exception as exc:  # one line for the user, never a traceback
            message = f"{cutout.name}: cannot display it: {exc}"
            self._answer(generation, lambda: failed(message))
        else:
            self._answer(generation, lambda: done(images))

    def _answer(self, generation: int, function: Callable[[], None]) -> None:
        def answer() -> None:
            with self._lock:
                current = generation == self._latest
                if current:
                    self._answered = generation
            if current and not self._closed:
                function()

        if not self._closed:
            self._post(answer)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the renders asked for so far are done (their answers posted)."""
        done = threading.Event()
        self._executor.submit(done.set)
        return done.wait(timeout)

    def close(self) -> None:
        """Drop queued requests and wait for the running one; no answer is posted after."""
        self._closed = True
        self._executor.shutdown(wait=True, cancel_futures=True)
