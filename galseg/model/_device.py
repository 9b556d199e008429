"""Choosing the device the network runs on."""

from __future__ import annotations

import torch

from ..errors import GalsegError

__all__ = ["resolve_device"]


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """The torch device for a user's choice.

    Parameters
    ----------
    device : str or torch.device
        ``"auto"`` (CUDA when available, else the CPU), ``"cpu"``, ``"cuda"``
        or ``"cuda:N"``.

    Raises
    ------
    GalsegError
        If the name is unknown, or CUDA is asked for but not available.

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        chosen = torch.device(device)
    except (RuntimeError, TypeError):
        raise GalsegError(f"unknown device {device!r}; use 'auto', 'cpu' or 'cuda'") from None
    if chosen.type not in ("cpu", "cuda"):
        raise GalsegError(f"unsupported device {device!r}; use 'auto', 'cpu' or 'cuda'")
    if chosen.type == "cuda":
        if not torch.cuda.is_available():
            raise GalsegError(f"device {device!r}: CUDA is not available here; use 'cpu' or 'auto'")
        if chosen.index is not None and chosen.index >= torch.cuda.device_count():
            raise GalsegError(
                f"device {device!r}: only {torch.cuda.device_count()} CUDA device(s) here"
            )
    return chosen
