"""Active learning on simulated cutouts: does picking by uncertainty beat random order?

Run from the repository root::

    .venv/bin/python benchmarks/active_learning.py [--pool 12] [--test 6] [--k 2]
        [--rounds 3] [--steps 12] [--size 128] [--repeats 2]
        [--plot docs/active_learning.png]

A campaign per strategy: a pool of ``pool`` simulated legacy cutouts waits to
be painted. Each round picks ``k`` cutouts from those left, with the model of
the last round:

- ``uncertainty``: the most uncertain first (:func:`galseg.model.uncertainty`,
  as ``galseg rank --by uncertainty`` and the annotator's "Next most
  informative");
- ``diversity``: core-set order over the encoder's embeddings, seeded by the
  cutouts painted already (``galseg rank --by diversity``);
- ``random``: a seeded shuffle, ``repeats`` times with different seeds (its
  curve is their mean; the plot shows each, to give an idea of the noise).

A simulated expert paints the truth of each pick into a mask store, and the
shipped model is fine-tuned afresh on all the masks so far (``galseg
finetune``, ``steps`` steps, holding back the one cutout it must to score
itself). After each round, automatic mode is scored on ``test`` held-out
cutouts: mean IoU over the feature classes present in the truth or the
prediction.

The issue's goal: the IoU random order reaches with all its picks, with at
most 0.6x the painted cutouts. The last lines say how many painted cutouts
each strategy needed to reach random order's final IoU. The defaults take
about 7 minutes on two busy CPU cores; the figures are noisy at that size
(compare the random runs with each other before reading a difference).
"""

from __future__ import annotations

import argparse
from itertools import pairwise
from pathlib import Path
import tempfile
import time

import numpy as np

from galseg import MaskStore
from galseg.agreement import mean_iou
from galseg.model import SHIPPED_CHECKPOINT, finetune, load_assistant
from galseg.rank import _unit, core_set_order
from galseg.simulate import simulate_galaxy

STRATEGIES = ("uncertainty", "diversity", "random")
POOL_SEED, TEST_SEED = 8_300_000, 8_400_000  # never trained on
HOLD_BACK_ONE = 1e-6  # a fraction that picks no cutout: finetune then holds back just one

Curve = list[tuple[int, float]]


def automatic_iou(assistant, cutouts, truths) -> float:
    """Automatic mode's mean IoU over the feature classes present, on held-out cutouts."""
    results = assistant.segment_many(cutouts)
    values = [f.value for f in assistant.taxonomy.feature_classes]
    scores = [
        score
        for result, truth in zip(results, truths, strict=True)
        for value in values
        if (score := mean_iou([(result.labels, truth)], value)) is not None
    ]
    return float(np.mean(scores)) if scores else 1.0


def pick(strategy: str, assistant, pool, painted: list[int], k: int, rng) -> list[int]:
    """The next ``k`` cutouts of ``pool`` not in ``painted``, by ``strategy``."""
    left = [i for i in range(len(pool)) if i not in painted]
    if strategy == "random":
        return [int(i) for i in rng.permutation(left)[:k]]
    results = assistant.segment_many([s.cutout for s in pool], embed=True)
    if strategy == "uncertainty":
        return sorted(left, key=lambda i: -results[i].uncertainty)[:k]
    vectors = _unit(np.stack([r.embedding for r in results]))
    order = core_set_order(vectors[left], vectors[painted])
    return [left[i] for i, _ in order[:k]]


def campaign(
    strategy: str, pool, test, start_iou: float, args, folder: Path, seed: int = 0
) -> Curve:
    """(painted cutouts, held-out IoU) before the first round and after each round."""
    rng = np.random.default_rng(seed)
    name = f"random-{seed}" if strategy == "random" else strategy
    store = MaskStore.open(folder / f"{name}.zarr", mode="w-")
    assistant = load_assistant(SHIPPED_CHECKPOINT, device="cpu")
    curve = [(0, start_iou)]
    painted: list[int] = []
    for round_ in range(1, args.rounds + 1):
        chosen = pick(strategy, assistant, pool, painted, args.k, rng)
        for i in chosen:  # the simulated expert paints the truth
            cutout_id = store.add_cutout(pool[i].cutout, copy_pixels=True)
            store.save_mask(cutout_id, pool[i].truth, "expert")
        painted += chosen
        out = folder / f"{name}-{round_}.safetensors"
        finetune(
            store,
            SHIPPED_CHECKPOINT,
            out,
            steps=args.steps,
            holdout=HOLD_BACK_ONE,
            force=True,
            device="cpu",
        )
        assistant = load_assistant(out, device="cpu")
        curve.append((len(painted), automatic_iou(assistant, *test)))
        picks = " ".join(map(str, chosen))
        print(f"  {name:<14} {len(painted):>3} painted  IoU {curve[-1][1]:.3f}  (picked {picks})")
    return curve


def needed(curve: Curve, target: float) -> float | None:
    """Painted cutouts at which ``curve`` first reaches ``target`` (linear between rounds).

    Examples
    --------
    >>> needed([(0, 0.1), (2, 0.3), (4, 0.5)], 0.4)
    3.0
    >>> needed([(0, 0.1), (2, 0.3)], 0.4) is None
    True
    """
    if curve[0][1] >= target:
        return 0.0
    for (n0, s0), (n1, s1) in pairwise(curve):
        if s1 >= target:  # s0 < target <= s1
            return n0 + (target - s0) / (s1 - s0) * (n1 - n0)
    return None


def plot(curves: dict[str, Curve], randoms: list[Curve], path: Path, title: str) -> None:
    """The strategies' curves, with each random run as a thin line behind random's mean."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    colour = {}
    for strategy, curve in curves.items():
        (line,) = ax.plot(*zip(*curve, strict=True), marker="o", label=strategy)
        colour[strategy] = line.get_color()
    for run in randoms if len(randoms) > 1 else []:
        ax.plot(*zip(*run, strict=True), color=colour["random"], alpha=0.3, lw=0.8)
    ax.set_xlabel("cutouts painted")
    ax.set_ylabel("automatic-mode IoU, held-out cutouts")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    print(f"plot: {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool", type=int, default=12, help="cutouts that can be picked")
    parser.add_argument("--test", type=int, default=6, help="held-out cutouts scored")
    parser.add_argument("--k", type=int, default=2, help="picks per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=12, help="fine-tuning steps per round")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=2, help="random orders, each seeded")
    parser.add_argument("--plot", type=Path, help="write the curves as a PNG")
    args = parser.parse_args()
    if args.k < 2 or min(args.rounds, args.repeats) < 1 or args.k * args.rounds > args.pool:
        parser.error(
            "needs k >= 2 (fine-tuning holds one back), rounds and repeats >= 1, "
            "and k x rounds <= pool"
        )
    import torch

    torch.set_num_threads(2)
    start = time.perf_counter()
    pool = [simulate_galaxy(POOL_SEED + i, "legacy", args.size) for i in range(args.pool)]
    held = [simulate_galaxy(TEST_SEED + i, "legacy", args.size) for i in range(args.test)]
    test = ([s.cutout for s in held], [s.truth for s in held])
    print(
        f"pool {args.pool}, held out {args.test}, {args.size} px legacy; {args.k} picks a "
        f"round, {args.rounds} rounds, {args.steps} fine-tuning steps each, "
        f"{args.repeats} random orders"
    )
    start_iou = automatic_iou(load_assistant(SHIPPED_CHECKPOINT, device="cpu"), *test)
    print(f"  shipped model: IoU {start_iou:.3f}")
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        curves = {s: campaign(s, pool, test, start_iou, args, folder) for s in STRATEGIES[:2]}
        randoms = [
            campaign("random", pool, test, start_iou, args, folder, seed)
            for seed in range(args.repeats)
        ]
    mean = np.mean([[iou for _, iou in run] for run in randoms], axis=0)
    curves["random"] = [(n, float(m)) for (n, _), m in zip(randoms[0], mean, strict=True)]
    print("\npainted  " + "  ".join(f"{s:>11}" for s in STRATEGIES) + "  random runs")
    for row, (n, _) in enumerate(curves["random"]):
        runs = " ".join(f"{run[row][1]:.3f}" for run in randoms)
        print(f"{n:>7}  " + "  ".join(f"{curves[s][row][1]:>11.3f}" for s in STRATEGIES), runs)
    n_random, target = curves["random"][-1]
    print(f"\nto reach random order's final IoU {target:.3f} ({n_random} painted):")
    for strategy in STRATEGIES[:2]:
        n = needed(curves[strategy], target)
        text = "not reached" if n is None else f"{n:.1f} painted, {n / n_random:.2f}x random's"
        print(f"  {strategy:<12} {text}  (goal: at most 0.60x)")
    print(f"{time.perf_counter() - start:.0f} s")
    if args.plot:
        title = (
            f"{args.pool} pool, {args.test} held out, {args.k} picks/round, "
            f"{args.steps} steps/fine-tune, {args.repeats} random orders"
        )
        plot(curves, randoms, args.plot, title)


if __name__ == "__main__":
    main()
