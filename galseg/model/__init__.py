"""The stroke-completion model: a galaxy encoder and a prompt-driven UNet head.

An expert paints part of a feature; :class:`Assistant` proposes the whole
feature. A timm encoder (galseg's own, pretrained on simulated galaxies by
:func:`train_encoder`, or a Zoobot encoder in timm's folder layout) turns a
cutout into multi-scale features once (:meth:`Assistant.set_image`, cached per
cutout and checkpoint); a light UNet head turns the strokes, their distance
maps and the previous completion into a mask of the target class at every
stroke (:meth:`Assistant.complete`), or every class without strokes
(:meth:`Assistant.segment`). :func:`train_head` trains the head on simulated
interactive episodes, :func:`finetune` retrains it on a mask store and
:func:`benchmark_completion` measures it against the strokes alone and a random
walker on two families of held-out cases (``galseg bench completion``).

This package needs the optional dependencies (``pip install "galseg[model]"``:
torch, timm, safetensors, scikit-image); ``import galseg`` never imports it.
Checkpoints and encoder folders load from safetensors and JSON only (a pickle
is refused unread); Segment Anything's checkpoints and training resume files,
which exist only as pickles, load through ``torch.load(weights_only=True)``,
which builds tensors and plain containers and runs no code. Nothing is
downloaded.

Examples
--------
>>> from galseg.model import load_assistant
>>> assistant = load_assistant("galseg-assist.safetensors")  # doctest: +SKIP
>>> assistant.set_image(cutout)  # doctest: +SKIP
>>> completion = assistant.complete(painted, erased, label="tidal_stream")  # doctest: +SKIP
"""

from importlib import import_module
from typing import Any

from ._assistant import SHIPPED_CHECKPOINT, Assistant, Completion, Segmentation, load_assistant
from ._automatic import AutomaticRule
from ._cache import FeatureCache
from ._checkpoint import (
    Checkpoint,
    card_path,
    read_checkpoint,
    record_in_card,
    save_checkpoint,
)
from ._device import resolve_device
from ._encoder import DEFAULT_ARCHITECTURE, TimmEncoder, read_timm_folder
from ._network import ModelConfig, Network, build_network
from ._preprocess import Preprocessing, model_input

# Training, benchmarking and Segment Anything load on first use: a catalogue
# worker or the annotator's model process, which only run the model, start
# without the simulator and scikit-image.
_ON_FIRST_USE = {
    "CompletionBenchmark": "_bench",
    "benchmark_completion": "_bench",
    "Calibration": "_calibrate",
    "calibrate_automatic": "_calibrate",
    "HELD_OUT_SEEDS": "_data",
    "interactive_score": "_evaluate",
    "iou": "_evaluate",
    "TrainReport": "_loop",
    "QUESTIONS": "_pretrain",
    "Question": "_pretrain",
    "train_encoder": "_pretrain",
    "SamAssistant": "_sam",
    "load_sam": "_sam",
    "STROKE_STYLES": "_strokes",
    "negative_stroke": "_strokes",
    "next_stroke": "_strokes",
    "scribble": "_strokes",
    "stroke": "_strokes",
    "FinetuneReport": "_train",
    "finetune": "_train",
    "held_back": "_train",
    "train_head": "_train",
}


def __getattr__(name: str) -> Any:
    if name not in _ON_FIRST_USE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{_ON_FIRST_USE[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_ON_FIRST_USE))


__all__ = [
    "DEFAULT_ARCHITECTURE",
    "HELD_OUT_SEEDS",
    "QUESTIONS",
    "SHIPPED_CHECKPOINT",
    "STROKE_STYLES",
    "Assistant",
    "AutomaticRule",
    "Calibration",
    "Checkpoint",
    "Completion",
    "CompletionBenchmark",
    "FeatureCache",
    "FinetuneReport",
    "ModelConfig",
    "Network",
    "Preprocessing",
    "Question",
    "SamAssistant",
    "Segmentation",
    "TimmEncoder",
    "TrainReport",
    "benchmark_completion",
    "build_network",
    "calibrate_automatic",
    "card_path",
    "finetune",
    "held_back",
    "interactive_score",
    "iou",
    "load_assistant",
    "load_sam",
    "model_input",
    "negative_stroke",
    "next_stroke",
    "read_checkpoint",
    "read_timm_folder",
    "record_in_card",
    "resolve_device",
    "save_checkpoint",
    "scribble",
    "stroke",
    "train_encoder",
    "train_head",
]
