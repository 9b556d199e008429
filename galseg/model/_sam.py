"""Segment Anything as a second assistant, for users with a SAM checkpoint on disk.

:class:`SamAssistant` offers :class:`~galseg.model.Assistant`'s
``set_image`` / ``complete`` so assist mode can use it in the same preview /
accept / reject flow. SAM knows no classes: the strokes become point prompts
(foreground points spread along the positive strokes, background points along
the negative ones) and, optionally, a box; the label only names the class the
accepted mask is painted with. The cutout is shown to SAM as the same colour
composite the expert sees (:func:`galseg.stretch.rgb_planes` of the ``lsb``
preset, 8 bits). Weights load with ``torch.load(weights_only=True)`` from the
file given; nothing is downloaded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..cutout import Cutout
from ..errors import GalsegError
from ..stretch import normalize, rgb_planes
from ._assistant import Completion
from ._cache import FeatureCache
from ._device import resolve_device

__all__ = ["SAM_TYPES", "SamAssistant", "load_sam", "sam_model_type", "stroke_points"]

SAM_TYPES = {768: "vit_b", 1024: "vit_l", 1280: "vit_h"}
"""SAM's image-encoder width of each model type (how the type is read from a file)."""

_PATCH_EMBED = "image_encoder.patch_embed.proj.weight"


def sam_model_type(state: dict[str, torch.Tensor]) -> str:
    """The SAM model type (``"vit_b"``, ``"vit_l"`` or ``"vit_h"``) of a state dict.

    Raises
    ------
    GalsegError
        If the weights are not a SAM image encoder's of a known width.
    """
    weight = state.get(_PATCH_EMBED)
    width = None if weight is None else int(weight.shape[0])
    if width not in SAM_TYPES:
        raise GalsegError(
            f"not a Segment Anything checkpoint of a known type ({_PATCH_EMBED} width {width}; "
            f"known: {', '.join(f'{w} {t}' for w, t in SAM_TYPES.items())})"
        )
    return SAM_TYPES[width]


def stroke_points(strokes: np.ndarray, n: int) -> np.ndarray:
    """Up to ``n`` points spread over the stroke pixels (farthest-point sampling).

    Returns
    -------
    ndarray of float, shape (k, 2)
        ``(x, y)`` pixel coordinates (SAM's order), ``k <= n``.

    Examples
    --------
    >>> stroke = np.zeros((5, 9), bool); stroke[2, :] = True
    >>> stroke_points(stroke, 3).tolist()
    [[0.0, 2.0], [8.0, 2.0], [4.0, 2.0]]
    """
    pixels = np.argwhere(strokes)
    if len(pixels) == 0:
        return np.zeros((0, 2))
    chosen = [0]
    distance = np.hypot(*(pixels - pixels[0]).T)
    while len(chosen) < min(n, len(pixels)):
        far = int(distance.argmax())
        if distance[far] == 0:
            break
        chosen.append(far)
        distance = np.minimum(distance, np.hypot(*(pixels - pixels[far]).T))
    return pixels[chosen][:, ::-1].astype(float)


class SamAssistant:
    """Segment Anything behind the assist interface (see the module notes).

    Make one with :func:`load_sam`.

    Attributes
    ----------
    checkpoint_path : Path
    model_type : str
    device : torch.device
    threshold : float
    """

    points = 6
    """Most foreground (and most background) points taken from the strokes."""

    def __init__(
        self, sam: torch.nn.Module, path: Path, model_type: str, device: torch.device
    ) -> None:
        from segment_anything import SamPredictor

        self.checkpoint_path = path
        self.model_type = model_type
        self.device = device
        self.threshold = 0.5
        self._predictor = SamPredictor(sam)
        self._cache = FeatureCache(maxsize=4)  # content hash -> embedding (4 MB each for ViT-B)
        self._shape: tuple[int, int] | None = None

    def __repr__(self) -> str:
        return f"<SamAssistant {self.model_type} {self.checkpoint_path.name} on {self.device}>"

    def set_image(self, cutout: Cutout) -> None:
        """Embed the cutout's colour composite (the last 4 cutouts are kept)."""
        predictor, key = self._predictor, cutout.content_hash
        embedding = self._cache.get(key)
        if embedding is not None:
            predictor.features, predictor.original_size, predictor.input_size = embedding
            predictor.is_image_set = True
        else:
            planes = rgb_planes(normalize(cutout, "lsb"))
            rgb = np.ascontiguousarray(np.moveaxis(planes, 0, -1) * 255).astype(np.uint8)
            with torch.inference_mode():
                predictor.set_image(rgb)
            self._cache.put(
                key, (predictor.features, predictor.original_size, predictor.input_size)
            )
        self._shape = cutout.image_shape

    def complete(
        self,
        positive: np.ndarray,
        negative: np.ndarray,
        label: int | str | None = None,
        previous: np.ndarray | None = None,
        *,
        box: tuple[float, float, float, float] | None = None,
    ) -> Completion:
        """SAM's mask for points along the strokes (and a box ``(x0, y0, x1, y1)`` if given).

        ``label`` and ``previous`` are accepted for the common interface; SAM
        does not use them.

        Raises
        ------
        GalsegError
            If no image is set, the shapes differ from it, or there is no prompt.
        """
        if self._shape is None:
            raise GalsegError("no image: call set_image(cutout) before completing strokes")
        positive, negative = np.asarray(positive, bool), np.asarray(negative, bool)
        if positive.shape != self._shape or negative.shape != self._shape:
            raise GalsegError(f"strokes have shape {positive.shape}, the image {self._shape}")
        fg, bg = stroke_points(positive, self.points), stroke_points(negative, self.points)
        if not len(fg) and box is None:
            raise GalsegError("SAM needs a positive stroke or a box")
        coords = np.concatenate([fg, bg]) if len(fg) + len(bg) else None
        labels = np.r_[np.ones(len(fg)), np.zeros(len(bg))] if coords is not None else None
        with torch.inference_mode():
            logits, _, _ = self._predictor.predict(
                point_coords=coords,
                point_labels=labels,
                box=None if box is None else np.asarray(box, dtype=float),
                multimask_output=False,
                return_logits=True,
            )
        probability = (1.0 / (1.0 + np.exp(-np.clip(logits[0], -30, 30)))).astype(np.float32)
        return Completion(mask=probability >= self.threshold, probability=probability)


def load_sam(path: str | Path, model_type: str | None = None, device: str = "auto") -> SamAssistant:
    """Load a Segment Anything checkpoint (the ``sam_vit_*.pth`` files Meta publishes).

    Parameters
    ----------
    path : path-like
        The checkpoint: a state dict saved with ``torch.save``.
    model_type : str, optional
        ``"vit_b"``, ``"vit_l"`` or ``"vit_h"``; read from the weights by default.
    device : str
        ``"auto"``, ``"cpu"`` or ``"cuda"``.

    Raises
    ------
    GalsegError
        If segment-anything is not installed, or the file is missing, not a
        SAM checkpoint, or not of ``model_type``.
    """
    try:
        from segment_anything import sam_model_registry
    except ImportError:
        raise GalsegError("SAM needs segment-anything: pip install segment-anything") from None
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise GalsegError(f"{path}: no such SAM checkpoint") from None
    except Exception as exc:  # torch raises many kinds on a file that is not a state dict
        raise GalsegError(f"{path}: not a readable SAM checkpoint ({exc})") from None
    if not isinstance(state, dict):
        raise GalsegError(f"{path}: not a SAM checkpoint (no state dict)")
    try:
        found = sam_model_type(state)
    except GalsegError as exc:
        raise GalsegError(f"{path}: {exc}") from None
    if model_type is not None and model_type != found:
        raise GalsegError(f"{path}: holds a SAM {found}, not {model_type}")
    sam = sam_model_registry[found](checkpoint=None)
    try:
        sam.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise GalsegError(f"{path}: the SAM {found} weights do not fit: {first}") from None
    dev = resolve_device(device)
    return SamAssistant(sam.to(dev).eval(), path, found, dev)
