"""Training the head as it is used: interactive episodes of simulated strokes.

Each training example is an episode (as in RITM and SAM): a target class is
chosen among those present in the truth (the visible truth, see
:mod:`galseg.simulate`) and a stroke style among
:data:`~galseg.model.STROKE_STYLES` (:data:`STYLE_WEIGHTS`); the simulated
expert draws a stroke of that style on it (:func:`~galseg.model.stroke`) and,
half of the time, a negative stroke outside it
(:func:`~galseg.model.negative_stroke`); the head then runs 0 to
``rounds - 1`` times without gradients, each time placing the next stroke, of
the same style, into the largest error (:func:`~galseg.model.next_stroke`)
and feeding its probability back as ``previous``; the last run is trained on
the class's whole truth mask (logistic + soft Dice loss).

Two kinds of episode teach what strokes do not say:

- a fraction ``empty_fraction`` have no strokes at all and a class drawn among
  all of them, present or not: that teaches automatic mode, including
  "nothing of this class here";
- a fraction ``sky_fraction`` have one positive stroke on unlabelled sky, away
  from every truth pixel, and that stroke alone as the target: an expert who
  paints where the image shows no feature gets back what they painted, and
  no flood around it.

The encoder is trained with the head at a tenth of its learning rate; its
batch-norm statistics stay as pretrained.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage
import torch
import torch.nn.functional as F

from .. import __version__
from .._progress import Progress
from ..cutout import Cutout
from ..errors import GalsegError
from ..store import MaskStore
from ._assistant import Assistant
from ._checkpoint import (
    Checkpoint,
    pack_checkpoint,
    read_checkpoint,
    save_checkpoint,
    write_checkpoint,
)
from ._data import augment, check_size, simulate_pool
from ._device import resolve_device
from ._encoder import read_timm_folder
from ._evaluate import interactive_score
from ._head import input_prompts
from ._loop import TrainReport, optimise, resume_path
from ._network import ModelConfig, Network, build_network
from ._preprocess import Geometry, pad_to, prepare, to_image
from ._strokes import BRUSH, STROKE_STYLES, negative_stroke, next_stroke, stroke

__all__ = [
    "STYLE_WEIGHTS",
    "EpisodePlan",
    "FinetuneReport",
    "finetune",
    "held_back",
    "held_back_ids",
    "train_head",
]

CLASS_WEIGHTS = {"contaminant": 0.25}
"""Relative chance of a class being the target of an episode (others 1): the
simulator puts contaminants on nearly every cutout."""

STYLE_WEIGHTS = {"line": 0.4, "dabs": 0.3, "clicks": 0.3}
"""Chance of each stroke style in an episode."""


@dataclass
class _Episode:
    """One example's interaction: target, class and the strokes so far."""

    target: np.ndarray
    index: int
    automatic: bool
    positive: np.ndarray
    negative: np.ndarray
    style: str = "line"
    previous: np.ndarray | None = None


def _episode(
    truth: np.ndarray,
    config: ModelConfig,
    rng: np.random.Generator,
    empty_fraction: float,
    sky_fraction: float,
    known: np.ndarray | None = None,
) -> _Episode:
    """An episode on ``truth``; strokes stay on ``known`` pixels (default all)."""
    classes = config.classes
    present = [i for i, c in enumerate(classes) if (truth == c.value).any()]
    empty = np.zeros(truth.shape, dtype=bool)
    style = str(rng.choice(STROKE_STYLES, p=[STYLE_WEIGHTS[s] for s in STROKE_STYLES]))
    draw = rng.random()
    if draw < sky_fraction:
        sky = ndimage.distance_transform_edt(truth == 0) > 2 * BRUSH
        if known is not None:
            sky &= ndimage.distance_transform_edt(known) > 2 * BRUSH
        painted = stroke(sky, rng, style)
        if painted.any():
            index = int(rng.integers(len(classes)))
            return _Episode(painted.copy(), index, False, painted, empty, style)
    if not present or draw < sky_fraction + empty_fraction:
        index = int(rng.integers(len(classes)))
        return _Episode(truth == classes[index].value, index, True, empty, empty.copy())
    weights = np.array([CLASS_WEIGHTS.get(classes[i].name, 1.0) for i in present])
    index = int(rng.choice(present, p=weights / weights.sum()))
    target = truth == classes[index].value
    negative = empty
    if rng.random() < 0.5:
        away = target if known is None else target | ~known
        negative = negative_stroke(away, rng, other=(truth != 0) & ~target)
    return _Episode(target, index, False, stroke(target, rng, style), negative, style)


def _mask_loss(
    logits: torch.Tensor, targets: torch.Tensor, known: torch.Tensor | None = None
) -> torch.Tensor:
    """Logistic loss over the batch plus soft Dice loss over its non-empty targets.

    With ``known`` (1 where a target carries information, 0 elsewhere), both
    count only the known pixels.

    Dice is left out where the target is empty: there it is
    ``1 - 1 / (1 + sum(p))``, near 1 for any prediction of a few pixels, which
    taught the head to predict nothing without strokes (automatic mode) for
    fear of the episodes whose class is absent. The logistic loss alone
    handles those.
    """
    if known is None:
        bce = F.binary_cross_entropy_with_logits(logits, targets)
    else:
        bce = F.binary_cross_entropy_with_logits(logits, targets, weight=known, reduction="sum")
        bce = bce / known.sum().clamp(min=1)
    present = targets.flatten(1).any(dim=1)
    if not present.any():
        return bce
    p, t = torch.sigmoid(logits[present]), targets[present]
    if known is not None:
        p = p * known[present]
    overlap = (p * t).sum(dim=(1, 2))
    dice = 1 - (2 * overlap + 1) / (p.sum(dim=(1, 2)) + t.sum(dim=(1, 2)) + 1)
    return bce + dice.mean()


@dataclass(frozen=True)
class EpisodePlan:
    """How the episodes of a training run are played (see the module notes).

    Attributes
    ----------
    rounds : int
        Most head runs per episode (the earlier ones without gradients).
    empty_fraction : float
        Fraction of episodes without strokes (automatic mode).
    sky_fraction : float
        Fraction of episodes with one stroke on unlabelled sky as the target.

    Raises
    ------
    GalsegError
        If ``rounds`` is below 1 or the fractions are not in [0, 1] or add
        up to more than 1.

    Examples
    --------
    >>> EpisodePlan(rounds=2).settings()
    {'rounds': 2, 'empty_fraction': 0.25, 'sky_fraction': 0.05}
    """

    rounds: int = 3
    empty_fraction: float = 0.25
    sky_fraction: float = 0.05

    def __post_init__(self) -> None:
        if self.rounds < 1:
            raise GalsegError(f"rounds must be at least 1, got {self.rounds}")
        for name in ("empty_fraction", "sky_fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise GalsegError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.empty_fraction + self.sky_fraction > 1.0:
            raise GalsegError("empty_fraction + sky_fraction must be at most 1")

    def settings(self) -> dict[str, Any]:
        """The plan as model-card settings."""
        return {
            "rounds": self.rounds,
            "empty_fraction": self.empty_fraction,
            "sky_fraction": self.sky_fraction,
        }

    def loss(
        self,
        network: Network,
        images: torch.Tensor,
        truths: list[np.ndarray],
        config: ModelConfig,
        rng: np.random.Generator,
        known: list[np.ndarray] | None = None,
    ) -> torch.Tensor:
        """Loss of a batch of episodes on images (B, C, Y, X), truths (h, w) at their top left.

        ``known`` (one boolean image per truth) limits strokes, the errors the
        next strokes go to, and the loss to the pixels a truth carries
        information for.
        """
        shape = truths[0].shape
        geometry = Geometry(shape, shape, tuple(images.shape[-2:]))
        where = known or [None] * len(truths)
        episodes = [
            _episode(t, config, rng, self.empty_fraction, self.sky_fraction, k)
            for t, k in zip(truths, where, strict=True)
        ]
        index = torch.tensor([e.index for e in episodes], device=images.device)

        def run(features: list[torch.Tensor]) -> torch.Tensor:
            prompts = np.stack(
                [
                    input_prompts(e.positive, e.negative, e.previous, geometry, config.reach)
                    for e in episodes
                ]
            )
            logits = network.decode(features, torch.from_numpy(prompts).to(images.device), index)
            return to_image(logits, geometry)[:, 0]

        features = network.encode(images)
        for _ in range(int(rng.integers(self.rounds))):
            with torch.no_grad():
                probability = torch.sigmoid(run([f.detach() for f in features])).cpu().numpy()
            for episode, p, k in zip(episodes, probability, where, strict=True):
                if not episode.automatic:
                    shown = p >= 0.5 if k is None else (p >= 0.5) & k
                    more, positive = next_stroke(episode.target, shown, rng, style=episode.style)
                    (episode.positive if positive else episode.negative)[more] = True
                    episode.previous = p
        targets = torch.from_numpy(np.stack([e.target for e in episodes])).to(images.device)
        weights = None
        if known is not None:
            weights = torch.from_numpy(np.stack(known)).to(images.device).float()
        return _mask_loss(run(features), targets.float(), weights)


def _start_network(encoder: str | Path) -> tuple[Network, ModelConfig, dict[str, Any]]:
    """Network, configuration and card record of the encoder to train a head on."""
    path = Path(encoder)
    if path.is_dir():
        timm_encoder = read_timm_folder(path)
        config = ModelConfig(
            timm_encoder.architecture, timm_encoder.out_indices, timm_encoder.preprocessing
        )
        record = {"timm_folder": str(path), "architecture": timm_encoder.architecture}
        return build_network(config, timm_encoder.create()), config, record
    checkpoint = read_checkpoint(path)
    record = {
        "checkpoint": path.name,
        "sha256": checkpoint.identity,
        "training": checkpoint.card.get("training", {}),
    }
    return checkpoint.network(head=False), checkpoint.config, record


def _groups(network: Network, lr: float) -> list[dict[str, Any]]:
    return [
        {"params": network.head.parameters(), "lr": lr},
        {"params": network.encoder.parameters(), "lr": lr / 10},
    ]


def _fit(
    name: str,
    out: Path,
    network: Network,
    device: torch.device,
    settings: Mapping[str, Any],
    *,
    lr: float,
    steps: int,
    loss_at: Callable[[int], torch.Tensor],
    resume: bool,
    progress: Progress,
) -> TrainReport:
    """Optimise the head and the encoder (at a tenth of ``lr``) on ``device``, resumably.

    The encoder's batch-norm statistics stay as they are.
    """
    network.to(device)
    network.train()
    network.encoder.eval()
    return optimise(
        name=name,
        out=out,
        settings=settings,
        model=network,
        groups=_groups(network, lr),
        steps=steps,
        loss_at=loss_at,
        resume=resume,
        progress=progress,
    )


def train_head(
    out: str | Path,
    encoder: str | Path,
    *,
    n: int = 1500,
    size: int = 256,
    steps: int = 2400,
    batch: int = 8,
    lr: float = 1e-3,
    rounds: int = 3,
    empty_fraction: float = 0.25,
    sky_fraction: float = 0.05,
    sky_residuals: bool = False,
    seed: int = 500_000,
    device: str = "auto",
    resume: bool = True,
    progress: Progress = False,
    record: Mapping[str, Any] | None = None,
) -> TrainReport:
    """Train the head (and fine-tune the encoder) on simulated cutouts with truth masks.

    ``n`` cutouts are simulated with seeds ``seed .. seed + n - 1``, each
    with at least one feature kind (see
    :func:`~galseg.model._data.simulate_pool`); each step plays ``batch``
    episodes (see the module notes) on randomly rotated and flipped cutouts.

    Parameters
    ----------
    out : path-like
        The checkpoint to write (``.safetensors``, with its model card).
    encoder : path-like
        A galseg checkpoint (from :func:`train_encoder`, or a whole
        checkpoint to train further) or a folder in timm's Hugging Face
        layout (e.g. a Zoobot encoder).
    n, size : int
        Number and side of the simulated cutouts.
    steps, batch : int
        Optimisation steps and episodes per step.
    lr : float
        Peak learning rate of the head (the encoder's is a tenth of it).
    rounds : int
        Most head runs per episode (the earlier ones without gradients).
    empty_fraction : float
        Fraction of episodes without strokes (automatic mode).
    sky_fraction : float
        Fraction of episodes with one stroke on unlabelled sky as the target.
    sky_residuals : bool
        Simulate the cutouts with sky residuals (a smooth residual,
        cirrus-like fluctuations, correlated noise). A head so trained marks
        far fewer featureless skies in automatic mode, but its completions
        from strokes are weaker (own family, lines, IoU@3 0.66 against 0.70)
        and spread further from a stroke on sky; off by default, and for
        the shipped model.
    seed : int
        First simulator seed; also seeds the new head and the episodes.
    device : str
        ``"auto"``, ``"cpu"`` or ``"cuda"``.
    resume : bool
        Continue an interrupted run from its resume file.
    progress : bool or callable
        See :mod:`galseg._progress`.
    record : mapping, optional
        More to record in the model card's ``training`` entry.

    Returns
    -------
    TrainReport

    Raises
    ------
    GalsegError
        On an unreadable encoder, a bad size, or an unavailable device.
    """
    out = Path(out)
    dev = resolve_device(device)
    plan = EpisodePlan(rounds, empty_fraction, sky_fraction)
    torch.manual_seed(seed)
    network, config, source = _start_network(encoder)
    check_size(size, network.stride, config.preprocessing.max_size)
    pool = simulate_pool(
        n,
        size,
        seed,
        config.preprocessing,
        some_feature=True,
        sky_residuals=sky_residuals,
        progress=progress,
    )

    def loss_at(step: int) -> torch.Tensor:
        rng = np.random.default_rng([seed, step])
        pairs = [augment(pool.images[i], pool.truths[i], rng) for i in rng.integers(n, size=batch)]
        images = torch.from_numpy(np.stack([image for image, _ in pairs])).to(dev)
        return plan.loss(network, images, [truth for _, truth in pairs], config, rng)

    settings = {
        "kind": "head",
        "encoder": source,
        "n": n,
        "size": size,
        "steps": steps,
        "batch": batch,
        "lr": lr,
        **plan.settings(),
        "truth": "visible",
        "stroke_styles": STYLE_WEIGHTS,
        "seed": seed,
    }
    report = _fit(
        "train head",
        out,
        network,
        dev,
        settings,
        lr=lr,
        steps=steps,
        loss_at=loss_at,
        resume=resume,
        progress=progress,
    )
    card = {
        "kind": "assistant",
        "galseg_version": __version__,
        "training": {
            **settings,
            "data": pool.record("each kind with probability 1/2, at least one"),
            **report.summary(str(dev)),
            **dict(record or {}),
        },
    }
    save_checkpoint(out, network.to("cpu"), config, card)
    resume_path(out).unlink(missing_ok=True)
    return report


# ------------------------------------------------------------------ finetune
@dataclass(frozen=True)
class FinetuneReport:
    """What :func:`finetune` did, and the score before and after.

    Attributes
    ----------
    training : TrainReport
        The optimisation run.
    n_train, n_held_back : int
        Examples (cutout and annotator) trained on and held back.
    n_scored : int
        (held-back example, class) pairs scored.
    strokes : int
        Simulated strokes per class in the score.
    score_before, score_after : float
        Mean IoU after ``strokes`` strokes on the held-back examples, with
        the starting checkpoint and with the fine-tuned one.
    start : Path
        The checkpoint fine-tuning started from.
    written : bool
        Whether the fine-tuned checkpoint was written (it scored better than
        the start, or ``force`` was given).
    """

    training: TrainReport
    n_train: int
    n_held_back: int
    n_scored: int
    strokes: int
    score_before: float
    score_after: float
    start: Path
    written: bool

    @property
    def improved(self) -> bool:
        """Whether the fine-tuned checkpoint beat the start on the held-back cutouts."""
        return self.score_after > self.score_before

    @property
    def checkpoint(self) -> Path:
        """The checkpoint to use: the fine-tuned one if written, else the start."""
        return self.training.checkpoint if self.written else self.start


def held_back(cutout_id: str, fraction: float) -> bool:
    """Whether a cutout is held back from fine-tuning to score it.

    The decision depends on the id alone (its first 8 hex digits as a number
    in [0, 1) below ``fraction``), so a cutout stays on its side as the store
    grows.

    Examples
    --------
    >>> held_back("0000aaaa12345678", 0.2), held_back("ffff000012345678", 0.2)
    (True, False)
    """
    return int(cutout_id[:8], 16) / 16**8 < fraction


def held_back_ids(cutout_ids: Iterable[str], fraction: float) -> set[str]:
    """The cutouts held back from fine-tuning: :func:`held_back`, never all or none of two or more.

    A store too small for ``fraction`` to pick any cutout still holds back
    one (the one with the smallest id), and one too small for it to leave
    any still trains on one (the largest id), so that the score before and
    after always exists when there are two cutouts or more.

    Examples
    --------
    >>> sorted(held_back_ids(["ffff000012345678", "8000000012345678"], 0.2))
    ['8000000012345678']
    >>> held_back_ids(["0000aaaa12345678"], 0.2)
    set()
    """
    ids = sorted(set(cutout_ids))
    held = {i for i in ids if held_back(i, fraction)}
    if len(ids) >= 2 and not held:
        held = {ids[0]}
    if len(ids) >= 2 and len(held) == len(ids):
        held.discard(ids[-1])
    return held if len(ids) >= 2 else set()


def finetune(
    store: MaskStore | str | Path,
    from_checkpoint: str | Path,
    out: str | Path,
    *,
    annotator: str | None = None,
    steps: int = 300,
    batch: int = 4,
    lr: float = 3e-4,
    rounds: int = 3,
    empty_fraction: float = 0.25,
    sky_fraction: float = 0.05,
    holdout: float = 0.2,
    strokes: int = 3,
    seed: int = 0,
    device: str = "auto",
    resume: bool = True,
    force: bool = False,
    progress: Progress = False,
    record: Mapping[str, Any] | None = None,
) -> FinetuneReport:
    """Retrain a checkpoint on the experts' masks in a mask store.

    The examples are each annotator's latest mask of each cutout
    (:meth:`MaskStore.iter_examples`). Cutouts whose id falls in the
    ``holdout`` fraction (:func:`held_back_ids`: at least one of two or more)
    are not trained on: both the starting and the fine-tuned checkpoint are
    scored on them, as mean IoU after ``strokes`` simulated strokes per class
    present, with the same strokes. Training plays the episodes of
    :func:`train_head` on the other examples, at the checkpoint's working
    size.

    The fine-tuned checkpoint is written to ``out`` only if it scores better
    than the start (or ``force`` is given); otherwise the start is the
    better model, :attr:`FinetuneReport.checkpoint` names it and nothing is
    written. An existing ``out`` is never overwritten without ``force``.

    Parameters
    ----------
    store : MaskStore or path-like
        The mask store (its taxonomy must be the checkpoint's).
    from_checkpoint : path-like
        The checkpoint to start from.
    out : path-like
        The fine-tuned checkpoint to write (not ``from_checkpoint``).
    annotator : str, optional
        Only this annotator's masks.
    steps, batch, lr, rounds, empty_fraction, sky_fraction, seed, device, resume, progress
        As in :func:`train_head`.
    holdout : float
        Fraction of cutouts held back, in (0, 1).
    strokes : int
        Strokes per class in the score.
    force : bool
        Write ``out`` even if it exists or the fine-tuned model scores no
        better than the start.
    record : mapping, optional
        More to record in the model card's ``training`` entry.

    Returns
    -------
    FinetuneReport

    Raises
    ------
    GalsegError
        If the store or checkpoint is unreadable, their taxonomies differ,
        ``out`` is ``from_checkpoint``, ``out`` exists (without ``force``), or
        the store has fewer than two cutouts with masks.
    """
    out, source = Path(out), Path(from_checkpoint)
    if out.resolve() == source.resolve():
        raise GalsegError(f"{out}: write the fine-tuned model beside {source.name}, not over it")
    if out.exists() and not force:
        raise GalsegError(f"{out}: exists already; choose another file or pass --force")
    if not 0.0 < holdout < 1.0:
        raise GalsegError(f"holdout must be between 0 and 1, got {holdout}")
    plan = EpisodePlan(rounds, empty_fraction, sky_fraction)
    dev = resolve_device(device)
    start_checkpoint = read_checkpoint(source)
    config = start_checkpoint.config
    store = store if isinstance(store, MaskStore) else MaskStore.open(store, mode="r")
    if store.taxonomy != config.taxonomy:
        raise GalsegError(
            f"{store.path}: the store's classes {store.taxonomy!r} are not the checkpoint's "
            f"{config.taxonomy!r}"
        )
    examples = [
        (meta["id"], Cutout.from_array(image, meta["bands"]), mask, _known_pixels(store, meta))
        for image, mask, meta in store.iter_examples(annotator)
    ]
    held_ids = held_back_ids([example[0] for example in examples], holdout)
    train = [example[1:] for example in examples if example[0] not in held_ids]
    held = [example[1:] for example in examples if example[0] in held_ids]
    if not train or not held:
        n_cutouts = len({example[0] for example in examples})
        raise GalsegError(
            f"{store.path}: masks on {n_cutouts} cutout(s); fine-tuning needs two or more "
            "(at least one is held back to score the model)"
        )
    before, scored = _score(start_checkpoint, held, strokes, seed, dev)
    network = start_checkpoint.network(head=True)
    working = [_working_example(*example, config, network.stride) for example in train]
    torch.manual_seed(seed)

    def loss_at(step: int) -> torch.Tensor:
        rng = np.random.default_rng([seed, step])
        chosen = [augment(*working[i], rng) for i in rng.integers(len(working), size=batch)]
        by_shape: dict[tuple[int, ...], list[tuple[np.ndarray, np.ndarray]]] = {}
        for image, labels in chosen:  # labels: the truth and the known pixels
            by_shape.setdefault(labels.shape[1:], []).append((image, labels))
        total = torch.zeros((), device=dev)
        for shape, group in by_shape.items():
            padded = tuple(-(-side // network.stride) * network.stride for side in shape)
            images = torch.cat([pad_to(torch.from_numpy(i)[None], padded) for i, _ in group])
            truths = [labels[0] for _, labels in group]
            known = [labels[1].astype(bool) for _, labels in group]
            loss = plan.loss(network, images.to(dev), truths, config, rng, known)
            total = total + loss * len(group) / len(chosen)
        return total

    settings = {
        "kind": "finetune",
        "from": {"checkpoint": source.name, "sha256": start_checkpoint.identity},
        "store": str(store.path),
        "annotator": annotator,
        "steps": steps,
        "batch": batch,
        "lr": lr,
        **plan.settings(),
        "holdout": holdout,
        "seed": seed,
    }
    training = _fit(
        "finetune",
        out,
        network,
        dev,
        settings,
        lr=lr,
        steps=steps,
        loss_at=loss_at,
        resume=resume,
        progress=progress,
    )
    card = {
        "kind": "assistant",
        "galseg_version": __version__,
        "training": {
            **dict(start_checkpoint.card.get("training", {})),
            "finetune": {
                **settings,
                "n_train": len(train),
                "n_held_back": len(held),
                **training.summary(str(dev)),
                **dict(record or {}),
            },
        },
    }
    network.to("cpu")
    packed = pack_checkpoint(out, network, config, card)
    after, _ = _score(packed.checkpoint, held, strokes, seed, dev)
    score = {"metric": f"mean IoU after {strokes} strokes", "before": before, "after": after}
    card["training"]["finetune"]["held_back_score"] = score
    written = after > before or force
    if written:  # the card with the score, beside the weights it was measured on
        write_checkpoint(pack_checkpoint(out, network, config, card))
    resume_path(out).unlink(missing_ok=True)
    return FinetuneReport(
        training, len(train), len(held), scored, strokes, before, after, source, written
    )


def _score(
    checkpoint: Checkpoint,
    examples: list[tuple[Cutout, np.ndarray, np.ndarray | None]],
    strokes: int,
    seed: int,
    device: torch.device,
) -> tuple[float, int]:
    assistant = Assistant(checkpoint, str(device))
    pairs = [(cutout, mask) for cutout, mask, _ in examples]
    known = [where for _, _, where in examples]
    return interactive_score(assistant, pairs, strokes=strokes, seed=seed, known=known)


def _known_pixels(store: MaskStore, meta: Mapping[str, Any]) -> np.ndarray | None:
    """The pixels an example's mask carries information for; None for all of them.

    A mask transferred from another survey's grid knows nothing outside the
    source's footprint (:func:`galseg.transfer.covered_pixels`): unlabelled
    there means unknown, not "no feature".
    """
    from ..transfer import covered_pixels

    if meta["revision"] == 0:  # flagged "no_feature": known everywhere
        return None
    try:
        return covered_pixels(store.revision(meta["id"], meta["revision"]))
    except GalsegError as exc:
        raise GalsegError(f"{store.path}: {exc}") from None


def _working_example(
    cutout: Cutout, mask: np.ndarray, known: np.ndarray | None, config: ModelConfig, stride: int
) -> tuple[np.ndarray, np.ndarray]:
    """A store example at the working size, unpadded: the model input, and the label
    image stacked on the known pixels (uint8, shape (2, y, x))."""
    image, geometry = prepare(cutout, config.preprocessing, stride)
    height, width = geometry.working_shape
    where = np.ones(mask.shape, bool) if known is None else known
    labels = torch.from_numpy(np.stack([mask, where.astype(np.uint8)]))[None].float()
    if geometry.resized:
        labels = F.interpolate(labels, size=geometry.working_shape, mode="nearest")
    return image[0, :, :height, :width].numpy(), labels[0].to(torch.uint8).numpy()
