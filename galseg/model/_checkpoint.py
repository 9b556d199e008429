"""The checkpoint format: safetensors weights with the configuration inside, and a model card.

A checkpoint ``NAME.safetensors`` holds the tensors ``encoder.*`` (the timm
``features_only`` encoder) and, once a head is trained, ``head.*``; its
safetensors metadata has one entry, ``galseg``: a JSON object with ``format``
(``"galseg-checkpoint"``), ``format_version`` and ``config`` (the
:class:`ModelConfig`), so the one file is all a network needs. (One entry
with sorted keys, so that the same weights and configuration always give the
same bytes.) Beside it, ``NAME.json`` is the model card
for people: the weights' SHA-256, the configuration, and whatever the trainer
recorded (data, command, seeds, losses, benchmark figures).

A checkpoint's identity is the SHA-256 of its weights file: it changes with
any weight or any setting that affects the output, and it keys the feature
cache. Loading never unpickles anything: a pickle (what ``torch.save``
writes) given as a checkpoint is refused, unread. The identity, the header
and the card are read by :func:`galseg.checkpoint_info.inspect_checkpoint`,
without torch; :func:`read_checkpoint` adds the tensors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
import hashlib
import json
from pathlib import Path
from typing import Any

from safetensors import SafetensorError, safe_open
from safetensors.torch import save
import torch

from .._atomic import write_file
from ..checkpoint_info import FORMAT, FORMAT_VERSION, card_path, inspect_checkpoint
from ..errors import GalsegError
from ._network import ModelConfig, Network, build_network

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "Checkpoint",
    "PackedCheckpoint",
    "card_path",
    "pack_checkpoint",
    "read_checkpoint",
    "record_in_card",
    "save_checkpoint",
    "write_checkpoint",
]


@dataclass(frozen=True, eq=False)
class Checkpoint:
    """A checkpoint read from (or just written to) disk.

    Attributes
    ----------
    path : Path
        The weights file.
    config : ModelConfig
        The network's configuration.
    tensors : dict of str to Tensor
        ``encoder.*`` and, if trained, ``head.*`` weights (on the CPU).
    identity : str
        SHA-256 of the weights file.
    card : dict
        The model card (empty if there is no card file).
    """

    path: Path
    config: ModelConfig
    tensors: Mapping[str, torch.Tensor]
    identity: str
    card: Mapping[str, Any] = field(default_factory=dict)

    @property
    def has_head(self) -> bool:
        """Whether the checkpoint holds a trained head (not only an encoder)."""
        return any(name.startswith("head.") for name in self.tensors)

    def network(self, *, head: bool = True) -> Network:
        """Build the network with these weights.

        Parameters
        ----------
        head : bool
            Require the head's weights (else an encoder-only checkpoint gives
            a network with a fresh head).

        Raises
        ------
        GalsegError
            If the head is required but missing, or the weights do not fit the
            configuration.
        """
        if head and not self.has_head:
            raise GalsegError(
                f"{self.path}: holds only an encoder; train a head on it with "
                f"'galseg train head --encoder {self.path} --out CKPT'"
            )
        network = build_network(self.config)
        for part, module in (("encoder", network.encoder), ("head", network.head)):
            prefix = f"{part}."
            weights = {k[len(prefix) :]: v for k, v in self.tensors.items() if k.startswith(prefix)}
            if part == "head" and not weights:
                continue
            try:
                module.load_state_dict(weights, strict=True)
            except RuntimeError as exc:
                first = str(exc).strip().splitlines()[0]
                raise GalsegError(f"{self.path}: the {part} weights do not fit: {first}") from None
        return network


def save_checkpoint(
    path: str | Path,
    network: Network,
    config: ModelConfig,
    card: Mapping[str, Any] | None = None,
    *,
    head: bool = True,
) -> Checkpoint:
    """Write a network as a checkpoint and its model card.

    Both files are written atomically (a crash leaves the old file or the new
    one).

    Parameters
    ----------
    path : path-like
        The weights file, ending in ``.safetensors``; the card goes beside it
        (:func:`card_path`).
    network : Network
        The network (any device).
    config : ModelConfig
        Its configuration.
    card : mapping, optional
        What to record for people (JSON-serialisable): training data, command,
        seeds, losses, benchmark figures.
    head : bool
        Save the head too (False for an encoder-only checkpoint).

    Returns
    -------
    Checkpoint
        As :func:`read_checkpoint` would read it.

    Raises
    ------
    GalsegError
        If the path does not end in ``.safetensors`` or cannot be written.

    Examples
    --------
    >>> import tempfile
    >>> from galseg.model._network import ModelConfig, build_network
    >>> path = Path(tempfile.mkdtemp()) / "tiny.safetensors"
    >>> config = ModelConfig()
    >>> saved = save_checkpoint(path, build_network(config), config, {"note": "untrained"})
    >>> again = read_checkpoint(path)
    >>> again.identity == saved.identity, again.card["note"], again.has_head
    (True, 'untrained', True)
    """
    return write_checkpoint(pack_checkpoint(path, network, config, card, head=head))


@dataclass(frozen=True, eq=False)
class PackedCheckpoint:
    """A checkpoint in memory, with the bytes its files will hold (:func:`pack_checkpoint`).

    Attributes
    ----------
    checkpoint : Checkpoint
        As :func:`read_checkpoint` will read it once written (an assistant
        runs on it already).
    weights : bytes
        The safetensors file.
    """

    checkpoint: Checkpoint
    weights: bytes


def pack_checkpoint(
    path: str | Path,
    network: Network,
    config: ModelConfig,
    card: Mapping[str, Any] | None = None,
    *,
    head: bool = True,
) -> PackedCheckpoint:
    """A network as the checkpoint :func:`save_checkpoint` would write, without writing it.

    Parameters are those of :func:`save_checkpoint`: a trainer can judge the
    checkpoint (run an assistant on it) before deciding to write it with
    :func:`write_checkpoint`.

    Raises
    ------
    GalsegError
        If the path does not end in ``.safetensors``.

    Examples
    --------
    >>> from galseg.model._network import ModelConfig, build_network
    >>> config = ModelConfig()
    >>> packed = pack_checkpoint("nowhere/tiny.safetensors", build_network(config), config)
    >>> packed.checkpoint.has_head, Path("nowhere").exists()
    (True, False)
    """
    path = Path(path)
    if path.suffix != ".safetensors":
        raise GalsegError(f"{path}: a checkpoint file name ends in .safetensors")
    parts = {"encoder": network.encoder} | ({"head": network.head} if head else {})
    tensors = {
        f"{part}.{name}": tensor.detach().to("cpu").contiguous()
        for part, module in parts.items()
        for name, tensor in module.state_dict().items()
    }
    header = {"format": FORMAT, "format_version": FORMAT_VERSION, "config": config.to_dict()}
    data = save(tensors, metadata={"galseg": json.dumps(header, sort_keys=True)})
    identity = hashlib.sha256(data).hexdigest()
    full_card = {
        "weights": path.name,
        "sha256": identity,
        "config": config.to_dict(),
        **dict(card or {}),
    }
    return PackedCheckpoint(Checkpoint(path, config, tensors, identity, full_card), data)


def write_checkpoint(packed: PackedCheckpoint) -> Checkpoint:
    """Write a packed checkpoint and its model card, each atomically.

    Raises
    ------
    GalsegError
        If the files cannot be written.
    """
    checkpoint = packed.checkpoint
    path = checkpoint.path
    try:
        write_file(path, packed.weights)
        write_file(card_path(path), (json.dumps(dict(checkpoint.card), indent=2) + "\n").encode())
    except OSError as exc:
        raise GalsegError(f"{path}: cannot write the checkpoint ({exc.strerror or exc})") from None
    return checkpoint


def record_in_card(path: str | Path, key: str, value: Any) -> dict[str, Any]:
    """Add or replace one entry of a checkpoint's model card, atomically.

    The weights are untouched (so is the checkpoint's identity); the card is
    checked to describe them before it is rewritten.

    Parameters
    ----------
    path : path-like
        The ``.safetensors`` weights file.
    key : str
        The card entry (e.g. ``"benchmark"``).
    value : JSON-serialisable
        Its new value.

    Returns
    -------
    dict
        The new card.

    Raises
    ------
    GalsegError
        If the checkpoint or its card is unreadable, or the card cannot be written.
    """
    checkpoint = read_checkpoint(path)
    card = {**dict(checkpoint.card), key: value}
    if not checkpoint.card:
        card = {"weights": checkpoint.path.name, "sha256": checkpoint.identity, **card}
    where = card_path(checkpoint.path)
    try:
        write_file(where, (json.dumps(card, indent=2) + "\n").encode())
    except OSError as exc:
        raise GalsegError(f"{where}: cannot write the model card ({exc.strerror or exc})") from None
    return card


def read_checkpoint(path: str | Path) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint`.

    Parameters
    ----------
    path : path-like
        The ``.safetensors`` weights file.

    Returns
    -------
    Checkpoint

    Raises
    ------
    GalsegError
        If the file is missing, a pickle (never unpickled: pickles can run
        code), not a galseg checkpoint, of a newer format, or its model card
        describes other weights.

    Examples
    --------
    >>> import tempfile, torch
    >>> path = Path(tempfile.mkdtemp()) / "weights.pt"
    >>> torch.save({"w": torch.zeros(2)}, path)
    >>> read_checkpoint(path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    galseg.errors.GalsegError: .../weights.pt: a pickle file (as torch.save writes), not ...
    """
    info = inspect_checkpoint(path)
    try:
        with safe_open(info.path, framework="pt", device="cpu") as weights:
            tensors = {name: weights.get_tensor(name) for name in weights.keys()}
    except (OSError, SafetensorError) as exc:
        raise GalsegError(f"{info.path}: not a readable safetensors file ({exc})") from None
    config = ModelConfig.from_dict(info.config)
    return Checkpoint(info.path, config, tensors, info.identity, info.card)
