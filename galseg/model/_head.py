"""The head: a light UNet decoder over the encoder's features that takes stroke prompts.

At every decoder scale the head sees the encoder's features there, the
upsampled decoder state from the scale below, and the prompt maps max-pooled
to that scale (:func:`prompt_maps`); a class embedding modulates every scale
(FiLM: a per-channel scale and shift), so the same strokes complete
differently for a stream and a bar. The finest scale's logits are upsampled
bilinearly to the input resolution.

Automatic mode is the same head with empty prompts: it is trained with empty
prompts too, and :meth:`galseg.model.Assistant.segment` runs it once per class
(one batch).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage
import torch
from torch import nn
import torch.nn.functional as F

from ._preprocess import Geometry, to_working

__all__ = ["PROMPTS", "PromptHead", "default_widths", "input_prompts", "prompt_maps"]

PROMPTS = ("positive", "negative", "near_positive", "near_negative", "previous")
"""The prompt channels, in order (see :func:`prompt_maps`)."""

_WIDTH_BY_STRIDE = {1: 16, 2: 16, 4: 32, 8: 48, 16: 64, 32: 96}


def default_widths(strides: Sequence[int]) -> tuple[int, ...]:
    """Decoder channels at each feature stride: 16 at 2, 32 at 4, 48 at 8, 64 at 16, 96 at 32.

    Examples
    --------
    >>> default_widths([4, 8, 16])
    (32, 48, 64)
    """
    return tuple(_WIDTH_BY_STRIDE.get(int(s), 96) for s in strides)


def prompt_maps(
    positive: np.ndarray,
    negative: np.ndarray,
    previous: np.ndarray | None = None,
    *,
    reach: float,
) -> np.ndarray:
    """The head's prompt channels (:data:`PROMPTS`) for one image.

    Parameters
    ----------
    positive, negative : ndarray of bool, shape (y, x)
        Pixels painted for the target class, and pixels erased or painted as
        other classes.
    previous : ndarray of float, shape (y, x), optional
        The last completion's probability (or mask), in [0, 1]; zeros if None.
    reach : float
        Distance in pixels over which the nearness maps fall from 1 to 0.

    Returns
    -------
    ndarray of float32, shape (5, y, x)
        The strokes, their nearness ``max(0, 1 - d / reach)`` where ``d`` is
        the Euclidean distance to the nearest stroke pixel
        (:func:`scipy.ndimage.distance_transform_edt`; 0 everywhere without a
        stroke), and ``previous``. Every channel is in [0, 1] and larger
        nearer to a stroke, so max-pooling keeps its meaning at coarser scales.

    Examples
    --------
    >>> import numpy as np
    >>> positive = np.zeros((1, 5), bool); positive[0, 0] = True
    >>> prompt_maps(positive, np.zeros((1, 5), bool), reach=4.0)[2]
    array([[1.  , 0.75, 0.5 , 0.25, 0.  ]], dtype=float32)
    """
    maps = np.zeros((len(PROMPTS), *positive.shape), dtype=np.float32)
    for i, strokes in enumerate((positive, negative)):
        if strokes.any():
            maps[i] = strokes
            distance = ndimage.distance_transform_edt(~strokes)
            maps[2 + i] = np.clip(1.0 - distance / reach, 0.0, 1.0)
    if previous is not None:
        maps[4] = np.clip(previous, 0.0, 1.0)
    return maps


def input_prompts(
    positive: np.ndarray,
    negative: np.ndarray,
    previous: np.ndarray | None,
    geometry: Geometry,
    reach: float,
) -> np.ndarray:
    """:func:`prompt_maps` of a cutout's strokes on the network input's pixels.

    Parameters
    ----------
    positive, negative : ndarray of bool, shape ``geometry.image_shape``
        The strokes (see :func:`prompt_maps`).
    previous : ndarray of float, optional
        The last completion's probability, same shape.
    geometry : Geometry
        The cutout's place in the network input.
    reach : float
        Reach of the nearness maps as a fraction of the longer working side.

    Returns
    -------
    ndarray of float32, shape (5, *geometry.padded_shape)

    Examples
    --------
    >>> from galseg.model._preprocess import Geometry
    >>> geometry = Geometry((20, 20), (20, 20), (32, 32))
    >>> stroke = np.zeros((20, 20), bool); stroke[5, 5] = True
    >>> input_prompts(stroke, np.zeros_like(stroke), None, geometry, reach=0.25).shape
    (5, 32, 32)
    """
    return prompt_maps(
        to_working(positive, geometry) > 0,
        to_working(negative, geometry) > 0,
        None if previous is None else to_working(previous, geometry, reduce="mean"),
        reach=reach * max(geometry.working_shape),
    )


class _Block(nn.Module):
    """3x3 convolution, group norm, class FiLM, ReLU."""

    def __init__(self, in_channels: int, out_channels: int, embedding: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.norm = nn.GroupNorm(_groups(out_channels), out_channels)
        self.film = nn.Linear(embedding, 2 * out_channels)

    def forward(self, x: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        scale, shift = self.film(embedding)[:, :, None, None].chunk(2, dim=1)
        return F.relu(self.norm(self.conv(x)) * (1 + scale) + shift)


def _groups(channels: int) -> int:
    return next(g for g in (8, 4, 2, 1) if channels % g == 0)


class PromptHead(nn.Module):
    """UNet decoder with prompts at every scale and a class embedding.

    Parameters
    ----------
    channels : sequence of int
        Channels of the encoder's feature levels, finest first.
    widths : sequence of int
        Decoder channels at each level, finest first.
    n_classes : int
        Number of target classes (the taxonomy's feature classes).
    embedding : int
        Size of the class embedding.

    Examples
    --------
    >>> head = PromptHead([8, 16], [8, 16], n_classes=3)
    >>> features = [torch.zeros(2, 8, 16, 16), torch.zeros(2, 16, 8, 8)]
    >>> prompts = torch.zeros(2, len(PROMPTS), 32, 32)
    >>> head(features, prompts, torch.tensor([0, 2])).shape
    torch.Size([2, 1, 32, 32])
    """

    def __init__(
        self,
        channels: Sequence[int],
        widths: Sequence[int],
        n_classes: int,
        embedding: int = 16,
    ) -> None:
        super().__init__()
        if len(channels) != len(widths):
            raise ValueError(f"{len(channels)} feature levels but {len(widths)} decoder widths")
        self.classes = nn.Embedding(n_classes, embedding)
        self.lateral = nn.ModuleList(
            nn.Conv2d(c, w, 1) for c, w in zip(channels, widths, strict=True)
        )
        n = len(PROMPTS)
        blocks = []
        for level in range(len(widths)):
            above = widths[level + 1] if level + 1 < len(widths) else 0
            blocks.append(_Block(widths[level] + above + n, widths[level], embedding))
        self.blocks = nn.ModuleList(blocks)
        self.out = nn.Conv2d(widths[0], 1, 1)

    def forward(
        self, features: Sequence[torch.Tensor], prompts: torch.Tensor, class_index: torch.Tensor
    ) -> torch.Tensor:
        """Logits of the target class.

        Parameters
        ----------
        features : sequence of Tensor
            The encoder's feature levels, finest first, each (B, C, y, x).
        prompts : Tensor, shape (B, 5, Y, X)
            :func:`prompt_maps` at the input resolution.
        class_index : LongTensor, shape (B,)
            Index of the target class among the feature classes.

        Returns
        -------
        Tensor, shape (B, 1, Y, X)
        """
        embedding = self.classes(class_index)
        x = None
        for level in reversed(range(len(features))):
            lateral = self.lateral[level](features[level])
            size = lateral.shape[-2:]
            parts = [lateral, F.adaptive_max_pool2d(prompts, size)]
            if x is not None:
                parts.insert(1, F.interpolate(x, size=size, mode="bilinear", align_corners=False))
            x = self.blocks[level](torch.cat(parts, dim=1), embedding)
        logits = self.out(x)
        return F.interpolate(logits, size=prompts.shape[-2:], mode="bilinear", align_corners=False)
