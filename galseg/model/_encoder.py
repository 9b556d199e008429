"""The encoder: a timm backbone giving multi-scale features, weights from local files only.

galseg's own encoder is ``resnet10t`` cut after its fourth stage (features at
strides 2, 4, 8 and 16; 1.25 M parameters). Any timm architecture that works
with ``features_only=True`` can be used instead, from a folder in timm's
Hugging Face layout — the layout in which the Zoobot Galaxy Zoo encoders are
published::

    encoder/
      config.json          {"architecture": "convnext_nano",
                            "pretrained_cfg": {"input_size": [3, 224, 224],
                                               "mean": [...], "std": [...], ...}}
      model.safetensors

Nothing is ever downloaded: the weights are read here and handed to timm as a
state dict. A folder with only ``pytorch_model.bin`` (a pickle) is refused:
weights are data, and galseg never unpickles them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
import json
from pathlib import Path

from safetensors import SafetensorError
from safetensors.torch import load_file
import timm
import torch
from torch import nn

from ..errors import GalsegError
from ._preprocess import Preprocessing

__all__ = [
    "DEFAULT_ARCHITECTURE",
    "DEFAULT_OUT_INDICES",
    "MAX_STRIDE",
    "TimmEncoder",
    "create_encoder",
    "read_timm_folder",
]

DEFAULT_ARCHITECTURE = "resnet10t"
"""timm architecture of galseg's own encoder."""

DEFAULT_OUT_INDICES = (0, 1, 2, 3)
"""Feature levels of galseg's own encoder (strides 2, 4, 8, 16)."""

MAX_STRIDE = 16
"""Feature levels of a folder encoder are those with at most this stride."""

_WEIGHTS = "model.safetensors"
_PICKLED_WEIGHTS = "pytorch_model.bin"


@dataclass(frozen=True)
class TimmEncoder:
    """An encoder read from a folder in timm's Hugging Face layout.

    Attributes
    ----------
    architecture : str
        timm model name.
    out_indices : tuple of int
        Its feature levels with stride at most :data:`MAX_STRIDE`.
    preprocessing : Preprocessing
        Channels, mean and standard deviation from ``pretrained_cfg``.
    state_dict : dict of str to Tensor
        Weights of the whole timm model (classifier removed).
    """

    architecture: str
    out_indices: tuple[int, ...]
    preprocessing: Preprocessing
    state_dict: Mapping[str, torch.Tensor]

    def create(self) -> nn.Module:
        """The ``features_only`` encoder with these weights."""
        return create_encoder(
            self.architecture,
            self.preprocessing.in_chans,
            self.out_indices,
            pretrained=self.state_dict,
        )


def create_encoder(
    architecture: str,
    in_chans: int,
    out_indices: Sequence[int],
    *,
    pretrained: Mapping[str, torch.Tensor] | None = None,
) -> nn.Module:
    """A timm backbone with ``features_only=True``.

    Parameters
    ----------
    architecture : str
        timm model name.
    in_chans : int
        Input channels.
    out_indices : sequence of int
        Feature levels to return.
    pretrained : mapping of str to Tensor, optional
        Weights of the *whole* timm model (as in a timm folder); they are
        loaded before the model is cut to its features. Without them the
        weights are random (to be replaced by a galseg checkpoint's).

    Returns
    -------
    torch.nn.Module
        Its ``feature_info`` gives the channels and strides of the levels.

    Raises
    ------
    GalsegError
        If timm has no such architecture.

    Examples
    --------
    >>> encoder = create_encoder("resnet10t", 3, (0, 1, 2, 3))
    >>> encoder.feature_info.reduction()
    [2, 4, 8, 16]
    """
    if not timm.is_model(architecture):
        raise GalsegError(f"timm has no architecture {architecture!r}")
    options: dict = {}
    if pretrained is not None:
        if not pretrained:
            raise GalsegError(f"{architecture}: no weights given")
        # A state dict in pretrained_cfg is loaded as is: timm never goes to the network.
        options = {"pretrained": True, "pretrained_cfg_overlay": {"state_dict": dict(pretrained)}}
    return timm.create_model(
        architecture,
        features_only=True,
        out_indices=tuple(out_indices),
        in_chans=in_chans,
        **options,
    )


def read_timm_folder(path: str | Path) -> TimmEncoder:
    """Read an encoder saved in timm's Hugging Face layout.

    Parameters
    ----------
    path : path-like
        A folder with ``config.json`` (``architecture`` and ``pretrained_cfg``
        with ``input_size``, ``mean`` and ``std``) and ``model.safetensors``.

    Returns
    -------
    TimmEncoder

    Raises
    ------
    GalsegError
        If a file is missing or unreadable, the architecture is unknown, or
        the weights do not fit it.

    Examples
    --------
    >>> import json, tempfile, timm
    >>> from pathlib import Path
    >>> from safetensors.torch import save_file
    >>> folder = Path(tempfile.mkdtemp())
    >>> model = timm.create_model("resnet10t", num_classes=0)
    >>> save_file(model.state_dict(), folder / "model.safetensors")
    >>> cfg = {"input_size": [3, 224, 224], "mean": [0.5] * 3, "std": [0.25] * 3}
    >>> _ = (folder / "config.json").write_text(
    ...     json.dumps({"architecture": "resnet10t", "pretrained_cfg": cfg}))
    >>> encoder = read_timm_folder(folder)
    >>> encoder.out_indices, encoder.preprocessing.mean
    ((0, 1, 2, 3), (0.5, 0.5, 0.5))
    """
    folder = Path(path)
    config = _read_config(folder)
    architecture = config.get("architecture")
    cfg = config.get("pretrained_cfg")
    if not isinstance(architecture, str) or not isinstance(cfg, dict):
        raise GalsegError(f"{folder / 'config.json'}: needs 'architecture' and 'pretrained_cfg'")
    if not timm.is_model(architecture):
        raise GalsegError(f"{folder / 'config.json'}: timm has no architecture {architecture!r}")
    try:
        in_chans = int(cfg["input_size"][0])
        preprocessing = Preprocessing(in_chans=in_chans, mean=cfg["mean"], std=cfg["std"])
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise GalsegError(
            f"{folder / 'config.json'}: pretrained_cfg needs input_size, mean and std ({exc!r})"
        ) from None
    except GalsegError as exc:
        raise GalsegError(f"{folder / 'config.json'}: {exc}") from None
    state_dict = _without_classifier(_read_weights(folder), cfg.get("classifier"))
    model = timm.create_model(architecture, num_classes=0, in_chans=in_chans)
    _check_fits(model, state_dict, folder, architecture)
    levels = tuple(
        i for i, level in enumerate(model.feature_info) if level["reduction"] <= MAX_STRIDE
    )
    return TimmEncoder(architecture, levels, preprocessing, state_dict)


def _read_config(folder: Path) -> dict:
    if not folder.is_dir():
        raise GalsegError(f"{folder}: not a folder (an encoder in timm's layout is a folder)")
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GalsegError(f"{folder}: no config.json (not an encoder in timm's layout)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GalsegError(f"{folder / 'config.json'}: unreadable ({exc})") from None
    if not isinstance(config, dict):
        raise GalsegError(f"{folder / 'config.json'}: not a JSON object")
    return config


def _read_weights(folder: Path) -> dict[str, torch.Tensor]:
    path = folder / _WEIGHTS
    if not path.exists():
        if (folder / _PICKLED_WEIGHTS).exists():
            raise GalsegError(
                f"{folder}: has {_PICKLED_WEIGHTS}, a pickle, and no {_WEIGHTS}; galseg reads "
                "weights from safetensors only, since a pickle can run code (Zoobot's and "
                f"timm's Hugging Face folders have {_WEIGHTS})"
            )
        raise GalsegError(f"{folder}: no weights ({_WEIGHTS})")
    try:
        return load_file(path)
    except (OSError, SafetensorError, ValueError) as exc:
        raise GalsegError(f"{path}: cannot read the weights ({exc})") from None


def _without_classifier(
    state_dict: dict[str, torch.Tensor], classifier: str | Sequence[str] | None
) -> dict[str, torch.Tensor]:
    """The weights without the classifier named in ``pretrained_cfg``."""
    names = (classifier,) if isinstance(classifier, str) else tuple(classifier or ())
    drop = {f"{name}.{part}" for name in names for part in ("weight", "bias")}
    return {k: v for k, v in state_dict.items() if k not in drop}


def _check_fits(
    model: nn.Module, state_dict: Mapping[str, torch.Tensor], folder: Path, architecture: str
) -> None:
    """Refuse weights that do not fill the model exactly (timm loads them leniently)."""
    try:
        result = model.load_state_dict(state_dict, strict=False)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[-1].strip()
        raise GalsegError(f"{folder}: the weights do not fit {architecture}: {first}") from None
    for what, keys in (("missing", result.missing_keys), ("unexpected", result.unexpected_keys)):
        if keys:
            shown = ", ".join(keys[:3]) + (", ..." if len(keys) > 3 else "")
            raise GalsegError(
                f"{folder}: the weights do not fit {architecture}: {len(keys)} {what} "
                f"tensors ({shown})"
            )
