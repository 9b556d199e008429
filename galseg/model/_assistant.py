"""The completion engine: encode a cutout once, complete every stroke with the head alone."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
import math
from pathlib import Path

import numpy as np
from scipy import ndimage
import torch

from ..checkpoint_info import SHIPPED_CHECKPOINT
from ..cutout import Cutout
from ..errors import GalsegError
from ..taxonomy import Taxonomy
from ._automatic import AutomaticRule
from ._cache import FeatureCache
from ._checkpoint import Checkpoint, read_checkpoint
from ._device import resolve_device
from ._head import input_prompts
from ._network import ModelConfig
from ._preprocess import Geometry, prepare, to_image

__all__ = [
    "SHIPPED_CHECKPOINT",
    "Assistant",
    "Completion",
    "Segmentation",
    "load_assistant",
    "uncertainty",
]

GPU_BATCH = 16
"""Cutouts per forward pass of :meth:`Assistant.segment_many` on CUDA."""

_TRAIN_COMMANDS = (
    "galseg train encoder --out encoder.safetensors && "
    f"galseg train head --encoder encoder.safetensors --out {SHIPPED_CHECKPOINT} && "
    f"galseg train automatic --checkpoint {SHIPPED_CHECKPOINT}"
)


LOCAL_FLOOR = 0.05
"""Probability down to which a completion's pieces are traced back to the strokes
(the lowest threshold the annotator's slider offers)."""

_EIGHT = np.ones((3, 3), dtype=bool)


def connected_to(mask: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """The connected pieces (8-neighbour) of ``mask`` that touch ``seeds``.

    Examples
    --------
    >>> mask = np.array([[1, 1, 0, 1, 1]], bool)
    >>> connected_to(mask, np.array([[1, 0, 0, 0, 0]], bool)).astype(int)
    array([[1, 1, 0, 0, 0]])
    """
    mask = np.asarray(mask, dtype=bool)
    pieces, _ = ndimage.label(mask, structure=_EIGHT)
    touched = np.unique(pieces[np.asarray(seeds, dtype=bool) & mask])
    return np.isin(pieces, touched[touched > 0])


@dataclass(frozen=True)
class Completion:
    """A completed mask of one class.

    Attributes
    ----------
    mask : ndarray of bool, shape (y, x)
        Where ``probability`` is at least the assistant's threshold.
    probability : ndarray of float32, shape (y, x)
        The network's probability that each pixel belongs to the class (zero
        where the locality rule of :meth:`Assistant.complete` dropped it).
    locality : float
        The share of the network's own mask (its probability at the
        threshold, before the locality rule) in pieces that grow from the
        strokes: 1 when the network itself kept to them.
    """

    mask: np.ndarray
    probability: np.ndarray
    locality: float = 1.0


@dataclass(frozen=True)
class Segmentation:
    """Automatic mode's answer for one cutout (see :meth:`Assistant.segment_many`).

    Attributes
    ----------
    labels : ndarray of uint8, shape (y, x)
        Label image with the taxonomy's values.
    confidence : dict of str to float
        Each feature class's highest probability on the cutout: the class has
        pixels in ``labels`` only where this reaches the assistant's threshold
        (and no other class is likelier there).
    embedding : ndarray of float32, shape (channels,), or None
        The encoder's deepest features averaged over the cutout (the
        representation used for similarity search), when asked for.
    probability : ndarray of float32, shape (class, y, x), or None
        Each feature class's probability map, in the taxonomy's order.
    uncertainty : float
        How unsure automatic mode is (:func:`uncertainty`): what ranks
        cutouts for annotation (``galseg rank --by uncertainty``).
    """

    labels: np.ndarray
    confidence: dict[str, float]
    embedding: np.ndarray | None = None
    probability: np.ndarray | None = None
    uncertainty: float = 0.0


def uncertainty(probability: np.ndarray) -> float:
    """How unsure automatic mode is about a cutout, from its class probabilities.

    Each pixel's uncertainty is the largest binary entropy (in bits) of its
    classes' probabilities: near 0 where the model is sure (plain sky, a
    clear bar), 1 where it hesitates. The score is their mean over the
    cutout, the share of its pixels in doubt: it follows the share of pixels
    automatic mode gets wrong (Spearman rho 0.71 on 40 simulated legacy
    cutouts with the shipped model; ``tests/test_rank.py`` checks it).

    Parameters
    ----------
    probability : ndarray, shape (class, ...)

    Examples
    --------
    >>> import numpy as np
    >>> sure = np.array([[0.0, 0.01, 0.99, 1.0]])
    >>> unsure = np.array([[0.0, 0.01, 0.5, 0.6]])
    >>> round(uncertainty(sure), 3), round(uncertainty(unsure), 3)
    (0.04, 0.513)
    """
    p = np.clip(np.asarray(probability, dtype=np.float64), 1e-7, 1 - 1e-7)
    entropy = -(p * np.log2(p) + (1 - p) * np.log2(1 - p))
    return float(entropy.max(axis=0).mean())


@dataclass(frozen=True)
class _Encoded:
    """A cutout's encoder features (on the assistant's device) and geometry."""

    features: list[torch.Tensor]
    geometry: Geometry


class Assistant:
    """Completes brush strokes into whole feature masks.

    Make one with :func:`load_assistant`. The encoder runs once per cutout in
    :meth:`set_image` (its features are cached); each :meth:`complete` runs
    only the head.

    Parameters
    ----------
    checkpoint : Checkpoint
        A checkpoint with a trained head.
    device : str
        ``"auto"``, ``"cpu"`` or ``"cuda"`` (see :func:`load_assistant`).
    cache : FeatureCache, optional
        Where encoded cutouts are kept; share one between assistants to share
        their features (entries are keyed by the checkpoint's identity too).
    threshold : float
        Probability above which a pixel is in a completed mask (and, for a
        checkpoint without a calibrated automatic rule, in automatic mode).

    Attributes
    ----------
    config : ModelConfig
    identity : str
        SHA-256 of the checkpoint's weights file.
    device : torch.device
    cache : FeatureCache
    network : Network
    automatic : AutomaticRule
        Automatic mode's thresholds, from the model card when calibrated.
    """

    def __init__(
        self,
        checkpoint: Checkpoint,
        device: str = "auto",
        *,
        cache: FeatureCache | None = None,
        threshold: float = 0.5,
    ) -> None:
        if not 0.0 < threshold < 1.0:
            raise GalsegError(f"threshold must be between 0 and 1, got {threshold}")
        self.config: ModelConfig = checkpoint.config
        self.identity = checkpoint.identity
        self.checkpoint_path = checkpoint.path
        self.device = resolve_device(device)
        self.network = checkpoint.network(head=True).to(self.device).eval()
        self.cache = cache if cache is not None else FeatureCache()
        self.threshold = threshold
        self.automatic = AutomaticRule.from_card(checkpoint.card, threshold)
        self._current: _Encoded | None = None

    def __repr__(self) -> str:
        return f"<Assistant {self.checkpoint_path.name} on {self.device} ({self.identity[:12]})>"

    @property
    def taxonomy(self) -> Taxonomy:
        """The classes the assistant knows."""
        return self.config.taxonomy

    @property
    def image_shape(self) -> tuple[int, int] | None:
        """``(y, x)`` of the current image, or None before :meth:`set_image`."""
        return None if self._current is None else self._current.geometry.image_shape

    # ------------------------------------------------------------------ images
    def set_image(self, cutout: Cutout) -> None:
        """Make ``cutout`` the current image, encoding it unless it is cached.

        The bands are stretched with :func:`galseg.stretch.normalize` (the
        preset in the checkpoint's configuration), mapped to the encoder's
        channels, shrunk if larger than the working size and padded to the
        network's stride (see :class:`~galseg.model.Preprocessing`). The
        features are cached under ``(cutout.content_hash, identity, device)``.

        Parameters
        ----------
        cutout : Cutout
            Any size of at least 1 pixel, any number of bands the encoder can
            take.

        Raises
        ------
        GalsegError
            If the cutout's bands do not fit the encoder's channels.
        """
        if not isinstance(cutout, Cutout):
            raise GalsegError(f"set_image needs a galseg Cutout, got {type(cutout).__name__}")
        key = (cutout.content_hash, self.identity, str(self.device))
        encoded = self.cache.get(key)
        if encoded is None:
            image, geometry = prepare(cutout, self.config.preprocessing, self.network.stride)
            with torch.inference_mode():
                features = self.network.encode(image.to(self.device))
            encoded = _Encoded(features, geometry)
            self.cache.put(key, encoded)
        self._current = encoded

    # ------------------------------------------------------------- completion
    def complete(
        self,
        positive: np.ndarray,
        negative: np.ndarray,
        label: int | str,
        previous: np.ndarray | None = None,
        *,
        local: bool = True,
    ) -> Completion:
        """Complete strokes into a mask of one class on the current image.

        Parameters
        ----------
        positive : array_like of bool, shape (y, x)
            Pixels painted with ``label``.
        negative : array_like of bool, shape (y, x)
            Pixels erased, or painted with other classes.
        label : int or str
            The target class, by value or name (a feature class of
            :attr:`taxonomy`).
        previous : array_like of float or bool, shape (y, x), optional
            The last completion of this class (its probability or mask), so
            that a further stroke refines it.
        local : bool
            Keep only what grows from the strokes: the mask's pieces that
            touch a positive stroke or the previous completion (above the
            threshold). The probability is zero outside the pieces of the
            map above :data:`LOCAL_FLOOR` that touch them, and on the mask's
            dropped pieces, so a lower threshold brings back no light far
            from the strokes. ``False`` gives the network's raw answer.

        Returns
        -------
        Completion

        Raises
        ------
        GalsegError
            If no image is set, a shape differs from the image's, ``previous``
            is not in [0, 1], or the label is not a feature class.
        """
        encoded = self._require_image()
        index = self.config.class_index(label)
        shape = encoded.geometry.image_shape
        positive = _as_mask(positive, shape, "positive strokes")
        negative = _as_mask(negative, shape, "negative strokes")
        if previous is not None:
            previous = _probability(previous, shape)
        prompts = input_prompts(positive, negative, previous, encoded.geometry, self.config.reach)
        probability = self._probabilities(encoded, prompts[None], [index])[0]
        above = probability >= self.threshold
        seeds = positive if previous is None else positive | (previous >= self.threshold)
        grown = connected_to(above, seeds)
        raw = np.count_nonzero(above)
        locality = np.count_nonzero(grown) / raw if raw else 1.0
        if local:
            probability[~connected_to(probability >= LOCAL_FLOOR, seeds) | (above & ~grown)] = 0.0
        return Completion(probability >= self.threshold, probability, float(locality))

    def segment(self, cutout: Cutout) -> np.ndarray:
        """Segment every class without strokes (automatic mode).

        The head runs once per feature class with empty prompts (one batch);
        :attr:`automatic` turns the probabilities into labels (each pixel
        the likeliest class that reaches its threshold, small pieces
        dropped). ``cutout`` becomes the current image.

        Parameters
        ----------
        cutout : Cutout
            The cutout.

        Returns
        -------
        ndarray of uint8, shape (y, x)
            Label image with the taxonomy's values.
        """
        self.set_image(cutout)
        encoded = self._require_image()
        return self._segmentations(encoded.features, encoded.geometry, embed=False)[0].labels

    def segment_many(self, cutouts: Sequence[Cutout], *, embed: bool = False) -> list[Segmentation]:
        """Automatic mode for many cutouts at once, in batches (for catalogue runs).

        On CUDA, cutouts of the same shape are encoded, and their classes
        decoded, in batches of up to :data:`GPU_BATCH`; on the CPU one at a
        time, which is faster there (a 256x256 cutout took 137 ms alone and
        205 ms within a batch of 16, on 2 cores). Unlike :meth:`segment`,
        neither the feature cache nor the current image is touched, so a long
        run does not fill memory.

        Parameters
        ----------
        cutouts : sequence of Cutout
            The cutouts, any sizes (see :meth:`set_image`).
        embed : bool
            Also return each cutout's embedding (:attr:`Segmentation.embedding`).

        Returns
        -------
        list of Segmentation
            In the order of ``cutouts``; the labels as :meth:`segment` gives them.

        Raises
        ------
        GalsegError
            If a cutout's bands do not fit the encoder's channels.
        """
        results: list[Segmentation | None] = [None] * len(cutouts)
        prepared = [prepare(c, self.config.preprocessing, self.network.stride) for c in cutouts]
        groups: dict[Geometry, list[int]] = {}
        for i, (_, geometry) in enumerate(prepared):
            groups.setdefault(geometry, []).append(i)
        size = GPU_BATCH if self.device.type == "cuda" else 1
        for geometry, members in groups.items():
            for start in range(0, len(members), size):
                chunk = members[start : start + size]
                images = torch.cat([prepared[i][0] for i in chunk]).to(self.device)
                with torch.inference_mode():
                    features = self.network.encode(images)
                segmentations = self._segmentations(features, geometry, embed=embed)
                for i, result in zip(chunk, segmentations, strict=True):
                    results[i] = result
        return results  # type: ignore[return-value]

    # ----------------------------------------------------------------- helpers
    def _require_image(self) -> _Encoded:
        if self._current is None:
            raise GalsegError("no image: call set_image(cutout) before completing strokes")
        return self._current

    def _segmentations(
        self, features: Sequence[torch.Tensor], geometry: Geometry, *, embed: bool
    ) -> list[Segmentation]:
        """Automatic mode for a batch of encoded images of one geometry."""
        classes = self.config.classes
        n, batch = len(classes), features[0].shape[0]
        empty = np.zeros(geometry.image_shape, dtype=bool)
        prompts = input_prompts(empty, empty, None, geometry, self.config.reach)
        with torch.inference_mode():
            logits = self.network.decode(
                [f.repeat_interleave(n, dim=0) for f in features],
                torch.from_numpy(prompts)[None].expand(batch * n, -1, -1, -1).to(self.device),
                torch.arange(n, device=self.device).repeat(batch),
            )
            probability = torch.sigmoid(to_image(logits, geometry))[:, 0]
            embeddings = _pooled(features[-1], geometry) if embed else None
        probability = probability.to("cpu", torch.float32).numpy()
        probability = probability.reshape(batch, n, *geometry.image_shape)
        values = np.array([c.value for c in classes], dtype=np.uint8)
        names = [c.name for c in classes]
        results = []
        for b in range(batch):
            p = probability[b]
            results.append(
                Segmentation(
                    labels=self.automatic.labels(p, names, values),
                    probability=p,
                    confidence={c.name: float(p[k].max()) for k, c in enumerate(classes)},
                    embedding=None if embeddings is None else embeddings[b],
                    uncertainty=uncertainty(p),
                )
            )
        return results

    def _probabilities(
        self, encoded: _Encoded, prompts: np.ndarray, indices: list[int]
    ) -> np.ndarray:
        """Probabilities (B, y, x) on the cutout's pixels for a batch of prompts."""
        batch = len(indices)
        with torch.inference_mode():
            features = [f.expand(batch, *f.shape[1:]) for f in encoded.features]
            logits = self.network.decode(
                features,
                torch.from_numpy(prompts).to(self.device),
                torch.tensor(indices, device=self.device),
            )
            probability = torch.sigmoid(to_image(logits, encoded.geometry))[:, 0]
        return probability.to("cpu", torch.float32).numpy()


def _pooled(features: torch.Tensor, geometry: Geometry) -> np.ndarray:
    """Mean of feature maps (B, C, y, x) over the cutout's part of the padded input."""
    height = math.ceil(geometry.working_shape[0] * features.shape[-2] / geometry.padded_shape[0])
    width = math.ceil(geometry.working_shape[1] * features.shape[-1] / geometry.padded_shape[1])
    pooled = features[..., :height, :width].mean(dim=(-2, -1))
    return pooled.to("cpu", torch.float32).numpy()


def _as_mask(strokes: np.ndarray, shape: tuple[int, int], what: str) -> np.ndarray:
    array = np.asarray(strokes)
    if array.shape != shape:
        raise GalsegError(f"{what} have shape {array.shape}, the image {shape}")
    return array if array.dtype == bool else array != 0


def _probability(previous: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    array = np.asarray(previous)
    if array.shape != shape:
        raise GalsegError(f"the previous completion has shape {array.shape}, the image {shape}")
    array = array.astype(np.float32)
    if not (np.isfinite(array).all() and array.min() >= 0.0 and array.max() <= 1.0):
        raise GalsegError("the previous completion must be a mask or probabilities in [0, 1]")
    return array


def load_assistant(
    checkpoint: str | Path | Checkpoint | None = None,
    device: str = "auto",
    *,
    cache: FeatureCache | None = None,
) -> Assistant:
    """Load a completion assistant.

    Parameters
    ----------
    checkpoint : path-like or Checkpoint, optional
        A galseg checkpoint (``.safetensors`` with its model card beside it).
        By default the one shipped with galseg (:data:`SHIPPED_CHECKPOINT`).
    device : str
        ``"auto"`` (CUDA when available, else the CPU), ``"cpu"`` or
        ``"cuda"``.
    cache : FeatureCache, optional
        Feature cache to use (see :class:`Assistant`).

    Returns
    -------
    Assistant

    Raises
    ------
    GalsegError
        If the checkpoint is missing or unreadable, holds no head, or the
        device is not available.

    Examples
    --------
    >>> import tempfile
    >>> from galseg.model import ModelConfig, build_network, save_checkpoint
    >>> from galseg.simulate import simulate_cutout
    >>> path = Path(tempfile.mkdtemp()) / "untrained.safetensors"
    >>> _ = save_checkpoint(path, build_network(ModelConfig()), ModelConfig())
    >>> assistant = load_assistant(path, device="cpu")
    >>> cutout, truth = simulate_cutout(1, size=64)
    >>> assistant.set_image(cutout)
    >>> completion = assistant.complete(truth == 5, truth == 0, label="contaminant")
    >>> completion.mask.shape, completion.probability.dtype
    ((64, 64), dtype('float32'))
    """
    if checkpoint is None:
        if not SHIPPED_CHECKPOINT.exists():
            raise GalsegError(
                f"no shipped checkpoint at {SHIPPED_CHECKPOINT}; train one with: {_TRAIN_COMMANDS}"
            )
        checkpoint = SHIPPED_CHECKPOINT
    if not isinstance(checkpoint, Checkpoint):
        checkpoint = read_checkpoint(checkpoint)
    return Assistant(checkpoint, device, cache=cache)
