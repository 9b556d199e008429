"""Importing galseg's model inside napari without loading triton."""

from __future__ import annotations

import sys

__all__ = ["import_model"]


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
