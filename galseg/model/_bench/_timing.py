"""Latency: galseg's encoder and head, and Segment Anything ViT-B's for scale.

:meth:`Assistant.set_image` is timed once per cutout with an empty feature
cache, :meth:`Assistant.complete` at every stroke of every episode. Segment
Anything ViT-B (``segment-anything``, random weights: timing only) runs in the
same process on the same device: its image encoder on its 1024x1024 input,
and its prompt encoder plus mask decoder on 10 points and a previous
low-resolution mask, upscaled to the cutout's size as
``SamPredictor.predict`` does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
import time

import numpy as np
import torch

from ...cutout import Cutout
from ...errors import GalsegError
from .._assistant import Assistant

__all__ = ["Timing", "check_sam", "time_sam", "time_set_image"]


@dataclass(frozen=True)
class Timing:
    """Repeated timings of one operation.

    Attributes
    ----------
    name : str
        What was timed.
    seconds : tuple of float
        Each run.
    """

    name: str
    seconds: tuple[float, ...]

    @property
    def p50(self) -> float:
        """Median, in milliseconds."""
        return float(np.percentile(self.seconds, 50) * 1e3)

    @property
    def p95(self) -> float:
        """95th percentile, in milliseconds."""
        return float(np.percentile(self.seconds, 95) * 1e3)


def _timed(call: Callable[[], object], reps: int) -> tuple[float, ...]:
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return tuple(times)


def time_sam(
    device: torch.device | str = "cpu",
    *,
    encoder_reps: int = 3,
    decoder_reps: int = 20,
    image_size: int = 256,
) -> tuple[Timing, Timing]:
    """Time Segment Anything ViT-B (random weights) as in the module notes.

    Each part runs once untimed first.

    Parameters
    ----------
    device : torch.device or str
        Where to run it.
    encoder_reps, decoder_reps : int
        Timed runs of the image encoder and of prompt encoder + mask decoder.
    image_size : int
        Side of the cutout the decoder's mask is upscaled to.

    Returns
    -------
    encoder, decoder : Timing

    Raises
    ------
    GalsegError
        If ``segment-anything`` is not installed.
    """
    sam_model_registry = check_sam()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        sam = sam_model_registry["vit_b"](checkpoint=None).to(device).eval()
        side = sam.image_encoder.img_size
        image = torch.randn(1, 3, side, side).to(device)
        points = (torch.rand(1, 10, 2) * side).to(device)
        point_labels = torch.tensor([[1] * 5 + [0] * 5], device=device)
    with torch.inference_mode():
        embedding = sam.image_encoder(image)
        previous = torch.zeros(
            1, 1, 4 * embedding.shape[-2], 4 * embedding.shape[-1], device=device
        )

        def decode() -> torch.Tensor:
            sparse, dense = sam.prompt_encoder(
                points=(points, point_labels), boxes=None, masks=previous
            )
            low_res, _ = sam.mask_decoder(
                image_embeddings=embedding,
                image_pe=sam.prompt_encoder.get_dense_pe(),
                sparse_prompt_embeddings=sparse,
                dense_prompt_embeddings=dense,
                multimask_output=False,
            )
            return sam.postprocess_masks(low_res, (side, side), (image_size, image_size)) > 0

        decode()
        encoder = _timed(lambda: _synced(sam.image_encoder(image)), encoder_reps)
        decoder = _timed(lambda: _synced(decode()), decoder_reps)
    return (
        Timing(f"SAM ViT-B image encoder ({side}x{side})", encoder),
        Timing("SAM ViT-B prompt encoder + mask decoder", decoder),
    )


def check_sam():
    """``segment_anything.sam_model_registry``, or a GalsegError saying what to install."""
    try:
        from segment_anything import sam_model_registry
    except ImportError:
        raise GalsegError(
            "timing SAM needs segment-anything: pip install segment-anything (or use --no-sam)"
        ) from None
    return sam_model_registry


def _synced(result: torch.Tensor) -> torch.Tensor:
    if result.is_cuda:
        torch.cuda.synchronize(result.device)
    return result


def time_set_image(assistant: Assistant, cutout: Cutout) -> float:
    """Seconds of one :meth:`Assistant.set_image` with an empty cache."""
    assistant.cache.clear()
    start = time.perf_counter()
    assistant.set_image(cutout)
    if assistant.device.type == "cuda":
        torch.cuda.synchronize(assistant.device)
    return time.perf_counter() - start
