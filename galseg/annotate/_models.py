"""The assistants a session can offer: functions that load a model, nothing loaded yet."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
import importlib
import importlib.util
import os
from pathlib import Path
from types import ModuleType
from typing import Any

from ..errors import GalsegError

__all__ = ["assistants", "limit_model_threads"]


def assistants(
    checkpoint: str | os.PathLike | None = None,
    sam_checkpoint: str | os.PathLike | None = None,
    sam_model_type: str | None = None,
    *,
    import_model: Callable[[], ModuleType] | None = None,
) -> dict[str, Callable[[], Any]]:
    """The assistants assist mode offers, by name: ``load()`` functions, nothing loaded yet.

    galseg (the checkpoint, or the shipped model) and, given a SAM checkpoint,
    Segment Anything. Empty when galseg's model extra (torch) is not installed.

    Parameters
    ----------
    checkpoint, sam_checkpoint : path-like, optional
        Checkpoint files; the shipped galseg model by default, no SAM.
    sam_model_type : str, optional
        ``vit_b``, ``vit_l`` or ``vit_h``; read from the file by default.
    import_model : callable, optional
        Returns :mod:`galseg.model` (a GUI may need to import it its own way);
        called by ``load()``, in the thread that loads.

    Raises
    ------
    GalsegError
        If a checkpoint file given does not exist, or one is given without torch.

    Examples
    --------
    >>> sorted(assistants()) in ([], ["galseg"])  # empty without torch
    True
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
    importer = import_model or partial(importlib.import_module, "galseg.model")
    models: dict[str, Callable[[], Any]] = {
        "galseg": partial(_load_galseg, importer, None if checkpoint is None else Path(checkpoint))
    }
    if sam_checkpoint is not None:
        models["Segment Anything"] = partial(
            _load_sam, importer, Path(sam_checkpoint), sam_model_type
        )
    return models


def limit_model_threads(threads: int | None = None) -> int:
    """Cap torch's threads so that a user interface keeps a core of its own.

    Parameters
    ----------
    threads : int, optional
        Default: one less than the CPU cores, at least one.

    Returns
    -------
    int
        The cap set (0 if torch is not imported: nothing to cap).
    """
    import sys

    torch = sys.modules.get("torch")
    if torch is None:
        return 0
    threads = threads or max(1, (os.cpu_count() or 1) - 1)
    torch.set_num_threads(threads)
    return threads


def _load_galseg(importer: Callable[[], ModuleType], checkpoint: Path | None):
    return importer().load_assistant(checkpoint)


def _load_sam(importer: Callable[[], ModuleType], checkpoint: Path, model_type: str | None):
    return importer().load_sam(checkpoint, model_type)
