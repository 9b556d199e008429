"""The assistants assist mode can offer, and importing the model safely inside napari."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
import importlib.util
import os
from pathlib import Path
import sys
from typing import Any

from galseg.errors import GalsegError

__all__ = ["assistants", "import_model"]


def assistants(
    checkpoint: str | os.PathLike | None = None,
    sam_checkpoint: str | os.PathLike | None = None,
    sam_model_type: str | None = None,
) -> dict[str, Callable[[], Any]]:
    """The assistants assist mode offers, by name: ``load()`` functions, nothing loaded yet.

    galseg (the checkpoint, or the shipped model) and, given a SAM checkpoint,
    Segment Anything. Empty when galseg's model extra (torch) is not installed.

    Raises
    ------
    GalsegError
        If a checkpoint file given does not exist, or one is given without torch.
    """
    for path in (checkpoint, sam_checkpoint):
        if path is not None and not Path(path).is_file():
            raise GalsegError(f"{path}: no such checkpoint file")
    if importlib.util.find_spec("torch") is None:
        if checkpoint is not None or sam_checkpoint is not None:
            raise GalsegError(
                "the checkpoint needs galseg's model extra (torch): pip install 'galseg[model]'"
            )
        return {}
    models: dict[str, Callable[[], Any]] = {
        "galseg": partial(_load_galseg, None if checkpoint is None else Path(checkpoint))
    }
    if sam_checkpoint is not None:
        models["Segment Anything"] = partial(_load_sam, Path(sam_checkpoint), sam_model_type)
    return models


def _load_galseg(checkpoint: Path | None):
    return import_model().load_assistant(checkpoint)  # torch loads here, in the worker


def _load_sam(checkpoint: Path, model_type: str | None):
    return import_model().load_sam(checkpoint, model_type)


def import_model():
    """Import :mod:`galseg.model` inside napari, keeping torch from loading triton.

    napari has an OpenGL context; with Mesa's software renderer (llvmpipe:
    Xvfb, remote desktops, machines without a GPU driver) that context has
    loaded Mesa's LLVM, and triton's own LLVM, which torch imports along with
    ``torch._dynamo`` (timm -> torchvision -> torch._dynamo), then crashes the
    process (a segfault in ``triton/knobs.py``). galseg never compiles with
    triton, so while galseg.model is imported for the first time torch is told
    triton is absent (``torch.utils._triton.has_triton_package`` remembers
    that); torch.compile's triton backend is then unavailable in this process.
    """
    if "triton" in sys.modules or "galseg.model" in sys.modules:
        import galseg.model

        return galseg.model
    sys.modules["triton"] = None  # type: ignore[assignment]  # "import triton" fails
    try:
        import galseg.model
    finally:
        if sys.modules.get("triton", False) is None:
            del sys.modules["triton"]
    return galseg.model
