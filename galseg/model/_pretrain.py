"""Zoobot-style pretraining of the encoder: many morphology questions at once.

The encoder answers every question in :data:`QUESTIONS` about simulated
galaxies (the labels of :func:`galseg.simulate.simulate_galaxy`) through one
linear head per question on its pooled multi-scale features; the questions'
losses are summed. As with Galaxy Zoo's decision tree, a broad set of
questions makes the representation broad: bars, tidal features and their
kind, disc inclination, bulge prominence and companions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from .. import __version__
from .._progress import Progress
from ._checkpoint import save_checkpoint
from ._data import augment, check_size, simulate_pool
from ._device import resolve_device
from ._encoder import DEFAULT_ARCHITECTURE, DEFAULT_OUT_INDICES, create_encoder
from ._loop import TrainReport, optimise, resume_path
from ._network import ModelConfig, build_network
from ._preprocess import Preprocessing

__all__ = ["QUESTIONS", "Question", "train_encoder"]


@dataclass(frozen=True)
class Question:
    """A morphology question answered during pretraining.

    Attributes
    ----------
    label : str
        The simulator label it predicts.
    kind : {"binary", "regression"}
        Binary questions use a logistic loss; regression questions a squared
        error on the label standardised over the training set.
    log : bool
        Regress ``log(1 + label)`` (for counts).
    """

    label: str
    kind: Literal["binary", "regression"]
    log: bool = False


QUESTIONS = (
    Question("bar", "binary"),
    Question("bar_strength", "regression"),
    Question("tidal_feature", "binary"),
    Question("tidal_stream", "binary"),
    Question("shell", "binary"),
    Question("tidal_tail", "binary"),
    Question("disc_inclination", "regression"),
    Question("bulge_to_total", "regression"),
    Question("n_companions", "regression", log=True),
)
"""The pretraining questions: bar and its strength, tidal feature and its kind,
disc inclination, bulge prominence, companions."""


class _Answerer(nn.Module):
    """Encoder with one linear answer per question on its pooled features."""

    def __init__(self, encoder: nn.Module, n_questions: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.answers = nn.Linear(sum(encoder.feature_info.channels()), n_questions)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        pooled = [level.mean(dim=(2, 3)) for level in self.encoder(image)]
        return self.answers(torch.cat(pooled, dim=1))


def _targets(labels: list[Mapping[str, Any]]) -> tuple[np.ndarray, dict[str, list[float]]]:
    """Question targets (n, questions), regression ones standardised; and the scales used."""
    targets = np.zeros((len(labels), len(QUESTIONS)), dtype=np.float32)
    scales = {}
    for j, question in enumerate(QUESTIONS):
        values = np.array([float(label[question.label]) for label in labels])
        if question.log:
            values = np.log1p(values)
        if question.kind == "regression":
            mean, std = float(values.mean()), float(values.std()) or 1.0
            values = (values - mean) / std
            scales[question.label] = [mean, std]
        targets[:, j] = values
    return targets, scales


def _answer_loss(answers: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Sum over questions of each question's mean loss."""
    binary = torch.tensor([q.kind == "binary" for q in QUESTIONS], device=answers.device)
    bce = F.binary_cross_entropy_with_logits(answers, targets, reduction="none")
    squared = (answers - targets) ** 2
    return torch.where(binary, bce, squared).mean(dim=0).sum()


def train_encoder(
    out: str | Path,
    *,
    n: int = 1500,
    size: int = 256,
    steps: int = 1200,
    batch: int = 8,
    lr: float = 2e-3,
    seed: int = 0,
    architecture: str = DEFAULT_ARCHITECTURE,
    out_indices: tuple[int, ...] = DEFAULT_OUT_INDICES,
    stretch: str = "lsb",
    device: str = "auto",
    resume: bool = True,
    progress: Progress = False,
    record: Mapping[str, Any] | None = None,
) -> TrainReport:
    """Pretrain an encoder on simulated galaxies and save it as a checkpoint.

    ``n`` cutouts are simulated with seeds ``seed .. seed + n - 1`` (surveys
    in turn from :data:`~galseg.model._data.SURVEY_MIX`, features at the
    simulator's natural rates) and stretched as the assistant will stretch
    them; the channel means and standard deviations of the set become the
    encoder's standardisation. Each step trains on ``batch`` randomly rotated
    and flipped cutouts to answer :data:`QUESTIONS`.

    Parameters
    ----------
    out : path-like
        The encoder checkpoint (``.safetensors``, encoder only).
    n, size : int
        Number and side of the simulated cutouts.
    steps, batch : int
        Optimisation steps and cutouts per step.
    lr : float
        Peak learning rate (AdamW; warm-up, then cosine decay).
    seed : int
        First simulator seed; also seeds the initial weights and the batches.
    architecture : str
        timm architecture.
    out_indices : tuple of int
        The encoder's feature levels.
    stretch : str
        Stretch preset of the model input.
    device : str
        ``"auto"``, ``"cpu"`` or ``"cuda"``.
    resume : bool
        Continue an interrupted run from its resume file
        (:func:`~galseg.model._loop.resume_path`).
    progress : bool or callable
        See :mod:`galseg._progress`.
    record : mapping, optional
        More to record in the model card's ``training`` entry (e.g. the
        command line).

    Returns
    -------
    TrainReport

    Examples
    --------
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp()) / "encoder.safetensors"
    >>> report = train_encoder(out, n=4, size=32, steps=2, batch=2, device="cpu")
    >>> report.steps, out.exists()
    (2, True)
    """
    out = Path(out)
    dev = resolve_device(device)
    torch.manual_seed(seed)
    encoder = create_encoder(architecture, Preprocessing().in_chans, out_indices)
    check_size(size, max(encoder.feature_info.reduction()))
    plain = Preprocessing(stretch=stretch)
    pool = simulate_pool(n, size, seed, plain, some_feature=False, progress=progress)
    mean = pool.images.mean(axis=(0, 2, 3))
    std = pool.images.std(axis=(0, 2, 3)) + 1e-6
    pool.images[:] = (pool.images - mean[:, None, None]) / std[:, None, None]
    preprocessing = Preprocessing(stretch=stretch, mean=mean.tolist(), std=std.tolist())
    targets, scales = _targets(pool.labels)
    model = _Answerer(encoder, len(QUESTIONS)).to(dev)

    def loss_at(step: int) -> torch.Tensor:
        rng = np.random.default_rng([seed, step])
        chosen = rng.integers(len(pool.images), size=batch)
        images = np.stack([augment(pool.images[i], None, rng)[0] for i in chosen])
        answers = model(torch.from_numpy(images).to(dev))
        return _answer_loss(answers, torch.from_numpy(targets[chosen]).to(dev))

    settings = {
        "kind": "encoder",
        "n": n,
        "size": size,
        "steps": steps,
        "batch": batch,
        "lr": lr,
        "seed": seed,
        "architecture": architecture,
        "out_indices": list(out_indices),
        "stretch": stretch,
    }
    model.train()
    report = optimise(
        name="train encoder",
        out=out,
        settings=settings,
        model=model,
        groups=[{"params": model.parameters(), "lr": lr}],
        steps=steps,
        loss_at=loss_at,
        resume=resume,
        progress=progress,
    )
    config = ModelConfig(architecture, tuple(out_indices), preprocessing)
    card = {
        "kind": "encoder",
        "galseg_version": __version__,
        "training": {
            **settings,
            "data": pool.record("natural feature rates"),
            "questions": [q.label for q in QUESTIONS],
            "regression_scales": scales,
            **report.summary(str(dev)),
            **dict(record or {}),
        },
    }
    save_checkpoint(out, build_network(config, encoder.to("cpu")), config, card, head=False)
    resume_path(out).unlink(missing_ok=True)
    return report
