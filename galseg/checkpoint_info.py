"""What a checkpoint file says about itself, read without torch: identity, header and card.

A galseg checkpoint is a safetensors file: 8 bytes giving the length ``n`` of
a JSON header (little-endian), the header (the tensors' names, types and
offsets, and the ``__metadata__`` entry ``galseg`` with the format and the
model's configuration), then the tensors' bytes. Everything but the tensors
can be read with the standard library, which is all a catalogue run needs to
tell whether a store is done already (the checkpoint's SHA-256 and classes):
it then never imports torch. :func:`galseg.model.read_checkpoint` reads the
same file through :func:`inspect_checkpoint`, and the tensors too.

A pickle (what ``torch.save`` writes) given as a checkpoint is refused,
unread: unpickling can run code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
import hashlib
import json
import os
from pathlib import Path
import struct
from typing import Any, BinaryIO

from .errors import GalsegError
from .taxonomy import Taxonomy

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "SHIPPED_CHECKPOINT",
    "CheckpointInfo",
    "card_path",
    "inspect_checkpoint",
]

FORMAT = "galseg-checkpoint"
"""The ``format`` entry of a checkpoint's safetensors metadata."""

FORMAT_VERSION = 1
"""Version of the checkpoint format written by this galseg."""

SHIPPED_CHECKPOINT = Path(__file__).parent / "model" / "weights" / "galseg-assist.safetensors"
"""The checkpoint that ships with galseg (its model card is ``galseg-assist.json``)."""

_PICKLE_STARTS = (b"PK\x03\x04", b"\x80")
"""How pickles begin: ``torch.save``'s zip archive, or a bare pickle (protocol 2 or later)."""

_MAX_HEADER = 100_000_000
"""Longest safetensors header read (the safetensors library's own limit)."""


@dataclass(frozen=True, eq=False)
class CheckpointInfo:
    """A checkpoint's identity, configuration and model card, without its tensors.

    Attributes
    ----------
    path : Path
        The weights file.
    identity : str
        SHA-256 of the weights file.
    config : dict
        The network's configuration, as :meth:`galseg.model.ModelConfig.to_dict`
        wrote it.
    card : dict
        The model card (empty if there is no card file).
    """

    path: Path
    identity: str
    config: Mapping[str, Any]
    card: Mapping[str, Any] = field(default_factory=dict)

    @property
    def taxonomy(self) -> Taxonomy:
        """The classes the model predicts.

        Raises
        ------
        GalsegError
            If the configuration has no readable taxonomy.
        """
        try:
            return Taxonomy.from_dict(self.config["taxonomy"])
        except (KeyError, TypeError, GalsegError) as exc:
            raise GalsegError(f"{self.path}: malformed model configuration ({exc})") from None


def card_path(path: str | os.PathLike[str]) -> Path:
    """The model card beside a weights file: ``NAME.json`` for ``NAME.safetensors``.

    Examples
    --------
    >>> card_path("models/galseg-assist.safetensors").as_posix()
    'models/galseg-assist.json'
    """
    return Path(path).with_suffix(".json")


def inspect_checkpoint(path: str | os.PathLike[str]) -> CheckpointInfo:
    """Read a checkpoint's identity, configuration and card, leaving its tensors unread.

    The whole file is hashed (its identity); of the rest only the header is
    read. The tensors' bytes are not checked: :func:`galseg.model.read_checkpoint`
    reads them.

    Parameters
    ----------
    path : path-like
        The ``.safetensors`` weights file.

    Returns
    -------
    CheckpointInfo

    Raises
    ------
    GalsegError
        If the file is missing, a pickle (never unpickled), not a safetensors
        file, not a galseg checkpoint, of a newer format or without a
        configuration, or its model card describes other weights.

    Examples
    --------
    >>> info = inspect_checkpoint(SHIPPED_CHECKPOINT)
    >>> len(info.identity), info.card["sha256"] == info.identity
    (64, True)
    >>> "tidal_stream" in [c.name for c in info.taxonomy.feature_classes]
    True
    """
    path = Path(path)
    try:
        with open(path, "rb") as file:
            if file.read(4).startswith(_PICKLE_STARTS):
                raise GalsegError(
                    f"{path}: a pickle file (as torch.save writes), not a safetensors "
                    "checkpoint; galseg never unpickles a checkpoint, since a pickle can run "
                    "code. Use a checkpoint that galseg wrote (.safetensors)"
                )
            file.seek(0)
            metadata = _safetensors_metadata(file, path)
            file.seek(0)
            identity = hashlib.file_digest(file, "sha256").hexdigest()
    except FileNotFoundError:
        raise GalsegError(f"{path}: no such checkpoint") from None
    except OSError as exc:
        raise GalsegError(f"{path}: not a readable safetensors file ({exc})") from None
    try:
        header = json.loads(metadata["galseg"])
        is_galseg = header["format"] == FORMAT
    except (KeyError, TypeError, json.JSONDecodeError):
        is_galseg = False
    if not is_galseg:
        raise GalsegError(f"{path}: not a galseg checkpoint (no '{FORMAT}' metadata)")
    if int(header.get("format_version", 0)) > FORMAT_VERSION:
        raise GalsegError(
            f"{path}: checkpoint format {header['format_version']} is newer than this galseg "
            f"reads ({FORMAT_VERSION}); upgrade galseg"
        )
    if not isinstance(header.get("config"), dict):
        raise GalsegError(f"{path}: the checkpoint has no model configuration")
    return CheckpointInfo(path, identity, header["config"], _read_card(path, identity))


def _safetensors_metadata(file: BinaryIO, path: Path) -> dict[str, Any]:
    """The ``__metadata__`` entry of a safetensors header (empty if it has none)."""
    size = os.fstat(file.fileno()).st_size
    start = file.read(8)
    (length,) = struct.unpack("<Q", start) if len(start) == 8 else (size,)
    if not 2 <= length <= min(size - 8, _MAX_HEADER):
        raise GalsegError(f"{path}: not a readable safetensors file (no valid header)")
    try:
        header = json.loads(file.read(length))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GalsegError(f"{path}: not a readable safetensors file ({exc})") from None
    metadata = header.get("__metadata__") if isinstance(header, dict) else None
    return metadata if isinstance(metadata, dict) else {}


def _read_card(path: Path, identity: str) -> dict[str, Any]:
    where = card_path(path)
    try:
        card = json.loads(where.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GalsegError(f"{where}: unreadable model card ({exc})") from None
    if not isinstance(card, dict) or card.get("sha256") != identity:
        raise GalsegError(
            f"{where}: the model card describes other weights than {path.name} (SHA-256 differs)"
        )
    return card
