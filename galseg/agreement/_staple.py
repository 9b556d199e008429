"""STAPLE: the truth and each annotator's sensitivity and specificity, from their masks alone.

Warfield, Zou & Wells (2004), "Simultaneous truth and performance level
estimation (STAPLE)", IEEE TMI 23, 903. For one class, each annotator ``j``
is modelled by a sensitivity ``p_j`` (the chance they paint a pixel that is
of the class) and a specificity ``q_j`` (the chance they leave a pixel that
is not). Expectation-maximisation alternates between the probability ``W``
that each pixel is of the class given everyone's decisions (E step) and the
``p_j, q_j`` that best explain the decisions given ``W`` (M step). The prior
probability of the class is the mean of all decisions, held fixed, as in
ITK's implementation.

Annotators need not have painted every cutout: a cutout's pixels are
explained by those who painted it, and an annotator's ``p_j, q_j`` come from
the cutouts they painted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import GalsegError

__all__ = ["Staple", "staple"]

_EPSILON = 1e-6


@dataclass(frozen=True)
class Staple:
    """The result of :func:`staple` for one class.

    Attributes
    ----------
    probability : list of ndarray of float64
        Per cutout, the probability that each pixel is of the class.
    sensitivity, specificity : dict of str to float
        Each annotator's estimated chance of painting a pixel of the class,
        and of leaving a pixel that is not.
    prior : float
        The fixed prior probability of the class.
    iterations : int
        EM iterations run.
    """

    probability: list[np.ndarray]
    sensitivity: dict[str, float]
    specificity: dict[str, float]
    prior: float
    iterations: int


def staple(
    decisions: Sequence[Mapping[str, np.ndarray]],
    *,
    max_iterations: int = 100,
    tolerance: float = 1e-7,
) -> Staple:
    """Estimate the truth of one class, and each annotator's skill, from their masks.

    Parameters
    ----------
    decisions : sequence of mapping of str to ndarray of bool
        Per cutout, annotator name -> their mask of the class (any shape,
        the same for every annotator of a cutout).
    max_iterations : int
        Most EM iterations.
    tolerance : float
        Stop when no sensitivity or specificity moves by more than this.

    Returns
    -------
    Staple

    Raises
    ------
    GalsegError
        If there is no decision, or masks of one cutout differ in shape.

    Examples
    --------
    Three annotators on one 1-D "cutout": ``b`` paints one pixel too many,
    ``c`` misses one.

    >>> import numpy as np
    >>> truth = np.array([0, 0, 1, 1, 1, 1, 0, 0, 0, 0], bool)
    >>> wide, short = truth.copy(), truth.copy()
    >>> wide[6], short[5] = True, False
    >>> result = staple([{"a": truth, "b": wide, "c": short}])
    >>> (result.probability[0] > 0.5).astype(int).tolist()
    [0, 0, 1, 1, 1, 1, 0, 0, 0, 0]
    >>> result.sensitivity["c"] < result.sensitivity["a"], result.specificity["b"] < 1
    (True, True)
    """
    cutouts = [
        {who: np.asarray(mask, dtype=bool) for who, mask in cutout.items()}
        for cutout in decisions
        if cutout
    ]
    if not cutouts:
        raise GalsegError("STAPLE needs at least one annotator's mask")
    for cutout in cutouts:
        if len({mask.shape for mask in cutout.values()}) > 1:
            raise GalsegError(f"STAPLE: masks of one cutout differ in shape: {_shapes(cutout)}")
    names = sorted({who for cutout in cutouts for who in cutout})
    painted = sum(int(np.count_nonzero(m)) for cutout in cutouts for m in cutout.values())
    total = sum(m.size for cutout in cutouts for m in cutout.values())
    prior = float(np.clip(painted / total, _EPSILON, 1 - _EPSILON))
    sensitivity = dict.fromkeys(names, 0.99)
    specificity = dict.fromkeys(names, 0.99)
    iterations = 0
    while iterations < max_iterations:
        iterations += 1
        probability = [_expectation(c, sensitivity, specificity, prior) for c in cutouts]
        new_sensitivity, new_specificity = _maximisation(cutouts, probability, names)
        moved = max(
            max(abs(new_sensitivity[n] - sensitivity[n]) for n in names),
            max(abs(new_specificity[n] - specificity[n]) for n in names),
        )
        sensitivity, specificity = new_sensitivity, new_specificity
        if moved < tolerance:
            break
    probability = [_expectation(c, sensitivity, specificity, prior) for c in cutouts]
    return Staple(probability, sensitivity, specificity, prior, iterations)


def _expectation(
    cutout: Mapping[str, np.ndarray],
    sensitivity: Mapping[str, float],
    specificity: Mapping[str, float],
    prior: float,
) -> np.ndarray:
    """Probability that each pixel is of the class, given the cutout's decisions."""
    shape = next(iter(cutout.values())).shape
    log_in = np.full(shape, np.log(prior))
    log_out = np.full(shape, np.log1p(-prior))
    for who, mask in cutout.items():
        p = np.clip(sensitivity[who], _EPSILON, 1 - _EPSILON)
        q = np.clip(specificity[who], _EPSILON, 1 - _EPSILON)
        log_in += np.where(mask, np.log(p), np.log1p(-p))
        log_out += np.where(mask, np.log1p(-q), np.log(q))
    return 1.0 / (1.0 + np.exp(np.clip(log_out - log_in, -700, 700)))


def _maximisation(
    cutouts: Sequence[Mapping[str, np.ndarray]], probability: Sequence[np.ndarray], names: list[str]
) -> tuple[dict[str, float], dict[str, float]]:
    """Each annotator's sensitivity and specificity given the pixel probabilities."""
    hit = dict.fromkeys(names, 0.0)
    positive = dict.fromkeys(names, 0.0)
    kept = dict.fromkeys(names, 0.0)
    negative = dict.fromkeys(names, 0.0)
    for cutout, w in zip(cutouts, probability, strict=True):
        w_sum, not_w_sum = float(w.sum()), float((1 - w).sum())
        for who, mask in cutout.items():
            hit[who] += float(w[mask].sum())
            positive[who] += w_sum
            kept[who] += not_w_sum - float((1 - w[mask]).sum())
            negative[who] += not_w_sum
    sensitivity = {n: hit[n] / positive[n] if positive[n] > 0 else 1.0 for n in names}
    specificity = {n: kept[n] / negative[n] if negative[n] > 0 else 1.0 for n in names}
    return sensitivity, specificity


def _shapes(cutout: Mapping[str, np.ndarray]) -> str:
    return ", ".join(f"{who} {mask.shape}" for who, mask in sorted(cutout.items()))
