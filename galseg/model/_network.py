"""The completion network: its configuration, and the encoder and head built from it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
import math
from numbers import Integral
from typing import Any

import torch
from torch import nn

from ..errors import GalsegError
from ..taxonomy import DEFAULT_TAXONOMY, FeatureClass, Taxonomy
from ._encoder import DEFAULT_ARCHITECTURE, DEFAULT_OUT_INDICES, create_encoder
from ._head import PromptHead, default_widths
from ._preprocess import Preprocessing

__all__ = ["ModelConfig", "Network", "build_network"]


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to build and run a completion network (stored in checkpoints).

    Parameters
    ----------
    architecture : str
        timm architecture of the encoder.
    out_indices : tuple of int
        The encoder's feature levels used by the head.
    preprocessing : Preprocessing
        How a cutout becomes the encoder's input.
    widths : tuple of int, optional
        Decoder channels per level, finest first; by default from the levels'
        strides (:func:`galseg.model._head.default_widths`).
    embedding : int
        Size of the class embedding.
    reach : float
        Reach of the stroke nearness maps, as a fraction of the longer side
        of the network input.
    taxonomy : Taxonomy
        The classes; the network completes each of its feature classes.

    Examples
    --------
    >>> config = ModelConfig()
    >>> ModelConfig.from_dict(config.to_dict()) == config
    True
    >>> config.class_index("bar"), config.class_index(1)
    (3, 0)
    """

    architecture: str = DEFAULT_ARCHITECTURE
    out_indices: tuple[int, ...] = DEFAULT_OUT_INDICES
    preprocessing: Preprocessing = field(default_factory=Preprocessing)
    widths: tuple[int, ...] | None = None
    embedding: int = 16
    reach: float = 0.25
    taxonomy: Taxonomy = DEFAULT_TAXONOMY

    def __post_init__(self) -> None:
        object.__setattr__(self, "out_indices", tuple(int(i) for i in self.out_indices))
        if self.widths is not None:
            object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        if not self.taxonomy.feature_classes:
            raise GalsegError("a model needs a taxonomy with at least one feature class")
        if not (math.isfinite(self.reach) and self.reach > 0):
            raise GalsegError(f"reach must be a number > 0, got {self.reach}")

    @property
    def classes(self) -> tuple[FeatureClass, ...]:
        """The classes the network completes: the taxonomy's feature classes."""
        return self.taxonomy.feature_classes

    def class_index(self, label: int | str) -> int:
        """Index of a feature class (by label value or name) among :attr:`classes`.

        Raises
        ------
        GalsegError
            If the label is not a feature class of the taxonomy.
        """
        if isinstance(label, bool) or not isinstance(label, Integral | str):
            raise GalsegError(f"label must be a class value or name, got {label!r}")
        # An unknown label raises TaxonomyError, a GalsegError.
        wanted = self.taxonomy[label if isinstance(label, str) else int(label)]
        if wanted.value == 0:
            raise GalsegError("label 0 (unlabelled) is not a class to complete")
        return self.classes.index(wanted)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable description."""
        data = asdict(self)
        data["taxonomy"] = self.taxonomy.to_dict()
        data["out_indices"] = list(self.out_indices)
        data["widths"] = list(self.widths) if self.widths is not None else None
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelConfig:
        """Inverse of :meth:`to_dict`.

        Raises
        ------
        GalsegError
            If the description is malformed.
        """
        try:
            values = dict(data)
            values["preprocessing"] = Preprocessing(**values["preprocessing"])
            values["taxonomy"] = Taxonomy.from_dict(values["taxonomy"])
            return cls(**values)
        except (KeyError, TypeError, ValueError) as exc:
            raise GalsegError(f"malformed model configuration ({exc!r})") from None


class Network(nn.Module):
    """Encoder and head.

    Attributes
    ----------
    encoder : torch.nn.Module
        timm ``features_only`` backbone.
    head : PromptHead
        The prompt decoder.
    stride : int
        The largest feature stride: inputs are padded to a multiple of it.
    """

    def __init__(self, encoder: nn.Module, head: PromptHead) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = head
        self.stride = max(encoder.feature_info.reduction())

    def encode(self, image: torch.Tensor) -> list[torch.Tensor]:
        """Feature levels of images (B, C, Y, X), finest first."""
        return list(self.encoder(image))

    def decode(
        self, features: Sequence[torch.Tensor], prompts: torch.Tensor, class_index: torch.Tensor
    ) -> torch.Tensor:
        """Logits (B, 1, Y, X) of the target classes; see :class:`PromptHead`."""
        return self.head(features, prompts, class_index)


def build_network(config: ModelConfig, encoder: nn.Module | None = None) -> Network:
    """Build the network a configuration describes.

    Parameters
    ----------
    config : ModelConfig
        The configuration.
    encoder : torch.nn.Module, optional
        The ``features_only`` encoder, e.g. with pretrained weights; by
        default a randomly initialised one of ``config.architecture``.

    Examples
    --------
    >>> network = build_network(ModelConfig())
    >>> network.stride, sum(p.numel() for p in network.head.parameters()) < 200_000
    (16, True)
    """
    if encoder is None:
        encoder = create_encoder(
            config.architecture, config.preprocessing.in_chans, config.out_indices
        )
    info = encoder.feature_info
    widths = config.widths or default_widths(info.reduction())
    if len(widths) != len(info.channels()):
        raise GalsegError(
            f"{len(widths)} decoder widths for {len(info.channels())} encoder feature levels"
        )
    head = PromptHead(info.channels(), widths, len(config.classes), config.embedding)
    return Network(encoder, head)
