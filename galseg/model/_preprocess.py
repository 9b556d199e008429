"""Model input: a cutout's bands as the encoder's channels, at the working size.

The bands are stretched with :func:`galseg.stretch.normalize` — the same code
as the viewer's display — mapped to the encoder's input channels, standardised
with the encoder's mean and standard deviation, shrunk when the cutout is
larger than the model's working size, and padded to the network's stride.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math

import numpy as np
import torch
import torch.nn.functional as F

from ..cutout import Cutout
from ..errors import GalsegError
from ..stretch import PRESETS, normalize, rgb_planes

__all__ = [
    "Geometry",
    "Preprocessing",
    "model_input",
    "pad_to",
    "prepare",
    "to_image",
    "to_working",
    "working_shape",
]


@dataclass(frozen=True)
class Preprocessing:
    """How a cutout becomes the encoder's input.

    Parameters
    ----------
    stretch : str
        Stretch preset (see :func:`galseg.stretch.preset`) that maps each band
        to [0, 1], as on the display.
    in_chans : int
        The encoder's input channels. 3: the planes of the display's colour
        composite (:func:`galseg.stretch.rgb_planes`: one band is repeated,
        two give red and blue with their mean as green, three are taken
        reddest first, of more than three the last, middle and first); 1: the
        mean of the stretched bands; any other number: the bands as they are,
        so the cutout must have exactly that many.
    mean, std : tuple of float
        Per-channel standardisation after the stretch, ``(x - mean) / std``,
        as in timm's ``pretrained_cfg`` (inputs in [0, 1]).
    max_size : int
        Working size: a cutout whose longer side exceeds it is shrunk by area
        averaging so that the longer side is ``max_size`` (the completion is
        scaled back to the cutout's pixels). Smaller cutouts are used as they
        are.

    Examples
    --------
    >>> Preprocessing(in_chans=1, mean=(0.1,), std=(0.2,)).in_chans
    1
    """

    stretch: str = "lsb"
    in_chans: int = 3
    mean: tuple[float, ...] = field(default=(0.0, 0.0, 0.0))
    std: tuple[float, ...] = field(default=(1.0, 1.0, 1.0))
    max_size: int = 512

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean", tuple(float(v) for v in self.mean))
        object.__setattr__(self, "std", tuple(float(v) for v in self.std))
        if self.stretch not in PRESETS:
            raise GalsegError(f"unknown stretch preset {self.stretch!r}; presets are {PRESETS}")
        if self.in_chans < 1 or len(self.mean) != self.in_chans or len(self.std) != self.in_chans:
            raise GalsegError(
                f"preprocessing: {self.in_chans} input channels need as many means and "
                f"standard deviations, got {len(self.mean)} and {len(self.std)}"
            )
        if not all(s > 0 for s in self.std):
            raise GalsegError(f"preprocessing: standard deviations must be > 0, got {self.std}")
        if self.max_size < 16:
            raise GalsegError(f"preprocessing: max_size must be at least 16, got {self.max_size}")


@dataclass(frozen=True)
class Geometry:
    """Where a cutout's pixels lie in the network input.

    Attributes
    ----------
    image_shape : tuple of int
        ``(y, x)`` of the cutout.
    working_shape : tuple of int
        ``(y, x)`` after shrinking to the working size (equal to
        ``image_shape`` for cutouts no larger than it).
    padded_shape : tuple of int
        ``(y, x)`` of the network input: ``working_shape`` padded at the bottom
        and right to a multiple of the network's stride.
    """

    image_shape: tuple[int, int]
    working_shape: tuple[int, int]
    padded_shape: tuple[int, int]

    @property
    def resized(self) -> bool:
        """Whether the cutout was shrunk to the working size."""
        return self.working_shape != self.image_shape


def model_input(cutout: Cutout, preprocessing: Preprocessing) -> np.ndarray:
    """The encoder's input channels of a cutout, at its own size.

    Parameters
    ----------
    cutout : Cutout
        Any number of bands.
    preprocessing : Preprocessing
        Stretch, channel mapping and standardisation.

    Returns
    -------
    ndarray of float32, shape (in_chans, y, x)

    Raises
    ------
    GalsegError
        If the encoder takes a number of channels other than 1 or 3 and the
        cutout has another number of bands.

    Examples
    --------
    >>> import numpy as np
    >>> from galseg import Cutout
    >>> vis = Cutout.from_array(np.random.default_rng(0).normal(size=(1, 32, 32)), ["VIS"])
    >>> x = model_input(vis, Preprocessing())
    >>> x.shape, bool((x[0] == x[2]).all())
    ((3, 32, 32), True)
    """
    channels = preprocessing.in_chans
    if channels == 3:
        planes = normalize(rgb_planes(cutout), preprocessing.stretch)
    elif channels == 1:
        planes = normalize(cutout, preprocessing.stretch).mean(axis=0, keepdims=True)
    elif channels == len(cutout.bands):
        planes = normalize(cutout, preprocessing.stretch)
    else:
        raise GalsegError(
            f"{cutout.source or cutout.name}: the encoder takes {channels} channels but the "
            f"cutout has {len(cutout.bands)} bands {cutout.bands}"
        )
    mean = np.asarray(preprocessing.mean, dtype=np.float32)[:, None, None]
    std = np.asarray(preprocessing.std, dtype=np.float32)[:, None, None]
    return ((planes - mean) / std).astype(np.float32)


def working_shape(shape: tuple[int, int], max_size: int) -> tuple[int, int]:
    """``shape`` shrunk so that its longer side is at most ``max_size``.

    Examples
    --------
    >>> working_shape((1000, 500), 512), working_shape((64, 64), 512)
    ((512, 256), (64, 64))
    """
    longer = max(shape)
    if longer <= max_size:
        return (int(shape[0]), int(shape[1]))
    return tuple(max(1, round(side * max_size / longer)) for side in shape)  # type: ignore[return-value]


def prepare(
    cutout: Cutout, preprocessing: Preprocessing, stride: int
) -> tuple[torch.Tensor, Geometry]:
    """The network input of a cutout: :func:`model_input`, shrunk and padded.

    Parameters
    ----------
    cutout : Cutout
        The cutout.
    preprocessing : Preprocessing
        How to make the input channels, and the working size.
    stride : int
        The network's largest feature stride; the input is padded to a
        multiple of it by reflection at the bottom and right.

    Returns
    -------
    tensor of float32, shape (1, in_chans, Y, X)
        On the CPU.
    Geometry
        The shapes involved, to map prompts and completions.

    Examples
    --------
    >>> import numpy as np
    >>> from galseg import Cutout
    >>> cutout = Cutout.from_array(np.random.default_rng(1).normal(size=(3, 40, 1200)), "grz")
    >>> x, geometry = prepare(cutout, Preprocessing(), stride=16)
    >>> tuple(x.shape), geometry.working_shape
    ((1, 3, 32, 512), (17, 512))
    """
    image = torch.from_numpy(model_input(cutout, preprocessing))[None]
    image_shape = cutout.image_shape
    working = working_shape(image_shape, preprocessing.max_size)
    if working != image_shape:
        image = F.interpolate(image, size=working, mode="area")
    padded = tuple(math.ceil(side / stride) * stride for side in working)
    return pad_to(image, padded), Geometry(image_shape, working, padded)  # type: ignore[arg-type]


def pad_to(image: torch.Tensor, shape: tuple[int, int], mode: str = "reflect") -> torch.Tensor:
    """Pad the last two axes at the bottom and right to ``shape``.

    ``mode`` is ``"reflect"`` (falling back to ``"replicate"`` where the pad is
    wider than the image) or ``"zeros"``.

    Examples
    --------
    >>> pad_to(torch.arange(3.0).reshape(1, 1, 1, 3), (1, 5))
    tensor([[[[0., 1., 2., 1., 0.]]]])
    """
    pad_y, pad_x = shape[0] - image.shape[-2], shape[1] - image.shape[-1]
    if pad_y == 0 and pad_x == 0:
        return image
    pads = (0, pad_x, 0, pad_y)
    if mode == "zeros":
        return F.pad(image, pads)
    fits = pad_y < image.shape[-2] and pad_x < image.shape[-1]
    return F.pad(image, pads, mode="reflect" if fits else "replicate")


def to_working(image: np.ndarray, geometry: Geometry, reduce: str = "max") -> np.ndarray:
    """A (y, x) map of the cutout's pixels on the network input's pixels.

    Shrunk to the working size by ``reduce`` (``"max"``: a pixel is on if any
    pixel it covers is, for strokes; ``"mean"``: area average, for
    probabilities), then padded with zeros.

    Returns
    -------
    ndarray of float32, shape ``geometry.padded_shape``

    Examples
    --------
    >>> geometry = Geometry((4, 4), (2, 2), (4, 4))
    >>> stroke = np.zeros((4, 4), bool); stroke[0, 0] = True
    >>> to_working(stroke, geometry)
    array([[1., 0., 0., 0.],
           [0., 0., 0., 0.],
           [0., 0., 0., 0.],
           [0., 0., 0., 0.]], dtype=float32)
    """
    values = torch.from_numpy(np.asarray(image, dtype=np.float32))[None, None]
    if geometry.resized:
        if reduce == "max":
            values = F.adaptive_max_pool2d(values, geometry.working_shape)
        else:
            values = F.interpolate(values, size=geometry.working_shape, mode="area")
    return pad_to(values, geometry.padded_shape, mode="zeros")[0, 0].numpy()


def to_image(logits: torch.Tensor, geometry: Geometry) -> torch.Tensor:
    """Network output (B, C, Y, X) cropped to the cutout and scaled back to its pixels.

    Examples
    --------
    >>> geometry = Geometry((6, 6), (3, 3), (4, 4))
    >>> to_image(torch.zeros(1, 1, 4, 4), geometry).shape
    torch.Size([1, 1, 6, 6])
    """
    height, width = geometry.working_shape
    logits = logits[..., :height, :width]
    if geometry.resized:
        logits = F.interpolate(
            logits, size=geometry.image_shape, mode="bilinear", align_corners=False
        )
    return logits
