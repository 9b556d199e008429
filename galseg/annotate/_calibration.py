"""Calibration with known truth: simulated cutouts mixed into an expert's queue.

``galseg annotate --calibration N`` puts the first ``N`` calibration cutouts
among the expert's own, at places drawn once. They are simulated
(:func:`galseg.simulate.simulate_galaxy`), so their truth is known; it stays
in a truth store beside the working store and never reaches the annotator's
view. Their file names say nothing of what they are. The masks painted on
them measure each annotator's skill per class against that truth
(``galseg agreement STORE --truth CALIBRATION/truth.zarr`` shows it over
time), and where an annotator falls well below the others on a class,
:meth:`Calibration.feedback` gives a short hint with an example: another
simulated cutout with its truth.

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> folder = Path(tempfile.mkdtemp())
>>> calibration = Calibration.prepare(folder / "masks.zarr", 2, size=64)
>>> calibration.folder.name, len(calibration.files), len(calibration.ids)
('masks-calibration', 2, 2)
>>> [path.stem.startswith("sim") for path in calibration.files]
[False, False]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
import hashlib
import os
from pathlib import Path

import numpy as np

from ..agreement import annotated_cutouts, mean_iou
from ..cutout import Cutout
from ..discovery import QueueItem, find_cutouts
from ..errors import GalsegError
from ..store import MaskStore

__all__ = ["Calibration", "Feedback", "Hint", "Skill", "calibration_folder"]

CALIBRATION_SEED = 9_000_000
"""Simulator seed of the first calibration cutout (far from those trained on)."""

EXAMPLE_SEED = 9_500_000
"""First simulator seed tried for a hint's example cutout (never a calibration cutout)."""

HINT_MARGIN = 0.15
"""A class is hinted when the annotator's IoU against the truth is this far below the others'."""

_WIDE, _NARROW = 1.3, 0.7  # painted area over truth area beyond which a hint says why


def calibration_folder(store: str | os.PathLike) -> Path:
    """Where the calibration cutouts of a working store live: ``<store>-calibration`` beside it.

    Examples
    --------
    >>> calibration_folder("/data/masks.zarr").as_posix()
    '/data/masks-calibration'
    """
    store = Path(store)
    return store.parent / f"{store.stem}-calibration"


@dataclass(frozen=True)
class Skill:
    """How an annotator paints one class of the calibration cutouts, against the truth.

    Attributes
    ----------
    name : str
        The class.
    iou : float
        Mean IoU against the truth over the calibration cutouts where either
        the annotator's mask or the truth has the class.
    n_cutouts : int
        How many calibration cutouts the annotator painted.
    others : float or None
        The median of the other annotators' IoU on the class (None if no
        one else painted it).
    area_ratio : float
        The annotator's pixels of the class over the truth's, on those cutouts.
    """

    name: str
    iou: float
    n_cutouts: int
    others: float | None
    area_ratio: float


@dataclass(frozen=True, eq=False)
class Hint:
    """Advice on a class that an annotator paints well below the others.

    Attributes
    ----------
    name : str
        The class.
    message : str
        One or two sentences: the scores and what seems to go wrong.
    example : Cutout or None
        A simulated cutout with the class (not a calibration cutout).
    truth : ndarray of uint8 or None
        Its truth mask.
    """

    name: str
    message: str
    example: Cutout | None
    truth: np.ndarray | None


@dataclass(frozen=True)
class Feedback:
    """An annotator's skill per class on the calibration cutouts, and hints."""

    skills: tuple[Skill, ...]
    hints: tuple[Hint, ...]

    def text(self) -> str:
        """E.g. ``"tidal stream 0.62 (others 0.81), bar 0.90"``, or a line saying none yet."""
        if not self.skills:
            return "No calibration cutout painted yet."
        parts = [
            f"{s.name.replace('_', ' ')} {s.iou:.2f}"
            + ("" if s.others is None else f" (others {s.others:.2f})")
            for s in self.skills
        ]
        n = max(s.n_cutouts for s in self.skills)
        return f"Against the truth of {n} calibration cutout(s), IoU: " + ", ".join(parts)


@dataclass(frozen=True)
class Calibration:
    """Calibration cutouts of a working store and their truth.

    Make one with :meth:`prepare`.

    Attributes
    ----------
    folder : Path
        Where the cutouts and ``truth.zarr`` are.
    files : tuple of Path
        The cutouts' FITS files, in seed order.
    ids : frozenset of str
        Their cutout ids (content hashes: the same in the working store).
    """

    folder: Path
    files: tuple[Path, ...]
    ids: frozenset[str]

    @property
    def truth_path(self) -> Path:
        """The truth store (for ``galseg agreement --truth``)."""
        return self.folder / "truth.zarr"

    @classmethod
    def prepare(
        cls,
        store: str | os.PathLike,
        n: int,
        *,
        survey: str = "legacy",
        size: int = 128,
    ) -> Calibration:
        """The first ``n`` calibration cutouts of ``store``, simulated if not there yet.

        Every annotator of a store gets the same cutouts, so that their skills
        compare.

        Raises
        ------
        GalsegError
            If ``n`` is not positive, or the folder cannot be written.
        """
        from ..simulate import simulate_galaxy, write_simulation

        if n < 1:
            raise GalsegError(f"--calibration needs a positive number of cutouts, got {n}")
        folder = calibration_folder(store)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            truth = MaskStore.open(folder / "truth.zarr")
            files, ids = [], set()
            for seed in range(CALIBRATION_SEED, CALIBRATION_SEED + n):
                path = folder / f"{_neutral_name(seed)}.fits"
                cutout_id = _id_of(truth, path)
                if cutout_id is None:
                    sim = simulate_galaxy(seed, survey=survey, size=size)
                    write_simulation(truth, sim, path, layout="mef", overwrite=True)
                    cutout_id = _id_of(truth, path)
                files.append(path)
                ids.add(cutout_id)
        except OSError as exc:
            raise GalsegError(f"{folder}: cannot write the calibration cutouts ({exc})") from None
        return cls(folder, tuple(files), frozenset(ids))

    def mix(self, items: Sequence[QueueItem]) -> list[QueueItem]:
        """The queue with the calibration cutouts among ``items``, at places drawn once.

        The places depend only on the numbers of cutouts, so a queue reopened
        keeps its order.

        Examples
        --------
        >>> import tempfile
        >>> calibration = Calibration.prepare(Path(tempfile.mkdtemp()) / "m.zarr", 2, size=64)
        >>> mixed = calibration.mix(["a", "b", "c", "d"])  # QueueItems in use
        >>> len(mixed), [x for x in mixed if isinstance(x, str)]
        (6, ['a', 'b', 'c', 'd'])
        """
        extra = find_cutouts(list(self.files))
        total = len(items) + len(extra)
        rng = np.random.default_rng([CALIBRATION_SEED, len(items), len(extra)])
        places = set(rng.choice(total, size=len(extra), replace=False).tolist())
        own, mine = iter(items), iter(extra)
        return [next(mine) if i in places else next(own) for i in range(total)]

    def feedback(self, store: MaskStore, annotator: str) -> Feedback:
        """``annotator``'s skill per class on the calibration cutouts, and hints.

        A class is hinted when the annotator's IoU against the truth is
        :data:`HINT_MARGIN` or more below the median of the other annotators'
        (people only: :data:`galseg.agreement.HUMAN_PROVENANCES`).
        """
        truth = MaskStore.open(self.truth_path, mode="r")
        cutouts = [
            c for c in annotated_cutouts(store, truth=truth, ids=self.ids) if c.truth is not None
        ]
        mine = [c for c in cutouts if annotator in c.masks]
        others = sorted({who for c in cutouts for who in c.masks} - {annotator})
        skills, hints = [], []
        for feature in store.taxonomy.feature_classes:
            value = feature.value
            score = mean_iou([(c.masks[annotator], c.truth) for c in mine], value)
            if score is None:
                continue
            theirs = [
                s
                for who in others
                if (
                    s := mean_iou(
                        [(c.masks[who], c.truth) for c in cutouts if who in c.masks], value
                    )
                )
                is not None
            ]
            truth_area = sum(int((c.truth == value).sum()) for c in mine)
            painted = sum(int((c.masks[annotator] == value).sum()) for c in mine)
            skill = Skill(
                feature.name,
                score,
                len(mine),
                float(np.median(theirs)) if theirs else None,
                painted / max(truth_area, 1),
            )
            skills.append(skill)
            if skill.others is not None and skill.iou <= skill.others - HINT_MARGIN:
                hints.append(_hint(skill, value))
        return Feedback(tuple(skills), tuple(hints))


def _hint(skill: Skill, value: int) -> Hint:
    name = skill.name.replace("_", " ")
    if skill.area_ratio > _WIDE:
        why = f"you paint {skill.area_ratio:.1f}x the truth's area: keep to where its light shows"
    elif skill.area_ratio < _NARROW:
        why = (
            f"you paint {skill.area_ratio:.0%} of the truth's area: follow each {name} "
            "to where its light fades"
        )
    else:
        why = "your masks cover other pixels than the truth's"
    message = (
        f"{name}: your masks overlap the truth by IoU {skill.iou:.2f}, the others' by "
        f"{skill.others:.2f}; {why}. See an example with its truth."
    )
    example = _example(value)
    return Hint(skill.name, message, *(example or (None, None)))


@lru_cache(maxsize=8)
def _example(value: int, tries: int = 40) -> tuple[Cutout, np.ndarray] | None:
    """A simulated cutout whose truth shows class ``value`` well (not a calibration cutout)."""
    from ..simulate import simulate_galaxy

    for seed in range(EXAMPLE_SEED + 1000 * value, EXAMPLE_SEED + 1000 * value + tries):
        sim = simulate_galaxy(seed, survey="legacy", size=128)
        if (sim.truth == value).sum() >= 100:
            return sim.cutout, sim.truth
    return None


def _id_of(truth: MaskStore, path: Path) -> str | None:
    """The id of the cutout read from ``path`` in the truth store, if there."""
    found = [cid for cid in truth.ids() if path.resolve() in truth.source_paths(cid)]
    return found[-1] if found else None


def _neutral_name(seed: int) -> str:
    """A file name that says nothing of what the cutout is."""
    return "c" + hashlib.sha256(f"galseg calibration {seed}".encode()).hexdigest()[:10]
