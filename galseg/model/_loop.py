"""The optimisation loop shared by every trainer: schedule, progress, resume file."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
import io
import json
import math
from pathlib import Path
from pickle import UnpicklingError
import time
from typing import Any

import torch
from torch import nn

from .._atomic import write_file
from .._progress import Progress, track
from ..errors import GalsegError

__all__ = ["TrainReport", "optimise", "resume_path"]

_WARMUP = 0.05
_SAVES = 20


@dataclass(frozen=True)
class TrainReport:
    """What a training run did.

    Attributes
    ----------
    checkpoint : Path
        The checkpoint written.
    steps : int
        Optimisation steps in all (including those before a resume).
    resumed_at : int
        Step this run started from (0 unless it resumed).
    seconds : float
        Wall time of this run's steps.
    losses : tuple of float
        Loss of every step.
    """

    checkpoint: Path
    steps: int
    resumed_at: int
    seconds: float
    losses: tuple[float, ...]

    @property
    def loss_start(self) -> float:
        """Mean loss over the first tenth of the steps."""
        return _mean(self.losses[: max(1, len(self.losses) // 10)])

    @property
    def loss_end(self) -> float:
        """Mean loss over the last tenth of the steps."""
        return _mean(self.losses[-max(1, len(self.losses) // 10) :])

    @property
    def seconds_per_step(self) -> float:
        """Wall time per step of this run."""
        return self.seconds / max(1, self.steps - self.resumed_at)

    def summary(self, device: str) -> dict[str, Any]:
        """What a model card records of the run."""
        return {
            "device": device,
            "seconds": round(self.seconds, 1),
            "seconds_per_step": round(self.seconds_per_step, 4),
            "resumed_at": self.resumed_at,
            "loss_first_tenth": self.loss_start,
            "loss_last_tenth": self.loss_end,
        }


def _mean(values: tuple[float, ...]) -> float:
    return sum(values) / len(values) if values else float("nan")


def resume_path(out: str | Path) -> Path:
    """The resume file of a run writing ``out``: ``NAME.resume.pt`` beside it.

    Examples
    --------
    >>> resume_path("models/head.safetensors").as_posix()
    'models/head.resume.pt'
    """
    out = Path(out)
    return out.with_name(f"{out.stem}.resume.pt")


def optimise(
    *,
    name: str,
    out: Path,
    settings: Mapping[str, Any],
    model: nn.Module,
    groups: list[dict[str, Any]],
    steps: int,
    loss_at: Callable[[int], torch.Tensor],
    resume: bool,
    progress: Progress,
) -> TrainReport:
    """Run ``steps`` AdamW steps of ``loss_at(step)``, resumable.

    The learning rate of each group warms up linearly over the first 5 % of
    the steps, then follows a cosine to 0. Every twentieth of the run the
    model, optimiser and step go to :func:`resume_path` (``torch.save``; read
    back with ``weights_only=True``). A run started with ``resume`` and a
    resume file written with the same ``settings`` continues from it; the
    caller removes the file once the checkpoint is written.

    Parameters
    ----------
    name : str
        Shown on the progress bar.
    out : Path
        The checkpoint the run will write (names the resume file).
    settings : mapping
        JSON-serialisable settings that must match to resume.
    model : torch.nn.Module
        Everything trained (its state is saved for resuming).
    groups : list of dict
        Optimiser parameter groups, each with ``params`` and ``lr``.
    steps : int
        Total number of steps.
    loss_at : callable
        The loss of step ``step`` (deterministic in ``step``, so that a
        resumed run sees the batches an uninterrupted one would).
    resume : bool
        Continue from a matching resume file if there is one.
    progress : bool or callable
        See :mod:`galseg._progress`.

    Returns
    -------
    TrainReport
        For ``out``: every step's loss (including those before a resume),
        the step this run started at and its wall time.

    Raises
    ------
    GalsegError
        If the resume file was written with other settings, or is unreadable.
    """
    optimizer = torch.optim.AdamW(groups, weight_decay=1e-4)
    base = [group["lr"] for group in optimizer.param_groups]
    fingerprint = json.dumps(settings, sort_keys=True)
    path = resume_path(out)
    start, losses = 0, []
    if resume and path.exists():
        start, losses = _restore(path, fingerprint, model, optimizer)
    every = max(1, steps // _SAVES)
    began = time.perf_counter()
    for step in track(range(start, steps), steps - start, name, progress, unit="step"):
        factor = _schedule(step, steps)
        for group, lr in zip(optimizer.param_groups, base, strict=True):
            group["lr"] = lr * factor
        loss = loss_at(step)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(float(loss.detach()))
        if (step + 1) % every == 0 and step + 1 < steps:
            _save(path, fingerprint, step + 1, losses, model, optimizer)
    return TrainReport(out, steps, start, time.perf_counter() - began, tuple(losses))


def _schedule(step: int, steps: int) -> float:
    """Learning-rate factor: linear warm-up, then cosine decay."""
    warmup = max(1, round(_WARMUP * steps))
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1.0 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup)))


def _save(
    path: Path,
    fingerprint: str,
    step: int,
    losses: list[float],
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
) -> None:
    state = {
        "settings": fingerprint,
        "step": step,
        "losses": losses,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
    }
    buffer = io.BytesIO()
    torch.save(state, buffer)
    try:
        write_file(path, buffer.getvalue())
    except OSError as exc:
        raise GalsegError(f"{path}: cannot write the resume file ({exc.strerror or exc})") from None


def _restore(
    path: Path, fingerprint: str, model: nn.Module, optimizer: torch.optim.Optimizer
) -> tuple[int, list[float]]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        if state["settings"] != fingerprint:
            raise GalsegError(
                f"{path}: written by a run with other settings; delete it to start afresh, or "
                "run with the same settings to continue"
            )
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        return int(state["step"]), [float(v) for v in state["losses"]]
    except (
        OSError,
        RuntimeError,
        KeyError,
        TypeError,
        ValueError,
        EOFError,
        UnpicklingError,
    ) as exc:
        raise GalsegError(f"{path}: unreadable resume file ({exc}); delete it to restart") from None
